"""The string output visitor differential: values set on qemu-system, printed by HMP.

fixtures/string-output/cases.json groups cases in batches, one process each.
A case says how to give an object a value (command-line arguments, or qom-set
for a memory backend's host-nodes), the value QEMU's getter hands the visitor
and where HMP prints it:
  qtree   - `info qtree`: "<indent>PROP = TEXT", human mode
  memdev  - `info memdev`: "  host nodes: TEXT", plain mode (a uint16 list)
  network - `info network`: a filter's ",PROP=TEXT" items, plain mode
The oracle (reference.qapi.string_output_visitor) predicts TEXT; the harness
finds what the binary printed there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.errors import QconformError
from conformance.hmp import HmpSession, SystemTarget
from conformance.jsonfile import read_validated_json
from reference.qapi.string_output_visitor import StringOutputAbort, format_value, parse_spec

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "fixtures" / "string-output" / "cases.json"
SCHEMA = REPO / "fixtures" / "string-output" / "cases.schema.json"

# Which HMP command prints each source, and in which mode its visitor runs.
COMMANDS = {"qtree": "info qtree", "memdev": "info memdev", "network": "info network"}
HUMAN = {"qtree": True, "memdev": False, "network": False}


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    type: str
    value: Any
    args: tuple[str, ...] = ()
    set: tuple[int, ...] | None = None
    device: str | None = None
    device_type: str | None = None
    memdev: str | None = None
    filter: str | None = None
    property: str | None = None

    def predict(self) -> str:
        """The line (qtree, memdev) or item (network) the oracle expects."""
        try:
            text = format_value(parse_spec(self.type), self.value, human=HUMAN[self.source])
        except StringOutputAbort as why:
            return f"<abort: {why}>"
        if self.source == "qtree":
            return f"{self.property} = {text}"
        if self.source == "memdev":
            return f"  host nodes: {text}"
        return f"{self.property}={text}"


@dataclass(frozen=True)
class Batch:
    id: str
    machine: str
    args: tuple[str, ...]
    cases: tuple[Case, ...]

    def argv(self) -> list[str]:
        return [*self.args, *(arg for case in self.cases for arg in case.args)]


def load(path: Path = CASES) -> list[Batch]:
    data = read_validated_json(path, SCHEMA)
    batches = []
    seen: set[str] = set()
    for raw in data["batches"]:
        cases = []
        for item in raw["cases"]:
            if item["id"] in seen:
                raise QconformError(f"{path}: case id {item['id']!r} appears twice")
            seen.add(item["id"])
            try:
                parse_spec(item["type"])
            except ValueError as err:
                raise QconformError(f"{path}: case {item['id']}: {err}") from None
            cases.append(
                Case(
                    id=item["id"],
                    source=item["source"],
                    type=item["type"],
                    value=item["value"],
                    args=tuple(item.get("args", ())),
                    set=tuple(item["set"]) if "set" in item else None,
                    device=item.get("device"),
                    device_type=item.get("device-type"),
                    memdev=item.get("memdev"),
                    filter=item.get("filter"),
                    property=item.get("property"),
                )
            )
        batches.append(Batch(raw["id"], raw["machine"], tuple(raw.get("args", ())), tuple(cases)))
    return batches


# -- finding what HMP printed -------------------------------------------------


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def qtree_line(lines: Sequence[str], case: Case) -> str | None:
    """The first "PROP = ..." line in the device's block (its child buses included)."""
    if case.device is not None:
        header = re.compile(rf'^ *dev: [^,]+, id "{re.escape(case.device)}"$')
    else:
        header = re.compile(rf'^ *dev: {re.escape(case.device_type or "")}, id ""$')
    for start, line in enumerate(lines):
        if header.match(line):
            depth = _indent(line)
            for inner in lines[start + 1 :]:
                if inner.strip() and _indent(inner) <= depth:
                    break
                if inner.lstrip(" ").startswith(f"{case.property} = "):
                    return inner.lstrip(" ")
            return None
    return None


def memdev_line(lines: Sequence[str], case: Case) -> str | None:
    inside = False
    for line in lines:
        if line.startswith("memory backend: "):
            inside = line == f"memory backend: {case.memdev}"
        elif inside and line.startswith("  host nodes: "):
            return line
    return None


def network_item(lines: Sequence[str], case: Case) -> str | None:
    """PROP=VALUE from the filter's line; VALUE runs up to the next ",NAME=" or the end."""
    for line in lines:
        if line.startswith(f"  - {case.filter}: type="):
            match = re.search(rf",{re.escape(case.property or '')}=(.*?)(?=,[a-z_-]+=|$)", line)
            return None if match is None else f"{case.property}={match.group(1)}"
    return None


FINDERS = {"qtree": qtree_line, "memdev": memdev_line, "network": network_item}


@dataclass(frozen=True)
class Outcome:
    case: Case
    expected: str
    observed: str | None

    @property
    def agrees(self) -> bool:
        return self.expected == self.observed


def run_batch(binary: str | SystemTarget, batch: Batch) -> list[Outcome]:
    """Start one qemu-system for the batch, print each source once, judge every case."""
    with HmpSession(binary, batch.machine, batch.argv(), name=f"qemu-system-{batch.id}") as session:
        for case in batch.cases:
            if case.set is not None:
                path = f"/objects/{case.memdev}"
                session.execute("qom-set", {"path": path, "property": "host-nodes", "value": list(case.set)})
        memdevs = {m["id"]: m for m in session.execute("query-memdev") or [] if "id" in m}
        for case in batch.cases:
            # The getter reads a bitmap: the fixture's value must be what QEMU hands the visitor.
            if case.source == "memdev" and memdevs.get(case.memdev, {}).get("host-nodes") != case.value:
                raise QconformError(
                    f"case {case.id}: query-memdev says host-nodes "
                    f"{memdevs.get(case.memdev, {}).get('host-nodes')}, the fixture {case.value}"
                )
        printed = {source: session.hmp(COMMANDS[source]) for source in _sources(batch.cases)}
        outcomes = [
            Outcome(case, case.predict(), FINDERS[case.source](printed[case.source], case))
            for case in batch.cases
        ]
        crash = session.crash_report()
        if crash is not None:
            raise QconformError(crash)
    return outcomes


def _sources(cases: Iterable[Case]) -> list[str]:
    return sorted({case.source for case in cases})
