"""QEMU as an NBD client (conformance/block/nbd_table.py) on real binaries: every cell agrees.

One test per implementation x unix-socket server of fixtures/nbd/servers.json, so pytest -n spreads them.
"""

from __future__ import annotations

import os

import pytest

from block.conftest import assert_cells, real_implementation
from conformance.block.nbd_table import cells, load_dimensions
from conformance.block.tables import nbd_group
from conformance.divergences import load_divergences
from conformance.implementations import Implementation, discover
from conformance.nbd.matrix import load_matrix
from conformance.nbd.runner import missing_reason

pytestmark = pytest.mark.slow
MATRIX = load_matrix()
UNIX_SERVERS = [spec.name for spec in MATRIX.servers if spec.transport == "unix"]
TABLE = load_dimensions()


@pytest.mark.parametrize("server", UNIX_SERVERS)
@pytest.mark.parametrize("impl_name", ["qsd", "qemu-system", "qsd@bookworm", "qsd@trixie", "qsd@sid"])
def test_nbd_client_table(impl_name: str, server: str) -> None:
    impl = _container_implementation(impl_name) if "@" in impl_name else real_implementation(impl_name)
    reason = missing_reason(MATRIX.server(server))
    if reason is not None:
        pytest.skip(reason)
    known = load_divergences()
    records = [r.explain(known) for mode in TABLE["modes"] for r in nbd_group(impl, server, mode)]
    assert_cells(records, len(TABLE["modes"]) * 18)


def _container_implementation(name: str) -> Implementation:
    """qsd@SUITE: the NBD server's socket folder is bind-mounted into its container."""
    found, missing = discover()
    impl = next((i for i in found if i.name == name), None)
    if impl is None:
        reason = next((m.reason for m in missing if m.name == name), f"{name} unknown")
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is missing under CI=true: {reason}")
        pytest.skip(reason)
    assert impl is not None
    return impl


def test_nbd_table_dimensions() -> None:
    # Without binaries: 2 shapes x 3 x 3 flag settings per server and mode.
    assert len(list(cells(TABLE, "qemu-nbd", "read-only"))) == 18
    assert UNIX_SERVERS, "the matrix has unix-socket servers"
