"""The block oracle's NBD server and exports (reference/block/exports.py), offline.

Every expectation was seen on qsd 7.2 first (and qemu-system 7.2): the same
transcripts run on the binaries as fixtures/block/regressions.json
"exports-*" cases and the seed/front-end tables' export columns. Here they
pin the oracle on fake storage, without a binary.
"""

from __future__ import annotations

from typing import Any

import pytest

from block.test_block_jobs_model import FakeStorage, events, node, plain, qobject, run
from reference.block import exports, reopen
from reference.block.drive import open_drive, parse_drive
from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.qobject.values import QDict

SOCKET = {"type": "unix", "data": {"path": "/scratch/nbd.sock"}}


class Storage(FakeStorage):
    """The jobs tests' files, the raw ones writable (the regressions' storage is "writable")."""

    def __init__(self) -> None:
        super().__init__()
        self.files.update({"/raw": (True, None), "/raw2": (True, None)})


def call(g: BlockGraph, command: str, **args: Any) -> Any:
    handler = getattr(exports, command.replace("-", "_"))
    given = qobject({key.replace("_", "-"): value for key, value in args.items()})
    assert isinstance(given, QDict)
    return plain(handler(g, given))


def fails(g: BlockGraph, command: str, **args: Any) -> str:
    with pytest.raises(BlockError) as caught:
        call(g, command, **args)
    return caught.value.desc


def export(g: BlockGraph, ident: str, name: str, writable: bool) -> None:
    call(g, "block-export-add", type="nbd", id=ident, node_name=name, writable=writable)


def export_fails(g: BlockGraph, ident: str, name: str, writable: bool) -> str:
    return fails(g, "block-export-add", type="nbd", id=ident, node_name=name, writable=writable)


def conflict(node: str, perms: str, required: str, req_role: str, unshared: str, un_role: str) -> str:
    return (f"Permission conflict on node '{node}': permissions '{perms}' are both required by {required}"
            f" (uses node '{node}' as '{req_role}' child) and unshared by {unshared}"
            f" (uses node '{node}' as '{un_role}' child).")  # fmt: skip


EXPORT = "an unnamed block device"


def server() -> BlockGraph:
    g = BlockGraph(Storage())
    call(g, "nbd-server-start", addr=SOCKET)
    return g


def qcow2(g: BlockGraph, name: str, path: str, read_only: bool = False) -> None:
    file = {"driver": "file", "node-name": f"{name}f", "filename": path}
    run(g, "blockdev-add", driver="qcow2", node_name=name, read_only=read_only, file=file)


def test_exports_of_a_writable_qcow2s_file_conflict_on_resize_and_write() -> None:
    g = server()
    qcow2(g, "q", "/solo")
    assert export_fails(g, "e1", "qf", False) == conflict("qf", "resize", "node 'q'", "file", EXPORT, "root")
    assert export_fails(g, "e2", "qf", True) == conflict("qf", "write", EXPORT, "root", "node 'q'", "file")
    assert call(g, "query-block-exports") == []
    export(g, "e3", "q", True)  # the qcow2 node itself has no other user


def test_read_only_qcow2s_file_exports_read_only_and_blocks_its_reopen() -> None:
    g = server()
    qcow2(g, "q", "/solo", read_only=True)
    export(g, "e", "qf", False)
    assert export_fails(g, "e2", "qf", True) == "Cannot export read-only node as writable"
    entry = qobject({"driver": "qcow2", "node-name": "q", "file": "qf", "backing": None, "read-only": False})
    assert isinstance(entry, QDict)
    with pytest.raises(BlockError) as caught:
        reopen.blockdev_reopen(g, [entry])
    assert caught.value.desc == conflict("qf", "resize", "node 'q'", "file", EXPORT, "root")
    assert node(g, "q").read_only


def test_a_raw_node_and_its_file_export_writable_side_by_side() -> None:
    g = server()
    file = {"driver": "file", "node-name": "rf", "filename": "/raw"}
    run(g, "blockdev-add", driver="raw", node_name="r", file=file)
    export(g, "e5", "rf", True)
    export(g, "e6", "r", True)
    assert export_fails(g, "e7", "rf", False) == "NBD server already has export named 'rf'"
    ids = [(info["id"], info["node-name"]) for info in call(g, "query-block-exports")]
    assert ids == [("e6", "r"), ("e5", "rf")]


def test_parents_added_over_an_exported_node() -> None:
    g = server()
    run(g, "blockdev-add", driver="file", node_name="f", filename="/raw2")
    export(g, "e", "f", True)
    run(g, "blockdev-add", driver="raw", node_name="r", file="f")  # raw takes nothing itself
    with pytest.raises(BlockError) as caught:
        run(g, "blockdev-add", driver="qcow2", node_name="q", file="f")
    assert caught.value.desc == conflict("f", "write", EXPORT, "root", "node 'q'", "file")
    assert g.find("q") is None


def test_a_qcow2_over_a_read_only_export_wants_resize() -> None:
    g = server()
    run(g, "blockdev-add", driver="file", node_name="f", filename="/base")
    export(g, "e", "f", False)
    with pytest.raises(BlockError) as caught:
        run(g, "blockdev-add", driver="qcow2", node_name="q", file="f")
    assert caught.value.desc == conflict("f", "resize", "node 'q'", "file", EXPORT, "root")
    run(g, "blockdev-add", driver="qcow2", node_name="q4", read_only=True, file="f")


def test_exported_nodes_are_in_use_and_outlive_their_parent() -> None:
    g = server()
    qcow2(g, "q", "/solo", read_only=True)
    export(g, "e", "qf", False)
    with pytest.raises(BlockError) as caught:
        run(g, "blockdev-del", node_name="qf")
    assert caught.value.desc == "Node qf is in use"
    run(g, "blockdev-del", node_name="q")
    assert [n.name for n in g.nodes] == ["qf"]
    call(g, "block-export-del", id="e", mode="hard")
    assert events(g) == [("BLOCK_EXPORT_DELETED", {"id": "e"})]
    assert g.nodes == []


@pytest.mark.parametrize("mode", ["safe", "hard"])
def test_block_export_del_modes_without_clients(mode: str) -> None:
    g = server()
    run(g, "blockdev-add", driver="file", node_name="f", filename="/raw")
    export(g, "e", "f", True)
    call(g, "block-export-del", id="e", mode=mode)
    assert events(g) == [("BLOCK_EXPORT_DELETED", {"id": "e"})]
    assert fails(g, "block-export-del", id="e", mode=mode) == "Export 'e' is not found"


def test_server_stop_deletes_exports_oldest_first() -> None:
    g = server()
    run(g, "blockdev-add", driver="file", node_name="f", filename="/raw")
    run(g, "blockdev-add", driver="file", node_name="f2", filename="/raw2")
    export(g, "a", "f", False)
    export(g, "b", "f2", True)
    call(g, "nbd-server-stop")
    assert events(g) == [("BLOCK_EXPORT_DELETED", {"id": "a"}), ("BLOCK_EXPORT_DELETED", {"id": "b"})]
    assert fails(g, "nbd-server-stop") == "NBD server not running"


def test_drive_nodes_export_but_neither_reopen_nor_delete() -> None:
    """qemu-system 7.2 -drive if=none: the BlockBackend lets both exports through; the node's
    made-up name 'changes' in any reopen; blockdev-del finds the BlockBackend first."""
    g = server()
    root = open_drive(g, parse_drive("if=none,driver=file,filename=/raw"))
    export(g, "e", root.name, True)
    call(g, "block-export-del", id="e")
    export(g, "e", root.name, False)
    entry = qobject({"driver": "file", "node-name": root.name, "filename": "/raw", "read-only": True})
    assert isinstance(entry, QDict)
    with pytest.raises(BlockError) as caught:
        reopen.blockdev_reopen(g, [entry])
    assert caught.value.desc == "Cannot change the option 'node-name'"
    with pytest.raises(BlockError) as caught:
        run(g, "blockdev-del", node_name=root.name)
    assert caught.value.desc == f"Node {root.name} is in use"


def test_unpinned_export_options_still_abstain() -> None:
    g = server()
    run(g, "blockdev-add", driver="file", node_name="f", filename="/raw")
    with pytest.raises(NotModelled):
        call(g, "block-export-add", type="nbd", id="e", node_name="f", writethrough=True)
    with pytest.raises(NotModelled):
        call(g, "block-export-del", id="e", mode="sometime")


def test_nbd_server_add_is_block_export_add_with_the_name_as_id() -> None:
    g = BlockGraph(Storage())
    assert fails(g, "nbd-server-add", device="nope") == "Cannot find device='nope' nor node-name='nope'"
    qcow2(g, "q", "/solo")
    assert fails(g, "nbd-server-add", device="q") == "NBD server not running"
    call(g, "nbd-server-start", addr=SOCKET)
    assert fails(g, "nbd-server-add", device="q", name="a b") == "Invalid block export id"
    call(g, "nbd-server-add", device="q")
    call(g, "nbd-server-add", device="q", name="other", writable=True)
    assert fails(g, "nbd-server-add", device="q") == "Block export id 'q' is already in use"
    assert [info["id"] for info in call(g, "query-block-exports")] == ["other", "q"]
    run(g, "blockdev-add", driver="raw", node_name="r", read_only=True,
        file={"driver": "file", "node-name": "rf", "filename": "/raw"})  # fmt: skip
    call(g, "nbd-server-add", device="r", writable=True)  # downgraded to read-only, not refused
    assert not next(e for e in g.exports if e.id == "r").writable


def test_nbd_server_remove_takes_an_export_id() -> None:
    g = server()
    qcow2(g, "q", "/solo")
    export_args = {"type": "nbd", "id": "z", "node_name": "q", "name": "n"}
    call(g, "block-export-add", **export_args)
    events(g)
    assert fails(g, "nbd-server-remove", name="n") == "Export 'n' is not found"
    call(g, "nbd-server-remove", name="z", mode="hard")
    assert events(g) == [("BLOCK_EXPORT_DELETED", {"id": "z"})]
    assert call(g, "query-block-exports") == []


def test_a_backing_node_exports_read_only_under_its_overlay() -> None:
    g = server()
    qcow2(g, "b", "/base", read_only=True)
    top_file = {"driver": "file", "node-name": "tf", "filename": "/top"}
    run(g, "blockdev-add", driver="qcow2", node_name="t", backing="b", file=top_file)
    export(g, "e", "b", False)
    export(g, "et", "t", True)
    assert [info["node-name"] for info in call(g, "query-block-exports")] == ["t", "b"]


def deleted(g: BlockGraph) -> list[tuple[str, str]]:
    """(export id, before/after the reply) of each predicted BLOCK_EXPORT_DELETED."""
    return [(plain(e)["data"]["id"], when) for e, when in g.take_timed_events()]


def test_a_connected_client_keeps_a_safe_delete_from_happening() -> None:
    g = server()
    qcow2(g, "q", "/solo")
    export(g, "e", "q", True)
    assert exports.connect_client(g, "c", "q") == "ok"
    assert exports.connect_client(g, "d", "nope") == "refused"
    assert fails(g, "block-export-del", id="e") == "export 'e' still in use"
    assert fails(g, "block-export-del", id="e", mode="safe") == "export 'e' still in use"
    assert fails(g, "nbd-server-remove", name="e") == "export 'e' still in use"
    assert exports.client_request(g, "c", write=True) == "ok"
    assert [info["id"] for info in call(g, "query-block-exports")] == ["e"]
    assert deleted(g) == []
    assert exports.disconnect_client(g, "c") == "ok"
    call(g, "block-export-del", id="e")  # no client left: safe works, the event before the reply
    assert deleted(g) == [("e", "before")]


def test_a_hard_delete_cuts_the_exports_clients_off_after_the_reply() -> None:
    g = server()
    qcow2(g, "q", "/solo")
    run(g, "blockdev-add", driver="raw", node_name="r", read_only=True,
        file={"driver": "file", "node-name": "rf", "filename": "/raw"})  # fmt: skip
    export(g, "e", "q", True)
    export(g, "f", "r", False)
    for label, name in (("a", "q"), ("b", "q"), ("c", "r")):
        assert exports.connect_client(g, label, name) == "ok"
    call(g, "nbd-server-remove", name="e", mode="hard")
    assert deleted(g) == [("e", "after")]
    assert exports.client_request(g, "a", write=False) == "closed"
    assert exports.disconnect_client(g, "b") == "closed"
    assert exports.client_request(g, "c", write=False) == "ok"
    with pytest.raises(NotModelled):
        exports.client_request(g, "c", write=True)  # a write to a read-only export


def test_server_stop_with_a_client_deletes_before_the_reply_and_cuts_it_off() -> None:
    g = server()
    qcow2(g, "q", "/solo")
    export(g, "e", "q", False)
    assert exports.connect_client(g, "c", "q") == "ok"
    call(g, "nbd-server-stop")
    assert deleted(g) == [("e", "before")]
    assert exports.client_request(g, "c", write=False) == "closed"
    assert exports.connect_client(g, "d", "q") == "refused"


def test_server_stop_with_clients_on_several_exports_abstains() -> None:
    g = server()
    qcow2(g, "q", "/solo")
    export(g, "e", "q", False)
    qcow2(g, "s", "/base")
    export(g, "f", "s", False)
    exports.connect_client(g, "c", "q")
    with pytest.raises(NotModelled):
        call(g, "nbd-server-stop")


def test_reopen_and_blockdev_del_answer_as_without_a_client() -> None:
    g = server()
    qcow2(g, "q", "/solo")
    export(g, "e", "q", True)
    exports.connect_client(g, "c", "q")
    entry = qobject({"driver": "qcow2", "node-name": "q", "file": "qf", "read-only": True})
    assert isinstance(entry, QDict)
    with pytest.raises(BlockError) as caught:
        reopen.blockdev_reopen(g, [entry])
    assert caught.value.desc == "Read-only block node 'q' cannot support read-write users"
    with pytest.raises(BlockError) as caught:
        run(g, "blockdev-del", node_name="q")
    assert caught.value.desc == "Node q is in use"


def test_a_read_at_an_offset_is_ok_inside_the_export_and_not_modelled_past_its_end() -> None:
    g = server()
    qcow2(g, "q", "/solo")
    export(g, "e", "q", True)
    assert exports.connect_client(g, "c", "q") == "ok"
    node = g.find("q")
    assert node is not None and node.image is not None
    size = node.image.virtual_size
    assert exports.client_request(g, "c", write=False, offset=size - 512) == "ok"
    with pytest.raises(NotModelled):
        exports.client_request(g, "c", write=False, offset=size - 511)
    with pytest.raises(NotModelled):  # only reads move away from offset 0
        exports.client_request(g, "c", write=True, offset=512)
