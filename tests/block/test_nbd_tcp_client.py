"""QEMU as an NBD client over TCP on 127.0.0.1 (conformance/block/nbd_tcp_table.py): every cell agrees.

One test per host implementation x TCP server; plus checks that only loopback is ever dialled.
"""

from __future__ import annotations

import ipaddress
import os

import pytest

from block.conftest import assert_cells, real_implementation
from conformance.block.nbd_tcp_table import CLOSED, HOST, UNKNOWN, cells, load_tcp, loopback_port, tcp_group
from conformance.divergences import load_divergences
from conformance.errors import QconformError
from conformance.nbd.runner import missing_reason

SECTION, SPECS = load_tcp()
PER_SERVER = len(SECTION["modes"]) * len(SECTION["shapes"]) * len(SECTION["read-only"]) + 2


@pytest.mark.slow
@pytest.mark.parametrize("server", [spec.name for spec in SPECS])
@pytest.mark.parametrize("impl_name", ["qsd", "qemu-system"])
def test_nbd_tcp_client(impl_name: str, server: str) -> None:
    impl = real_implementation(impl_name)
    spec = next(s for s in SPECS if s.name == server)
    reason = missing_reason(spec)
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{server} is missing under CI=true: {reason}")
        pytest.skip(reason)
    known = load_divergences()
    records = [r.explain(known) for mode in SECTION["modes"] for r in tcp_group(impl, spec, mode, SECTION)]
    # The error cells are there and pinned (not abstentions).
    errors = [r for r in records if r.cell["export"] in (CLOSED, UNKNOWN)]
    assert len(errors) == 2 and all(not r.predicted.startswith("not modelled") for r in errors)
    closed = next(r for r in errors if r.cell["export"] == CLOSED)
    assert (
        closed.observed.startswith(f"error: Failed to connect to '{HOST}:")
        and "Connection refused" in closed.observed
    )
    assert_cells(records, PER_SERVER)


def test_servers_listen_on_loopback_only() -> None:
    assert ipaddress.ip_address(HOST).is_loopback
    for spec in SPECS:
        assert spec.transport == "tcp" and not any("{socket}" in a for a in spec.argv), spec.name
        for arg in spec.argv:
            value = arg.split("=", 1)[-1]
            try:
                address = ipaddress.ip_address(value)
            except ValueError:
                continue
            assert address.is_loopback, f"{spec.name} binds {value}"


def test_cells_dial_loopback_only() -> None:
    cell = next(cells(SECTION, "qemu-nbd-tcp", SECTION["modes"][-1]))
    server = cell.arguments("n", 10809, "qconform")["server"]
    assert server["type"] == "inet" and ipaddress.ip_address(server["host"]).is_loopback
    assert loopback_port(("127.0.0.1", 10809)) == 10809
    assert loopback_port(("::1", 1)) == 1
    for address in (("192.0.2.1", 10809), ("10.0.0.1", 1)):
        with pytest.raises(QconformError):
            loopback_port(address)


def test_error_cells_once_per_server() -> None:
    all_cells = [c for mode in SECTION["modes"] for c in cells(SECTION, "x", mode)]
    assert len(all_cells) == PER_SERVER
    assert sorted(c.mode for c in all_cells if c.mode in (CLOSED, UNKNOWN)) == sorted([CLOSED, UNKNOWN])
