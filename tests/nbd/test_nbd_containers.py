"""NBD servers from the Debian images: NAME@SUITE entries, and nothing left behind after a run."""

from __future__ import annotations

import os

import pytest

from conformance.containers import OWNER_LABEL, Container, _client
from conformance.nbd.backends import describe, missing_reason
from conformance.nbd.matrix import load_matrix
from conformance.nbd.runner import running
from conformance.nbd.session import Session
from reference.nbd import constants as c

MATRIX = load_matrix()


def test_every_image_server_is_an_entry() -> None:
    names = {s.name for s in MATRIX.servers}
    for suite in ("bookworm", "trixie", "sid"):
        for host in ("qemu-nbd", "nbdkit-memory", "nbdkit-file", "nbd-server"):
            assert f"{host}@{suite}" in names
    in_images = [s for s in MATRIX.servers if s.suite is not None]
    assert all(s.transport == "unix" and s.backend == "container" for s in in_images)
    assert all(s.backend == "host" for s in MATRIX.servers if s.suite is None)


def _needed(name: str) -> None:
    reason = missing_reason(MATRIX.server(name))
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is missing under CI=true: {reason}")
        pytest.skip(reason)


def _ours() -> list[str]:
    mine = f"{OWNER_LABEL}={os.getpid()}"
    return [x.id for x in _client().containers.list(all=True, filters={"label": mine}, ignore_removed=True)]


def test_container_server_leaves_nothing_behind() -> None:
    name = "nbd-server@trixie"  # the one that daemonizes inside: its wrapper must still end
    _needed(name)
    before = _ours()
    spec = MATRIX.server(name)
    with running(spec, MATRIX, "writable") as (server, target):
        assert isinstance(server, Container)
        folder = server.folder
        assert len(_ours()) == len(before) + 1
        with Session(target.address) as s:
            s.handshake()
            s.go(target.export)
            assert s.command(c.CMD_READ, 0, 512).data == target.original[:512]
    assert not folder.exists()
    assert _ours() == before
    where = describe(spec)
    assert where["backend"] == "container" and where["suite"] == "trixie"
    assert str(where["image"]).startswith("qconform/debian-trixie:")
    assert str(where["version"]).startswith("1:3.")  # nbd-server's Debian version, from the manifest


def test_impls_lists_image_servers_with_versions() -> None:
    from conformance.nbd.backends import inventory, inventory_lines

    rows = {row["name"]: row for row in inventory()}
    assert rows["qemu-nbd"]["backend"] == "host" and rows["qemu-nbd"]["image"] is None
    _needed("qemu-nbd@bookworm")
    row = rows["qemu-nbd@bookworm"]
    assert row["missing"] is None and row["suite"] == "bookworm" and row["package"] == "qemu-utils"
    assert str(row["version"]).startswith("1:7.2")  # bookworm ships QEMU 7.2
    line = next(x for x in inventory_lines() if " qemu-nbd@bookworm " in x)
    assert str(row["image"]) in line and str(row["version"]) in line
