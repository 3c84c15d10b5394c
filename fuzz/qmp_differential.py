"""Fuzz target: the same bytes into the oracle and a live QEMU, their answers compared.

Each input is sent on a fresh QMP connection (after negotiation, then the
resynchronisation byte 0xFF and the harness's sync line). A disagreement or a
crash is a finding: its input and a JSON record (expected, observed, detail)
go to the findings folder, once per kind of disagreement, and the campaign
goes on with a fresh process where one died. Inputs the oracle abstains on
are skipped.

Fuzzed input can ask QEMU to open files or connect anywhere, so only isolated
backends are accepted: a container (no network, its own file system) or the
host binary in an empty network namespace (QCONFORM_NETNS=1).

    QCONFORM_FUZZ_IMPL=qsd@bookworm QCONFORM_FUZZ_FINDINGS=DIR \\
        python -m fuzz.qmp_differential [libFuzzer options] [CORPUS_DIR ...]
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

if __name__ == "__main__":
    import atheris

    with atheris.instrument_imports(include=["reference"]):
        import reference.qmp.monitor
        import reference.qmp.snapshot  # noqa: F401

from conformance.cases import QmpCase
from conformance.errors import QconformError
from conformance.implementations import Implementation, discover, select
from conformance.runner import PASS, SKIP, InstancePool, Result, run_case

ISOLATED_BACKENDS = ("container", "netns")
RESYNC = b"\xff\n"
_NUMBERS = re.compile(r"\d+")


def choose_implementation(name: str) -> Implementation:
    found, missing = discover()
    impl = select([name], found, missing, strict=True)[0]
    if impl.backend not in ISOLATED_BACKENDS:
        raise QconformError(
            f"{name} runs on the {impl.backend} backend: fuzzed input could make it open files or "
            "connect anywhere; use a container implementation (e.g. qsd@bookworm) or QCONFORM_NETNS=1"
        )
    return impl


def case_for(data: bytes) -> QmpCase:
    return QmpCase(
        id="fuzz-differential",
        description="fuzzed input",
        group="fuzz",
        source="fuzz.qmp_differential",
        segments=(data, RESYNC),
    )


def signature(result: Result) -> str:
    """What makes two findings the same: the status and the detail without its numbers."""
    return hashlib.sha1(f"{result.status}:{_NUMBERS.sub('N', result.detail)}".encode()).hexdigest()[:12]


@dataclass
class Differential:
    impl: Implementation
    findings: Path
    pool: InstancePool = field(default_factory=InstancePool)
    seen: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.findings.mkdir(parents=True, exist_ok=True)
        self.seen.update(p.stem for p in self.findings.glob("*.json"))

    def one_input(self, data: bytes) -> Result:
        case = case_for(data)
        try:
            result = run_case(case, self.impl, self.pool)
        except Exception as err:  # a harness bug: keep the input, go on
            result = Result(case.id, case.group, self.impl.name, self.impl.version, "harness-error")
            result.detail = f"{type(err).__name__}: {err}"
            self.pool.discard(self.impl)
        self.counts[result.status] = self.counts.get(result.status, 0) + 1
        if result.status not in (PASS, SKIP):
            self.record(data, result)
        return result

    def record(self, data: bytes, result: Result) -> None:
        name = f"{result.status}-{signature(result)}"
        if name in self.seen:
            return
        self.seen.add(name)
        (self.findings / f"{name}.bin").write_bytes(data)
        record = {"implementation": self.impl.name, "version": self.impl.version, **result.to_json()}
        (self.findings / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        print(f"fuzz: finding {name}: {result.detail[:200]}", file=sys.stderr)

    def close(self) -> None:
        self.pool.close()


def main(argv: list[str]) -> int:
    import atheris

    try:
        impl = choose_implementation(os.environ.get("QCONFORM_FUZZ_IMPL", "qsd@bookworm"))
    except QconformError as err:
        print(f"fuzz: {err}", file=sys.stderr)
        return 2
    differential = Differential(impl, Path(os.environ.get("QCONFORM_FUZZ_FINDINGS", "findings")))

    def test_one_input(data: bytes) -> None:
        differential.one_input(data)

    atheris.Setup(argv, test_one_input)
    try:
        atheris.Fuzz()
    finally:
        differential.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
