"""QEMU as an NBD client (conformance/block/nbd_table.py) on real binaries: every cell agrees.

One test per implementation x unix-socket server of fixtures/nbd/servers.json, so pytest -n spreads them.
qsd@trixie and qsd@sid (QEMU 10.0, 11.1) are clients of the host's servers here (about 3 s a server);
`qconform run` also points them, and qemu-system@SUITE, at the servers in containers.
"""

from __future__ import annotations

import pytest

from block.conftest import assert_cells, real_implementation
from block.container_impls import container_implementation
from conformance.block.nbd_table import cells, load_dimensions
from conformance.block.tables import nbd_group
from conformance.divergences import load_divergences
from conformance.nbd.matrix import load_matrix
from conformance.nbd.runner import missing_reason

pytestmark = pytest.mark.slow
MATRIX = load_matrix()
UNIX_SERVERS = [spec.name for spec in MATRIX.servers if spec.transport == "unix"]
TABLE = load_dimensions()


HOST_SERVERS = [name for name in UNIX_SERVERS if "@" not in name]
PAIRS = [
    *((impl, server) for impl in ("qsd", "qemu-system", "qsd@bookworm") for server in UNIX_SERVERS),
    *((impl, server) for impl in ("qsd@trixie", "qsd@sid") for server in HOST_SERVERS),
]


@pytest.mark.parametrize(("impl_name", "server"), PAIRS)
def test_nbd_client_table(impl_name: str, server: str) -> None:
    impl = container_implementation(impl_name) if "@" in impl_name else real_implementation(impl_name)
    reason = missing_reason(MATRIX.server(server))
    if reason is not None:
        pytest.skip(reason)
    known = load_divergences()
    records = [r.explain(known) for mode in TABLE["modes"] for r in nbd_group(impl, server, mode)]
    assert_cells(records, len(TABLE["modes"]) * 18)


def test_nbd_table_dimensions() -> None:
    # Without binaries: 2 shapes x 3 x 3 flag settings per server and mode.
    assert len(list(cells(TABLE, "qemu-nbd", "read-only"))) == 18
    assert UNIX_SERVERS, "the matrix has unix-socket servers"
