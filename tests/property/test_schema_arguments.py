"""Schema-driven differential testing: generated arguments for every command.

For each command of the implementation's schema, hypothesis draws batches of
argument objects (mostly broken ones, see conformance.generate); the oracle
decides what may be sent, predicts the replies, and one connection per batch
carries them to the implementation. Commands are split into chunks so xdist
can spread them; a finding in one command does not stop the others.

QCONFORM_COVERAGE=FILE (or =1 for results/schema-coverage.json) merges the
per-command counts (generated, sent, agreed, abstained, withheld) into FILE.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.generate import (
    ABSTAIN,
    SEND,
    ArgumentGenerator,
    CommandCoverage,
    Generated,
    abstain_kind,
    request_case,
    verdict,
)
from conformance.implementations import Implementation
from conformance.pytest_plugin import check_result
from conformance.runner import PASS, SKIP, InstancePool, run_case
from conformance.snapshots import model_from_file
from reference.qapi.introspection import Schema

pytestmark = pytest.mark.slow

CHUNKS = 6
REPO = Path(__file__).resolve().parents[2]


def examples_per_command() -> int:
    # The ci profile's 60 examples would be 60 per command; scale with the profile instead.
    return max(3, settings().max_examples // 20)


@pytest.fixture(scope="module")
def pool() -> Iterator[InstancePool]:
    instances = InstancePool()
    yield instances
    instances.close()


def schema_of(impl: Implementation) -> Schema:
    return model_from_file(impl.snapshot_path, impl.profile, exact_identity=impl.exact_identity).schema


def exercise(
    impl: Implementation, pool: InstancePool, generator: ArgumentGenerator, command: str, cov: CommandCoverage
) -> None:
    schema = generator.schema

    @settings(max_examples=examples_per_command())
    @given(
        first=generator.arguments(command, valid=False),
        more=st.lists(generator.arguments(command), max_size=3),
    )
    def run(first: Generated, more: list[Generated]) -> None:
        batch = [first, *more]  # one broken request at least: every command gets a case
        sendable = []
        for generated in batch:
            cov.generated += 1
            decision = verdict(schema, impl.profile, generated)
            if decision.action == SEND:
                sendable.append(generated)
            elif decision.action == ABSTAIN:
                cov.abstained += 1
                kind = abstain_kind(decision.reason)
                cov.reasons[kind] = cov.reasons.get(kind, 0) + 1
            else:
                cov.withheld += 1
        if not sendable:
            return
        result = run_case(request_case(sendable, name=f"schema-arguments:{command}"), impl, pool)
        if result.status == SKIP:  # the oracle abstained on the whole conversation
            cov.abstained += len(sendable)
            return
        cov.sent += len(sendable)
        if result.status == PASS:
            cov.agreed += len(sendable)
        check_result(result)

    run()


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_schema_arguments(implementation: Implementation, pool: InstancePool, chunk: int) -> None:
    generator = ArgumentGenerator(schema_of(implementation))
    commands = sorted(generator.schema.commands)[chunk::CHUNKS]
    coverage = {command: CommandCoverage() for command in commands}
    findings = []
    for command in commands:
        try:
            exercise(implementation, pool, generator, command, coverage[command])
        except pytest.fail.Exception as finding:
            findings.append(f"{command}: {finding}")
    record(implementation.name, coverage)
    totals = CommandCoverage()
    for cov in coverage.values():
        totals.add(vars(cov))
    print(f"{implementation.name} chunk {chunk}: {len(commands)} commands, {vars(totals)}")
    if findings:
        pytest.fail("\n\n".join(findings), pytrace=False)
    unreached = [command for command, cov in coverage.items() if not cov.reached()]
    assert not unreached, f"commands no case ran on (nor abstained): {unreached}"


def record(impl: str, coverage: dict[str, CommandCoverage]) -> None:
    target = os.environ.get("QCONFORM_COVERAGE")
    if not target:
        return
    path = REPO / "results" / "schema-coverage.json" if target == "1" else Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    # xdist workers write the same file: merge under a lock.
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        document = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        table = document.setdefault(impl, {})
        for command, cov in coverage.items():
            merged = CommandCoverage()
            merged.add(table.get(command, {}))
            merged.add(vars(cov))
            table[command] = vars(merged)
        path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
