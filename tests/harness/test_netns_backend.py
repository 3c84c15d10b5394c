"""The network-namespace backend: host QEMU with no network at all, same answers."""

from __future__ import annotations

import os

import pytest

from conformance import implementations
from conformance.cases import load_cases
from conformance.runner import PASS, InstancePool, run_case

pytestmark = pytest.mark.slow


@pytest.mark.skipif(os.geteuid() != 0, reason="unshare --net needs root")
def test_qsd_in_a_private_network_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCONFORM_NETNS", "1")
    implementations.netns_prefix.cache_clear()
    try:
        found, _ = implementations.discover()
        (qsd,) = [impl for impl in found if impl.name == "qsd"]
        assert qsd.backend == "netns"
        pool = InstancePool()
        try:
            instance = pool.get(qsd)
            pid = instance.process.pid  # type: ignore[attr-defined]
            assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
            for case in load_cases()[:20]:
                assert run_case(case, qsd, pool).status == PASS, case.id
        finally:
            pool.close()
    finally:
        implementations.netns_prefix.cache_clear()
