"""What qemu-system-x86_64 7.2 (`-M none -nodefaults -S`) prints for one QemuOpts option.

`-numa ARG`, `-netdev ARG` (key=value form) and `-acpitable ARG` are parsed as
QemuOpts, then read by the opts visitor; the first error ends QEMU with status
1 and "qemu-system-x86_64: -OPTION ARG: MESSAGE" (hint lines follow bare;
warnings share the prefix). A visit that succeeds is seen through a fixed
later error that needs it:

- `-numa` on machine none: "NUMA is not supported by this machine-type";
- `-netdev`: QEMU creates netdevs before it reads -numa, so the harness adds
  `-numa node` and that option's error proves the netdev was created. Only
  hubport (a port on an internal hub) and backends this build lacks are
  predicted past the visit: any other backend would really be created;
- `-acpitable` without data= or file=: "'-acpitable' requires one of 'data'
  or 'file'" (with either, QEMU reads files: not predicted).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reference.profiles import Profile
from reference.qapi.input_visitor import VisitAbstains, VisitError
from reference.qapi.introspection import Member, Schema, TypeInfo, load_schema
from reference.qapi.opts_visitor import OptsVisit, OptsVisitor
from reference.qapi.qemu_opts import OptsParseAbstains, OptsParseError, parse_opts

PROGRAM = "qemu-system-x86_64"
SNAPSHOT = Path(__file__).resolve().parents[2] / "fixtures" / "introspection" / "qemu-system-7.2.json"
NUMA_UNSUPPORTED = "NUMA is not supported by this machine-type"
NETDEV_WITNESS = ("-numa", "node")  # appended after -netdev: its error proves the netdev was created
ACPI_NEEDS_DATA = "'-acpitable' requires one of 'data' or 'file'"
ACPI_TYPE = "qconform:AcpiTableOptions"

# The C types behind introspection's "int", from QEMU 7.2's qapi/{machine,net,acpi}.json:
# (union case, member) -> type; "" matches any case.
INT_KINDS: dict[str, dict[tuple[str, str], str]] = {
    "-numa": {
        ("node", "nodeid"): "uint16",
        ("node", "cpus"): "uint16",
        ("node", "mem"): "size",
        ("node", "initiator"): "uint16",
        ("dist", "src"): "uint16",
        ("dist", "dst"): "uint16",
        ("dist", "val"): "uint8",
        **{
            ("cpu", m): "int64"
            for m in ("node-id", "socket-id", "die-id", "cluster-id", "core-id", "thread-id")
        },
        ("hmat-lb", "initiator"): "uint16",
        ("hmat-lb", "target"): "uint16",
        ("hmat-lb", "latency"): "uint64",
        ("hmat-lb", "bandwidth"): "size",
        ("hmat-cache", "node-id"): "uint32",
        ("hmat-cache", "size"): "size",
        ("hmat-cache", "level"): "uint8",
        ("hmat-cache", "line"): "uint16",
    },
    "-netdev": {
        ("hubport", "hubid"): "int32",
        ("user", "ipv6-prefixlen"): "int64",
    },
    "-acpitable": {
        ("", "rev"): "uint8",
        ("", "oem_rev"): "uint32",
        ("", "asl_compiler_rev"): "uint32",
    },
}
IMPLIED_KEYS = {"-numa": "type", "-netdev": "type", "-acpitable": "data"}
# Legacy -netdev hands these to the keyval parser (netdev_is_modern()).
MODERN_NETDEV_TYPES = ("stream", "dgram")
# Backends net_client_init1() refuses after the visit: not a backend, or not built.
NETDEV_NOT_BUILT = ("none", "nic")
ACPI_MEMBERS = (
    ("sig", "str"), ("rev", "int"), ("oem_id", "str"), ("oem_table_id", "str"), ("oem_rev", "int"),
    ("asl_compiler_id", "str"), ("asl_compiler_rev", "int"), ("file", "str"), ("data", "str"),
)  # fmt: skip


class Abstain(Exception):
    pass


@dataclass(frozen=True)
class OptionOutcome:
    """Every stderr QEMU may print (lines, without terminators); several when hash order decides."""

    stderr: frozenset[tuple[str, ...]]
    stage: str  # parse | visit | witness | after-visit


@cache
def system_schema() -> Schema:
    schema = load_schema(json.loads(SNAPSHOT.read_text(encoding="utf-8"))["query-qmp-schema"])
    members = tuple(Member(name, type_name, True) for name, type_name in ACPI_MEMBERS)
    schema.types[ACPI_TYPE] = TypeInfo(ACPI_TYPE, "object", members=members)
    return schema


def option_type(option: str) -> str:
    schema = system_schema()
    if option == "-numa":
        return schema.commands["set-numa-node"].arg_type
    if option == "-netdev":
        return schema.commands["netdev_add"].arg_type
    if option == "-acpitable":
        return ACPI_TYPE
    raise Abstain(f"option {option} is not modelled")


def argv(option: str, argument: str) -> list[str]:
    """The options under test as passed after `-M none -nodefaults -S -display none`."""
    extra = list(NETDEV_WITNESS) if option == "-netdev" else []
    return [option, argument, *extra]


def _line(option: str, argument: str, message: str) -> str:
    return f"{PROGRAM}: {option} {argument}: {message}"


def _report(option: str, argument: str, message: str, hint: str = "") -> tuple[str, ...]:
    return (_line(option, argument, message), *hint.splitlines())


def _warning_lines(option: str, argument: str, warnings: list[str] | tuple[str, ...]) -> list[str]:
    # "Please use ..." follows its warning bare (error_printf); the rest carry the prefix.
    return [w if w.startswith("Please use ") else _line(option, argument, w) for w in warnings]


def predict_option(option: str, argument: str, profile: Profile) -> OptionOutcome:
    """QEMU's stderr for `option argument` (plus the -netdev witness); Abstain where not modelled."""
    type_name = option_type(option)
    if option == "-netdev" and (argument.startswith("{") or _netdev_type(argument) in MODERN_NETDEV_TYPES):
        raise Abstain("this -netdev goes to the keyval parser")
    try:
        opts = parse_opts(argument, IMPLIED_KEYS[option])
    except OptsParseError as err:
        return OptionOutcome(frozenset({_report(option, argument, err.message, err.hint)}), "parse")
    except OptsParseAbstains as err:
        raise Abstain(str(err)) from None
    before = _warning_lines(option, argument, opts.warnings)
    visitor = OptsVisitor(system_schema(), profile, INT_KINDS[option])
    try:
        visit = visitor.visit(type_name, opts)
    except VisitError as err:
        before += _warning_lines(option, argument, visitor.warnings)
        return OptionOutcome(
            frozenset((*before, *_report(option, argument, message)) for message in err.messages), "visit"
        )
    except VisitAbstains as err:
        raise Abstain(err.reason) from None
    lines = [*before, *_warning_lines(option, argument, visit.warnings)]
    message, stage = _after_visit(option, visit)
    if option == "-numa" and visit.values.get("type") == "node" and "mem" in visit.values:
        # The legacy suffix-less fix-up parses mem again (qemu_strtosz_MiB): its warning repeats.
        lines += _warning_lines(option, argument, visit.warnings)
    if stage == "witness" and option == "-netdev":
        lines.append(_line(*NETDEV_WITNESS, message))
    else:
        lines.append(_line(option, argument, message))
    return OptionOutcome(frozenset({tuple(lines)}), stage)


def _netdev_type(argument: str) -> str | None:
    """netdev_is_modern()'s look at the type: a quiet QemuOpts parse."""
    try:
        opts = parse_opts(argument, "type")
    except (OptsParseError, OptsParseAbstains):
        return None
    types = [value for name, value in opts.pairs if name == "type"]
    return types[-1] if types else None


def _after_visit(option: str, visit: OptsVisit) -> tuple[str, str]:
    values = visit.values
    if option == "-numa":
        return NUMA_UNSUPPORTED, "witness"
    if option == "-acpitable":
        if ("file" in values) != ("data" in values):
            raise Abstain("an -acpitable with data= or file= reads files")
        return ACPI_NEEDS_DATA, "witness"
    kind = values.get("type")
    if kind in NETDEV_NOT_BUILT:
        return f"network backend '{kind}' is not compiled into this binary", "after-visit"
    if kind != "hubport":
        raise Abstain(f"a valid -netdev {kind} would create the backend")
    if "netdev" in values:
        return f"netdev '{values['netdev']}' not found", "after-visit"
    return NUMA_UNSUPPORTED, "witness"
