"""The seed's cells given on the command line instead of over QMP.

qemu-storage-daemon --blockdev and qemu-system-x86_64 -blockdev take the
same options as blockdev-add (keyval); -drive if=none has its own defaults
(auto-read-only=on, nodes QEMU names itself, a BlockBackend "none0"). A node
that opens is then read back with query-named-block-nodes (and, for -drive,
query-block for the BlockBackend); a refused option is an exit status and a
line on stderr, both predicted by reference/block/drive.py. On a node that
opened, the oracle is told which names QEMU made up; on qemu-system the cell
then reads HMP `info block -n` (what iotest 232 checks) and `info block` (the
BlockBackends) to the letter, and goes through the seed's steps over QMP
(export rw and ro, reopen rw and ro, blockdev-del). qsd has no HMP: its HMP
columns say "not applicable".
"""

from __future__ import annotations

import contextlib
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.block.command_line import CommandLineInstance, Exited, argv_for, start
from conformance.block.records import (
    HMP_STEPS,
    NOT_APPLICABLE,
    STEP_COLUMNS,
    STORAGE_SETUP,
    CellRecord,
    cell_id,
    opened,
    status_of,
)
from conformance.block.seed_table import Cell, columns, nbd_socket, step_outcome, try_steps
from conformance.block.session import Session, Step
from conformance.block.views import StorageView
from conformance.implementations import Implementation
from conformance.runner import CRASH, PASS
from conformance.snapshots import model_from_file
from reference.block.drive import (
    AUTO_NODE_NAME,
    EXIT_STATUS,
    adopt_names,
    command_line_error,
    open_blockdev,
    open_drive,
    parse_drive,
)
from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.profiles import Flavour

ROOT = "n0"
REPRODUCER_SOCKET = Path("/tmp/qmp.sock")  # the run's own socket lives in a folder gone by now
STEPS = STEP_COLUMNS["front-ends"]


def front_ends(impl: Implementation) -> tuple[str, ...]:
    return ("--blockdev",) if impl.flavour is Flavour.STORAGE_DAEMON else ("-blockdev", "-drive")


def option_value(cell: Cell, front_end: str, path: str) -> str:
    flags = {"read-only": cell.read_only, "auto-read-only": cell.auto_read_only}
    if front_end == "-drive":
        if cell.driver == "file":
            parts = ["if=none", "driver=file", f"filename={path}"]
        else:
            parts = ["if=none", f"file={path}", f"format={cell.driver}"]
    else:
        parts = [f"{key}={value}" for key, value in _flatten(cell.arguments(ROOT, path)) if key not in flags]
    parts += [f"{key}={'on' if value else 'off'}" for key, value in flags.items() if value is not None]
    return ",".join(parts)


def _flatten(args: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in args.items():
        if isinstance(value, dict):
            out += _flatten(value, f"{prefix}{key}.")
        else:
            out.append((prefix + key, value))
    return out


@dataclass(frozen=True)
class Prediction:
    error: str | None = None  # the stderr line
    ro: bool | None = None  # the root node's "ro"
    backend: str | None = None  # -drive: the BlockBackend's name
    abstained: str | None = None

    def summary(self, asked_read_only: bool | None) -> str:
        if self.abstained is not None:
            return f"not modelled: {self.abstained}"
        if self.error is not None:
            return f"exit {EXIT_STATUS}: {self.error}"
        return opened(self.ro, asked_read_only)


def apply(graph: BlockGraph, front_end: str, value: str) -> tuple[bool, str | None]:
    """The option's effect on the oracle's graph: (root read-only, -drive's backend name)."""
    if front_end == "-drive":
        drive = parse_drive(value)
        return open_drive(graph, drive).read_only, drive.backend
    open_blockdev(graph, value)
    node = graph.find(ROOT)
    assert node is not None
    return node.read_only, None


def predict(impl: Implementation, view: StorageView, front_end: str, value: str) -> Prediction:
    model = model_from_file(impl.snapshot_path, impl.profile, exact_identity=False)
    graph = model.attach_storage(view.facts)
    try:
        ro, backend = apply(graph, front_end, value)
    except BlockError as err:
        assert impl.binary is not None
        return Prediction(error=command_line_error(impl.binary, front_end, value, err.desc))
    except NotModelled as err:
        return Prediction(abstained=err.reason)
    return Prediction(ro=ro, backend=backend)


def _replay(front_end: str, value: str) -> Any:
    def prepare(graph: BlockGraph) -> None:
        with contextlib.suppress(BlockError, NotModelled):  # predicted an exit: an empty graph
            apply(graph, front_end, value)

    return prepare


def run_cell(impl: Implementation, view: StorageView, cell: Cell, front_end: str) -> CellRecord:
    value = option_value(cell, front_end, view.paths[cell.image])
    expected = predict(impl, view, front_end, value)
    argv = argv_for(impl, REPRODUCER_SOCKET, [front_end, value], view.uid)
    columns_ = columns(cell, front_end)
    setup = f"# storage {cell.storage}: {STORAGE_SETUP[cell.storage]}; then run:"
    ident = cell_id("front-ends", columns_)
    predicted = expected.summary(cell.read_only)
    record = CellRecord("front-ends", ident, impl.name, impl.version, columns_, predicted, "", PASS)
    record.reproducer = [setup, shlex.join(argv)]
    started = start(impl, [front_end, value], view.uid)
    if isinstance(started, Exited):
        return _judge_exit(record, expected, started)
    return _judge_running(record, expected, impl, view, started, cell, front_end, value)


def _judge_exit(record: CellRecord, expected: Prediction, ended: Exited) -> CellRecord:
    record.observed = f"exit {ended.code}: {ended.stderr}"
    if ended.crash is not None:
        record.status, record.detail = CRASH, ended.crash
        return record
    agrees = expected.error is not None and ended.code == EXIT_STATUS and ended.stderr == expected.error
    record.status = status_of(agrees)
    if not agrees:
        record.detail = f"expected {record.predicted!r}, observed {record.observed!r}"
    return record


def _judge_running(
    record: CellRecord,
    expected: Prediction,
    impl: Implementation,
    view: StorageView,
    instance: CommandLineInstance,
    cell: Cell,
    front_end: str,
    value: str,
) -> CellRecord:
    try:
        session = Session(impl, view.facts, _replay(front_end, value), lambda: instance)
    except (AssertionError, OSError) as err:
        ended = instance.exited()
        instance.stop()
        if ended is not None:  # it refused the option after its monitor listened
            return _judge_exit(record, expected, ended)
        record.status, record.observed, record.detail = CRASH, "no monitor", str(err)
        return record
    checks: list[Step] = []
    try:
        query = session.run({"execute": "query-named-block-nodes"})
        nodes = query.reply.get("return", [])
        blocks = session.ask({"execute": "query-block"}).get("return", []) if front_end == "-drive" else []
        root_name = ROOT if front_end != "-drive" else _inserted(blocks)
        root = next((n for n in nodes if n.get("node-name") == root_name), None)
        if root is not None and expected.abstained is None:
            steps = _steps(session, view, cell, root["node-name"], nodes, checks, front_end)
            record.steps = {label: step_outcome(steps.get(label)) for label in STEPS}
            if front_end == "--blockdev":
                record.steps.update(dict.fromkeys(HMP_STEPS, NOT_APPLICABLE))
            checks += steps.values()
    finally:
        session.close()
    record.observed = opened(None if root is None else root["ro"], _asked(record))
    wrong = _name_problems(nodes, front_end)
    if front_end == "-drive":
        backends = [b.get("device") for b in blocks]
        if backends != [expected.backend]:
            wrong.append(f"BlockBackends {backends}, expected [{expected.backend!r}]")
        record.observed += f", BlockBackend {', '.join(map(str, backends))}"
    bad = [step for step in checks if not step.agrees]
    agrees = expected.error is None and expected.abstained is None and query.agrees and not wrong and not bad
    if expected.backend is not None:
        record.predicted += f", BlockBackend {expected.backend}"
    record.status = status_of(agrees)
    if not agrees:
        record.detail = "\n".join([*wrong, *([] if query.agrees else [query.describe()])])
        record.detail += "".join("\n" + step.describe() for step in bad)
    record.reproducer += [f"# then over QMP: {line}" for line in session.sent]
    return record


def _steps(
    session: Session, view: StorageView, cell: Cell, root: str, nodes: list[dict[str, Any]],
    checks: list[Step], front_end: str,
) -> dict[str, Step]:  # fmt: skip
    """HMP info block and the seed's steps on the command line's root node; the oracle learns QEMU's
    own names first (the HMP text prints them)."""
    observed = [str(n["node-name"]) for n in nodes if n["node-name"] != root]
    graph = session.graph
    oracle_root = next((n for n in graph.nodes if n.monitor_owned or n.backend is not None), None)
    others = [n.name for n in graph.nodes if n is not oracle_root and n.auto_named]
    names = dict(zip(others, observed, strict=False)) if len(others) == len(observed) else {}
    if oracle_root is not None and oracle_root.auto_named:
        names[oracle_root.name] = root
    adopt_names(graph, names)
    child = observed[0] if observed else None
    path = view.paths[cell.image]

    def reopen(read_only: bool) -> dict[str, Any]:
        entry = cell.reopen(root, path, read_only)
        if child is not None:
            entry["file"] = child
        return entry

    hmp = {} if front_end == "--blockdev" else {line: _hmp(session, line) for line in HMP_STEPS}
    address = {"type": "unix", "data": {"path": nbd_socket(view.paths)}}
    checks.append(session.run({"execute": "nbd-server-start", "arguments": {"addr": address}}))
    return {**hmp, **try_steps(session, root, "e0", reopen, checks)}


def _hmp(session: Session, line: str) -> Step:
    return session.run({"execute": "human-monitor-command", "arguments": {"command-line": line}})


def _asked(record: CellRecord) -> bool | None:
    return {"on": True, "off": False}.get(record.cell["read-only"])


def _inserted(blocks: list[dict[str, Any]]) -> str | None:
    return next((b["inserted"].get("node-name") for b in blocks if "inserted" in b), None)


def _name_problems(nodes: list[dict[str, Any]], front_end: str) -> list[str]:
    """Names QEMU made up must follow its rule; on -drive every node's name is made up."""
    problems = []
    for node in nodes:
        name = str(node.get("node-name"))
        made_up = front_end == "-drive" or name != ROOT
        if made_up and AUTO_NODE_NAME.fullmatch(name) is None:
            problems.append(f"node name {name!r} does not follow QEMU's rule {AUTO_NODE_NAME.pattern}")
    return problems
