"""Schema-driven differential testing: generated arguments for every command.

For each command of the implementation's schema, hypothesis draws batches of
argument objects (mostly broken ones, see conformance.generate); the oracle
decides what may be sent, predicts the replies, and one connection per batch
carries them to the implementation. Commands are split into chunks so xdist
can spread them; a finding in one command does not stop the others.

The per-command counts (generated, sent, agreed, abstained, withheld) go to
the results file (--qconform-results), whose report shows them.
"""

from __future__ import annotations

from collections.abc import Iterator

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
from conformance.pytest_plugin import check_result, record_schema_coverage
from conformance.runner import PASS, SKIP, InstancePool, run_case
from conformance.snapshots import model_from_file
from reference.qapi.introspection import Schema

pytestmark = pytest.mark.slow

CHUNKS = 6


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
    record_schema_coverage(implementation.name, {command: vars(cov) for command, cov in coverage.items()})
    totals = CommandCoverage()
    for cov in coverage.values():
        totals.add(vars(cov))
    print(f"{implementation.name} chunk {chunk}: {len(commands)} commands, {vars(totals)}")
    if findings:
        pytest.fail("\n\n".join(findings), pytrace=False)
    unreached = [command for command, cov in coverage.items() if not cov.reached()]
    assert not unreached, f"commands no case ran on (nor abstained): {unreached}"
