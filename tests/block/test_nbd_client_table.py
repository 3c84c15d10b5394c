"""QEMU as an NBD client (tests/block/nbd_table.py) on real binaries: every cell must agree with the oracle.

One test per implementation x unix-socket server of fixtures/nbd/servers.json,
so pytest -n spreads them. QCONFORM_BLOCK_TABLE=DIR writes each one's table
to DIR/nbd-client-table-IMPL-SERVER.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from block.conftest import real_implementation
from block.nbd_table import Outcome, cells, load_dimensions, render_markdown, run_cell
from block.session import Session
from conformance.nbd.matrix import load_matrix
from conformance.nbd.runner import missing_reason, running
from conformance.storage import HostStorage

pytestmark = pytest.mark.slow
MATRIX = load_matrix()
UNIX_SERVERS = [spec.name for spec in MATRIX.servers if spec.transport == "unix"]
TABLE = load_dimensions()


@pytest.mark.parametrize("server", UNIX_SERVERS)
@pytest.mark.parametrize("impl_name", ["qsd", "qemu-system"])
def test_nbd_client_table(impl_name: str, server: str) -> None:
    impl = real_implementation(impl_name)
    spec = MATRIX.server(server)
    reason = missing_reason(spec)
    if reason is not None:
        pytest.skip(reason)
    outcomes: list[Outcome] = []
    for mode in TABLE["modes"]:
        with running(spec, MATRIX, mode) as (_process, target):
            socket = str(target.address)
            session = Session(impl, HostStorage())
            try:
                for index, cell in enumerate(cells(TABLE, server, mode)):
                    outcomes.append(run_cell(session, cell, index, socket, MATRIX.export))
            finally:
                session.close()
    table = render_markdown(outcomes)
    target_dir = os.environ.get("QCONFORM_BLOCK_TABLE")
    if target_dir:
        Path(target_dir).mkdir(parents=True, exist_ok=True)
        (Path(target_dir) / f"nbd-client-table-{impl_name}-{server}.md").write_text(table, encoding="utf-8")
    disagreements = [o for o in outcomes if not o.agrees]
    details = "\n".join(
        step.describe() for o in disagreements for step in (o.add, o.query) if not step.agrees
    )
    assert not disagreements, f"{len(disagreements)} cells disagree:\n{details}\n\n{table}"
    assert len(outcomes) == len(TABLE["modes"]) * 18


def test_nbd_table_dimensions() -> None:
    # Without binaries: 2 shapes x 3 x 3 flag settings per server and mode.
    assert len(list(cells(TABLE, "qemu-nbd", "read-only"))) == 18
    assert UNIX_SERVERS, "the matrix has unix-socket servers"
