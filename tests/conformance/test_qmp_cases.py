"""Every QMP case on every implementation: the oracle's prediction (or the case's
fixed expectation) against what the implementation writes."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.cases import QmpCase
from conformance.implementations import Implementation, Missing
from conformance.pytest_plugin import check_result, missing_outcome

pytestmark = pytest.mark.slow


def test_qmp_case(qmp_case: QmpCase, implementation: Implementation, run_qmp_case: Any) -> None:
    check_result(run_qmp_case(qmp_case, implementation))


def test_implementation_present(missing_implementation: Missing) -> None:
    missing_outcome(missing_implementation)
