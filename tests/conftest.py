"""Hypothesis profiles (`ci` default and bounded, `nightly` deep: HYPOTHESIS_PROFILE) and shared fixtures."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from conformance.hmp import SYSTEM_NAMES, SystemTarget, system_target
from reference.profiles import UnknownProfile, get_profile

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile(
    "dev", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "nightly", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# Every qemu-system implementation (host and containers) for the HMP and command-line differentials.
@pytest.fixture(scope="module", params=SYSTEM_NAMES)
def qemu_system(request: pytest.FixtureRequest) -> SystemTarget:
    target = system_target(request.param)
    if isinstance(target, str):
        message = f"{request.param} is missing: {target}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true)")
        pytest.skip(message)
    try:
        get_profile(target.profile_name)
    except UnknownProfile:
        pytest.skip(f"{request.param} is QEMU {target.profile_name}: no profile models it")
    return target
