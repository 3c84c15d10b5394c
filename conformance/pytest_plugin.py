"""The pytest face of the harness: each case × implementation is a test.

Options: --impl NAME (repeatable; default every implementation found),
--impl-path NAME=PATH, --qconform-results FILE (results JSON; with xdist each
worker writes a part and the controller merges them). Block truth-table cells
that tests hand to record_block_cells go into the file's "block" section.
Under CI=true a missing implementation is a failing test, not a skip.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import schema_coverage
from conformance.cases import QmpCase, load_cases
from conformance.divergences import Divergence, load_divergences
from conformance.errors import QconformError
from conformance.implementations import Implementation, Missing, discover, select
from conformance.jsonfile import write_json
from conformance.process import install_cleanup_handlers
from conformance.results import block_section, results_document
from conformance.runner import PASS, SKIP, InstancePool, Result, run_case

_state: dict[str, Any] = {"results": [], "block": [], "nbd": [], "coverage": {}, "started": time.monotonic()}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("qconform")
    group.addoption(
        "--impl", action="append", default=[], metavar="NAME", help="implementation to test (repeatable)"
    )
    group.addoption("--impl-path", action="append", default=[], metavar="NAME=PATH", help="binary for NAME")
    group.addoption("--qconform-results", metavar="FILE", help="write a qconform results JSON file")


def _strict() -> bool:
    return os.environ.get("CI") == "true"


def pytest_configure(config: pytest.Config) -> None:
    install_cleanup_handlers()
    paths: dict[str, str] = {}
    for pair in config.getoption("impl_path"):
        name, _, path = pair.partition("=")
        paths[name] = path
    try:
        found, missing = discover(paths)
        wanted = config.getoption("impl")
        impls = select(wanted, found, missing, strict=False)
        cases = load_cases()
        known = load_divergences()
    except QconformError as err:
        raise pytest.UsageError(str(err)) from None
    missing = [m for m in missing if not wanted or m.name in wanted]
    _state.update(impls=impls, missing=missing, cases=cases, known=known)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "qmp_case" in metafunc.fixturenames:
        cases: list[QmpCase] = _state["cases"]
        impls: list[Implementation] = _state["impls"]
        metafunc.parametrize("implementation", impls, ids=[i.name for i in impls], scope="session")
        metafunc.parametrize("qmp_case", cases, ids=[c.id for c in cases])
    elif "implementation" in metafunc.fixturenames:
        impls = _state["impls"]
        metafunc.parametrize("implementation", impls, ids=[i.name for i in impls], scope="module")
    if "missing_implementation" in metafunc.fixturenames:
        gone: list[Missing] = _state["missing"]
        metafunc.parametrize("missing_implementation", gone, ids=[m.name for m in gone])


@pytest.fixture(scope="session")
def instance_pool() -> Iterator[InstancePool]:
    pool = InstancePool()
    yield pool
    pool.close()


@pytest.fixture
def run_qmp_case(instance_pool: InstancePool) -> Any:
    known: dict[tuple[str, str], Divergence] = _state["known"]

    def run(case: QmpCase, impl: Implementation) -> Result:
        result = run_case(case, impl, instance_pool, known)
        _state["results"].append(result)
        return result

    return run


def record_block_cells(records: Iterable[Any]) -> None:
    """Keep block truth-table cells (conformance.block.records.CellRecord) for the results file."""
    _state["block"].extend(record.to_json() for record in records)


def record_result(result: Result) -> None:
    """Keep a result made outside run_qmp_case (a block step case) for the results file."""
    _state["results"].append(result)


def record_schema_coverage(impl: str, commands: dict[str, dict[str, Any]]) -> None:
    """Keep per-command counts of the schema-argument differential for the results file."""
    schema_coverage.merge(_state["coverage"], impl, commands)


def record_nbd_run(run: dict[str, Any]) -> None:
    """Keep one NBD server run (conformance.nbd.runner's to_json) for the results file."""
    _state["nbd"].append(run)


def check_result(result: Result) -> None:
    """Turn a result into the test's outcome; a recorded divergence is an xfail."""
    if result.status == SKIP:
        pytest.skip(result.detail)
    if result.known is not None:
        if result.status == PASS and result.known.get("intermittent"):
            return
        if result.status == PASS:
            pytest.fail(
                f"recorded divergence ({result.known['kind']}) no longer happens: "
                "remove it from fixtures/divergences.json"
            )
        pytest.xfail(f"{result.known['kind']}: {result.known['reason']}")
    if result.status != PASS:
        pytest.fail(
            f"{result.status}: {result.detail}\nsent: {result.sent}\nexpected: {result.expected}\n"
            f"observed: {result.observed}",
            pytrace=False,
        )


def missing_outcome(gone: Missing) -> None:
    message = f"implementation {gone.name} is missing: {gone.reason}"
    if _strict():
        pytest.fail(message + " (CI=true: every implementation must be present)", pytrace=False)
    pytest.skip(message)


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = session.config.getoption("qconform_results")
    if not target:
        return
    path = Path(target)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    own = [r.to_json() for r in _state["results"]]
    block: list[dict[str, Any]] = list(_state["block"])
    nbd: list[dict[str, Any]] = list(_state["nbd"])
    coverage = [_state["coverage"]]
    if worker:
        part = {"results": own, "block": block, "nbd": nbd, "coverage": _state["coverage"]}
        write_json(path.with_name(f"{path.name}.{worker}.part"), part)
        return
    for part_path in sorted(path.parent.glob(f"{path.name}.*.part")):
        data = json.loads(part_path.read_text(encoding="utf-8"))
        own.extend(data["results"])
        block.extend(data["block"])
        nbd.extend(data["nbd"])
        coverage.append(data["coverage"])
        part_path.unlink()
    document = results_document(
        [], _state["impls"], _state["missing"], _now(), time.monotonic() - _state["started"]
    )
    document["results"] = own
    if block:
        document["block"] = block_section(block, [])
    if nbd:
        document["nbd"] = sorted(nbd, key=lambda run: (run["server"], run["mode"]))
    merged = schema_coverage.merge_all(coverage)
    if merged:
        document["schema_coverage"] = merged
    write_json(path, document)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
