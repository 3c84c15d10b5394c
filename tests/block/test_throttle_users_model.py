"""Offline: users of throttle nodes and read-only changes of them and their files
(reference/block/throttle_users.py; pinned by fixtures/block/cases/throttle-users.json)."""

from __future__ import annotations

from typing import Any

import pytest

from block.test_block_model import FakeStorage
from block.test_other_drivers_model import export, group, qdict, reopen
from reference.block.errors import BlockError
from reference.block.exports import block_export_del, client_request, connect_client, nbd_server_start
from reference.block.graph import BlockGraph
from reference.block.storage import ImageFacts

IMAGE = ImageFacts("qcow2", 2 << 20, 65536)
READ_ONLY_USERS = r"^Read-only block node '{}' cannot support read-write users$"
NODE_READ_ONLY = r"^Block node is read-only$"


def file(name: str, path: str = "/rw", **extra: object) -> dict[str, Any]:
    return {"driver": "file", "node-name": name, "filename": path, **extra}


def throttle(name: str, child: object, **extra: object) -> dict[str, Any]:
    return {"driver": "throttle", "node-name": name, "throttle-group": "tg0", "file": child, **extra}


def qcow2(name: str, child: object, **extra: object) -> dict[str, Any]:
    return {"driver": "qcow2", "node-name": name, "backing": None, "file": child, **extra}


def started(*added: dict[str, Any]) -> BlockGraph:
    g = BlockGraph(FakeStorage({"/rw": (True, None), "/ro": (False, None), "/q": (True, IMAGE)}))
    group(g, "tg0")
    for opts in added:
        g.add(qdict(opts))
    nbd_server_start(g, qdict({"addr": {"type": "unix", "data": {"path": "/nbd.sock"}}}))
    return g


def read_only(g: BlockGraph) -> dict[str, bool]:
    return {node.name: node.read_only for node in g.nodes}


def test_unused_throttle_node_and_its_file_change_read_only_each_alone() -> None:
    g = started(file("f0"), throttle("t0", "f0"))
    reopen(g, throttle("t0", "f0", **{"read-only": True}))
    assert read_only(g) == {"f0": False, "t0": True}  # a file given by name keeps its own
    reopen(g, file("f0", "/rw", **{"read-only": True}))
    reopen(g, throttle("t0", "f0"))  # nobody writes through it: over a read-only file is fine
    assert read_only(g) == {"f0": True, "t0": False}


def test_a_writable_export_writes_through_the_throttle_node() -> None:
    g = started(file("f0"), throttle("t0", "f0"))
    export(g, "e1", "t0", True)
    with pytest.raises(BlockError, match=READ_ONLY_USERS.format("t0")):
        reopen(g, throttle("t0", "f0", **{"read-only": True}))
    with pytest.raises(BlockError, match=READ_ONLY_USERS.format("f0")):
        reopen(g, file("f0", "/rw", **{"read-only": True}))
    assert read_only(g) == {"f0": False, "t0": False}
    block_export_del(g, qdict({"id": "e1"}))
    reopen(g, file("f0", "/rw", **{"read-only": True}))
    with pytest.raises(BlockError, match=NODE_READ_ONLY):  # the throttle node is writable, its file not
        export(g, "e2", "t0", True)
    export(g, "e3", "t0", False)


def test_an_inline_file_follows_the_throttle_node_unless_it_has_its_own_flag() -> None:
    g = started(throttle("t0", file("f0"), **{"read-only": True}))
    g.add(qdict(throttle("t1", file("f1", "/rw", **{"read-only": False}), **{"read-only": True})))
    assert read_only(g) == {"t0": True, "f0": True, "t1": True, "f1": False}
    reopen(g, throttle("t0", "f0", **{"read-only": False}))
    reopen(g, throttle("t1", "f1"))
    assert read_only(g) == {"t0": False, "f0": False, "t1": False, "f1": False}


def test_an_auto_read_only_file_under_a_writable_export_must_open_for_writing() -> None:
    g = started(file("f0", "/ro", **{"auto-read-only": True}), throttle("t0", "f0"))
    with pytest.raises(BlockError, match=r"^Could not open '/ro': Read-only file system$"):
        export(g, "e1", "t0", True)
    export(g, "e2", "t0", False)


def test_throttle_over_qcow2_shows_the_image_and_passes_its_write_on() -> None:
    g = started(qcow2("q0", file("f0", "/q")), throttle("t0", "q0"))
    export(g, "e1", "t0", True)
    export(g, "e2", "q0", True)
    with pytest.raises(BlockError, match=r"'write' are both required by an unnamed block device .*'q0'"):
        export(g, "e3", "f0", True)
    with pytest.raises(BlockError, match=READ_ONLY_USERS.format("q0")):
        reopen(g, qcow2("q0", "f0", **{"read-only": True}))
    for ident in ("e1", "e2"):
        block_export_del(g, qdict({"id": ident}))
    reopen(g, qcow2("q0", "f0", **{"read-only": True}))
    assert read_only(g) == {"q0": True, "f0": True, "t0": False}
    with pytest.raises(BlockError, match=NODE_READ_ONLY):
        export(g, "e4", "t0", True)
    export(g, "e5", "t0", False)
    assert connect_client(g, "c", "t0") == "ok"
    assert client_request(g, "c", False, 1 << 20) == "ok"  # within the image's size (its file: 1000)


def test_a_throttle_node_between_a_qcow2_node_and_its_file_hands_its_permissions_down() -> None:
    g = started(qcow2("q0", file("f0", "/q")), throttle("t0", "f0"))
    reopen(g, qcow2("q0", "t0"))
    conflict = (
        r"^Permission conflict on node 'f0': permissions 'write' are both required by an unnamed block"
        r" device \(uses node 'f0' as 'root' child\) and unshared by node 't0' \(uses node 'f0' as"
        r" 'file' child\).$"
    )
    with pytest.raises(BlockError, match=conflict):
        export(g, "e1", "f0", True)
    with pytest.raises(BlockError, match=r"'resize' are both required by node 'q0' \(uses node 't0'"):
        export(g, "e2", "t0", False)
    with pytest.raises(BlockError, match=READ_ONLY_USERS.format("t0")):
        reopen(g, throttle("t0", "f0", **{"read-only": True}))
    with pytest.raises(BlockError, match=READ_ONLY_USERS.format("f0")):
        reopen(g, file("f0", "/q", **{"read-only": True}))
    reopen(g, qcow2("q0", "t0", **{"read-only": True}))
    reopen(g, throttle("t0", "f0", **{"read-only": True}))
    with pytest.raises(BlockError, match=NODE_READ_ONLY):
        reopen(g, qcow2("q0", "t0"))
