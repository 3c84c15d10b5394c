"""quorum, blkverify, blkdebug, throttle nodes, throttle-group objects, options a reopen keeps (fake storage).

Pinned on qsd and qemu-system 7.2 by fixtures/block/cases/reopen-245-drivers.json (iotest 245).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from block.test_block_model import FakeStorage
from reference.block.commands import query_named_block_nodes
from reference.block.errors import BlockError, NotModelled
from reference.block.exports import block_export_add, block_export_del, nbd_server_start
from reference.block.graph import BlockGraph
from reference.block.reopen import blockdev_reopen
from reference.block.storage import ImageFacts, UnknownStorage
from reference.block.throttle_groups import object_add, object_del
from reference.profiles import PROFILES, get_profile
from reference.qobject.json_writer import to_json
from reference.qobject.values import QDict, QNull

SOLO = ImageFacts("qcow2", 3 << 20, 65536)
NO_REOPEN = r"^Block format '{}' used by node '{}' does not support reopening files$"


def qdict(value: Any) -> Any:
    """Plain JSON-like data as QObjects (None: JSON null)."""
    if isinstance(value, dict):
        return QDict({key: qdict(item) for key, item in value.items()})
    if isinstance(value, list):
        return [qdict(item) for item in value]
    return QNull() if value is None else value


def hd(i: int, **file_extra: object) -> dict[str, Any]:
    file = {"driver": "file", "node-name": f"hd{i}-file", "filename": f"/hd{i}", **file_extra}
    return {"driver": "qcow2", "node-name": f"hd{i}", "backing": None, "file": file}


def graph(*added: dict[str, Any]) -> BlockGraph:
    g = BlockGraph(FakeStorage({f"/hd{i}": (True, SOLO) for i in range(3)}))
    for opts in added:
        g.add(qdict(opts))
    return g


def reopen(g: BlockGraph, *entries: dict[str, Any]) -> None:
    blockdev_reopen(g, [qdict(entry) for entry in entries])


def names(g: BlockGraph) -> list[str]:
    return [node.name for node in g.nodes]


QUORUM = {"driver": "quorum", "node-name": "quorum0", "vote-threshold": 2, "children": ["hd0", "hd1", "hd2"]}


def test_quorum_checks_its_threshold_before_looking_up_children() -> None:
    g = graph(hd(0), hd(1), hd(2))
    with pytest.raises(BlockError, match=r"^threshold may not exceed children count$"):
        g.add(qdict({**QUORUM, "vote-threshold": 4, "children": ["hd0", "nope", "hd2"]}))
    with pytest.raises(BlockError, match=r"^Cannot find device='nope' nor node-name='nope'$"):
        g.add(qdict({**QUORUM, "children": ["hd0", "nope"]}))
    assert "quorum0" not in names(g) and all(not g.find(f"hd{i}").parents for i in range(3))  # type: ignore[union-attr]


def test_quorum_cannot_reopen_and_its_children_cannot_take_it_as_backing() -> None:
    g = graph(hd(0), hd(1), hd(2), QUORUM)
    with pytest.raises(BlockError, match=NO_REOPEN.format("quorum", "quorum0")):
        reopen(g, QUORUM)
    with pytest.raises(BlockError, match=r"^Making 'quorum0' a backing child of 'hd0' would create a cycle$"):
        reopen(g, {**hd(0), "backing": "quorum0", "file": "hd0-file"})
    reopen(g, hd(0))  # as it is: fine under the quorum node
    with pytest.raises(NotModelled):  # what quorum takes of its children is not modelled
        reopen(g, {**hd(0), "read-only": True})


def test_quorum_children_outlive_it_and_are_busy_under_it() -> None:
    g = graph(hd(0), hd(1), hd(2), QUORUM)
    with pytest.raises(BlockError, match=r"^Block device hd0 is in use$"):
        g.delete("hd0")
    g.delete("quorum0")
    assert names(g) == ["hd0-file", "hd0", "hd1-file", "hd1", "hd2-file", "hd2"]
    assert isinstance(query_named_block_nodes(g, QDict({"flat": True})), list)
    g.delete("hd0")


def test_blkverify_looks_up_raw_first_and_cannot_reopen() -> None:
    bv = {"driver": "blkverify", "node-name": "bv", "test": "hd0", "raw": "hd1"}
    g = graph(hd(0), hd(1))
    with pytest.raises(BlockError, match="nor node-name='nope2'"):
        g.add(qdict({**bv, "test": "nope1", "raw": "nope2"}))
    g.add(qdict(bv))
    with pytest.raises(BlockError, match=NO_REOPEN.format("blkverify", "bv")):
        reopen(g, bv)
    for child in ("hd0", "hd1"):
        cycle = rf"^Making 'bv' a backing child of '{child}' would create a cycle$"
        with pytest.raises(BlockError, match=cycle):
            reopen(g, {**hd(int(child[-1])), "backing": "bv"})


BLKDEBUG = {"driver": "blkdebug", "node-name": "bd", "config": "/dev/null", "image": hd(0)}
BLKDEBUG_REF = {**BLKDEBUG, "image": "hd0"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"image": "hd0-file"}, "^Cannot change the option 'image'$"),
        ({"image": "nope"}, "^Cannot change the option 'image'$"),
        ({"align": 33554432}, "^Cannot change the option 'align'$"),
        ({"config": "/non/existent"}, "^Cannot change the option 'config'$"),
        ({"config": "/non/existent", "align": 512}, "^Cannot change the option 'config'$"),  # hash order
    ],
)
def test_blkdebug_options_cannot_change(changes: dict[str, object], message: str) -> None:
    g = graph(BLKDEBUG)
    with pytest.raises(BlockError, match=message):
        reopen(g, {**BLKDEBUG_REF, **changes})


def test_blkdebug_reopens_as_it_is_and_keeps_its_config() -> None:
    g = graph(BLKDEBUG)
    reopen(g, BLKDEBUG)
    reopen(g, BLKDEBUG_REF)
    without = {key: value for key, value in BLKDEBUG.items() if key != "config"}
    with pytest.raises(BlockError, match=r"^Option 'config' cannot be reset to its default value$"):
        reopen(g, without)
    with pytest.raises(NotModelled):  # the oracle reads no config file
        graph({**BLKDEBUG, "node-name": "bd2", "config": "/etc/blkdebug.conf"})
    with pytest.raises(BlockError, match=r"^Node hd0 is not owned by the monitor$"):
        g.delete("hd0")
    g.delete("bd")
    assert g.nodes == []


def test_null_co_size_cannot_change_nor_be_reset() -> None:
    sized = {"driver": "null-co", "node-name": "root", "size": 1024}
    g = graph(sized)
    root = g.find("root")
    assert root is not None and root.facts is not None and root.facts.size == 1024
    reopen(g, sized)
    with pytest.raises(BlockError, match=r"^Cannot change the option 'size'$"):
        reopen(g, {**sized, "size": 1 << 30})  # the default, but not the value it was opened with
    with pytest.raises(BlockError, match=r"^Option 'size' cannot be reset to its default value$"):
        reopen(g, {"driver": "null-co", "node-name": "root"})
    plain = graph({"driver": "null-co", "node-name": "root"})
    reopen(plain, {"driver": "null-co", "node-name": "root"})
    with pytest.raises(BlockError, match=r"^Cannot change the option 'size'$"):
        reopen(plain, sized)


def test_file_locking_inline_and_direct() -> None:
    locked = hd(0, locking="on")
    g = graph(locked)
    reopen(g, locked)
    with pytest.raises(BlockError, match=r"^Cannot change the option 'locking'$"):
        reopen(g, hd(0, locking="off"))
    with pytest.raises(BlockError, match=r"^Option 'locking' cannot be reset to its default value$"):
        reopen(g, hd(0))
    file = locked["file"]
    reopen(g, file)
    with pytest.raises(BlockError, match=r"^Cannot change the option 'locking'$"):
        reopen(g, {**file, "locking": "off"})
    with pytest.raises(BlockError, match=r"^Option 'locking' cannot be reset to its default value$"):
        reopen(g, {key: value for key, value in file.items() if key != "locking"})


def test_x_check_cache_dropped_may_change_and_go() -> None:
    g = graph(hd(0, **{"x-check-cache-dropped": True, "locking": "off"}))
    reopen(g, hd(0, **{"x-check-cache-dropped": False, "locking": "off"}))
    reopen(g, hd(0, locking="off"))
    with pytest.raises(BlockError, match=r"^Cannot change the option 'locking'$"):
        reopen(g, hd(0, locking="on"))
    plain = graph(hd(1))
    with pytest.raises(BlockError, match=r"^Cannot change the option 'locking'$"):
        reopen(plain, hd(1, locking="auto"))  # a value it was not opened with


def group(g: BlockGraph, ident: str, **limits: int) -> None:
    args: dict[str, Any] = {"qom-type": "throttle-group", "id": ident}
    if limits:
        args["limits"] = {key.replace("_", "-"): value for key, value in limits.items()}
    object_add(g, qdict(args))


def test_throttle_group_objects() -> None:
    g = graph()
    group(g, "group0", iops_total=1000)
    duplicate = r"^attempt to add duplicate property 'group0' to object \(type 'container'\)$"
    with pytest.raises(BlockError, match=duplicate):
        group(g, "group0", iops_total=2000)
    with pytest.raises(BlockError, match=r"^Parameter 'id' expects an identifier$"):
        group(g, "1x")
    limits = r"^bps/iops/max values must be within \[0, 1000000000000000\]$"
    with pytest.raises(BlockError, match=limits):
        group(g, "g", iops_total=-1)
    # the limits before the id: regressions.json throttle-group-limits-first
    with pytest.raises(BlockError, match=limits):
        group(g, "group0", bps_read=4096, iops_write=-5)
    with pytest.raises(NotModelled):
        group(g, "g", bps_max=10)
    with pytest.raises(NotModelled):
        object_add(g, qdict({"qom-type": "memory-backend-ram", "id": "m", "size": 4096}))
    with pytest.raises(BlockError, match=r"^object 'nope' not found$"):
        object_del(g, qdict({"id": "nope"}))
    object_del(g, qdict({"id": "group0"}))
    assert g.throttle_groups == []


THROTTLE = {"driver": "throttle", "node-name": "throttle0", "throttle-group": "group0", "file": hd(0)}


def test_throttle_node_switches_groups_and_holds_its_group() -> None:
    g = graph()
    group(g, "group0")
    group(g, "group1")
    with pytest.raises(BlockError, match=r"^Throttle group 'notfound' does not exist$"):
        g.add(qdict({**THROTTLE, "throttle-group": "notfound"}))
    assert g.nodes == []  # the inline child opened first goes again
    g.add(qdict(THROTTLE))
    reopen(g, THROTTLE)
    reopen(g, {**THROTTLE, "file": "hd0"})
    with pytest.raises(BlockError, match=r"^Throttle group 'notfound' does not exist$"):
        reopen(g, {**THROTTLE, "throttle-group": "notfound"})
    reopen(g, {**THROTTLE, "throttle-group": "group1"})
    with pytest.raises(BlockError, match=r"^object 'group1' is in use, can not be deleted$"):
        object_del(g, qdict({"id": "group1"}))
    object_del(g, qdict({"id": "group0"}))  # free now
    with pytest.raises(NotModelled):  # another 'file' for a throttle node is not modelled
        reopen(g, {**THROTTLE, "throttle-group": "group1", "file": "hd0-file"})
    g.delete("throttle0")
    assert g.nodes == []
    object_del(g, qdict({"id": "group1"}))


def test_inline_child_of_a_filter_must_stay_as_it_is() -> None:
    g = graph()
    group(g, "group0")
    g.add(qdict(THROTTLE))
    with pytest.raises(BlockError, match=r"^Cannot change the option 'filename'$"):
        reopen(g, {**THROTTLE, "file": {**hd(0), "file": {**hd(0)["file"], "filename": "/hd1"}}})
    with pytest.raises(NotModelled):
        reopen(g, {**THROTTLE, "file": {**hd(0), "node-name": "renamed"}})


def shown(g: BlockGraph, name: str) -> dict[str, Any]:
    nodes = query_named_block_nodes(g, QDict({"flat": True}))
    assert isinstance(nodes, list)
    found: list[dict[str, Any]] = [json.loads(to_json(node)) for node in nodes]
    return next(info for info in found if info["node-name"] == name)


def file_options(i: int) -> str:
    return f'{{"driver": "qcow2", "file": {{"driver": "file", "filename": "/hd{i}"}}}}'


def test_quorum_shows_its_options_and_its_childrens_sizes() -> None:
    info = shown(graph(hd(0), hd(1), hd(2), QUORUM), "quorum0")
    children = ", ".join(file_options(i) for i in range(3))
    name = f'json:{{"children": [{children}], "driver": "quorum", "vote-threshold": 2}}'
    assert info["file"] == name and info["drv"] == "quorum"
    # no get_info: no dirty-flag nor cluster-size; the allocated sizes add up
    assert info["image"] == {
        "virtual-size": 3 << 20,
        "filename": name,
        "format": "quorum",
        "actual-size": 3 * 4096,
    }


def test_filters_pass_on_their_childs_info() -> None:
    g = graph(hd(0), hd(1), {"driver": "blkverify", "node-name": "bv", "test": "hd0", "raw": "hd1"})
    info = shown(g, "bv")
    assert info["file"] == "blkverify:/hd1:/hd0"  # raw first
    assert info["image"] == {"virtual-size": 3 << 20, "filename": info["file"], "cluster-size": 65536,
                             "format": "blkverify", "dirty-flag": False}  # fmt: skip
    g.add(qdict({"driver": "blkdebug", "node-name": "bd", "config": "/dev/null", "image": "hd0"}))
    assert shown(g, "bd")["file"] == "blkdebug:/dev/null:/hd0"
    g.add(qdict({"driver": "blkdebug", "node-name": "bd2", "align": 4096, "image": "hd1"}))
    assert (
        shown(g, "bd2")["file"] == f'json:{{"image": {file_options(1)}, "driver": "blkdebug", "align": 4096}}'
    )
    assert "actual-size" not in shown(g, "bd2")["image"]  # a protocol driver: not known
    group(g, "group0")
    g.add(qdict({"driver": "throttle", "node-name": "t", "throttle-group": "group0", "file": "hd0"}))
    throttle = shown(g, "t")
    assert (
        throttle["file"]
        == f'json:{{"throttle-group": "group0", "driver": "throttle", "file": {file_options(0)}}}'
    )
    assert throttle["image"]["actual-size"] == 4096 and throttle["image"]["cluster-size"] == 65536


def test_query_abstains_outside_what_was_seen() -> None:
    g = graph(hd(0), {"driver": "blkdebug", "node-name": "bd", "image": "hd0"})
    with pytest.raises(NotModelled):  # neither config nor align
        query_named_block_nodes(g, QDict())
    g = graph({"driver": "null-co", "node-name": "n", "size": 1024})
    assert shown(g, "n")["file"] == 'json:{"driver": "null-co", "size": 1024}'
    g.profile = PROFILES["5.2"]  # seen on 7.2, 10.0 and 11.1 only
    with pytest.raises(NotModelled, match=r"7\.2, 10\.0 and 11\.1 only"):
        query_named_block_nodes(g, QDict())


def test_11_1_lists_the_children_newest_first_with_their_roles() -> None:
    """11.1's "children": quorum's children.N, blkverify's test (attached after raw) then raw,
    blkdebug's image; the ImageInfo of each such node has "limits" (qsd@sid: reopen-245-drivers)."""
    g = graph(hd(0), hd(1), hd(2), QUORUM)
    g.add(qdict({"driver": "blkverify", "node-name": "bv", "test": "hd1", "raw": "hd2"}))
    g.add(qdict({"driver": "blkdebug", "node-name": "bd", "image": "hd0", "align": 4096}))
    g.profile = PROFILES["11.1"]
    nodes = query_named_block_nodes(g, QDict({"flat": True}))
    assert isinstance(nodes, list)
    found = {node.get("node-name"): node for node in nodes if isinstance(node, QDict)}

    def children(name: str) -> list[tuple[object, object]]:
        listed = found[name].get("children")
        assert isinstance(listed, list)
        return [(child.get("child"), child.get("node-name")) for child in listed if isinstance(child, QDict)]

    assert children("quorum0") == [("children.2", "hd2"), ("children.1", "hd1"), ("children.0", "hd0")]
    assert children("bv") == [("test", "hd1"), ("raw", "hd2")]
    assert children("bd") == [("image", "hd0")]
    for name in ("quorum0", "bv", "bd"):
        image = found[name].get("image")
        assert isinstance(image, QDict) and image.get("limits") is not None


def export(g: BlockGraph, ident: str, node: str, writable: bool) -> None:
    block_export_add(g, qdict({"type": "nbd", "id": ident, "node-name": node, "writable": writable}))


def test_quorum_unshares_write_and_filters_take_nothing() -> None:
    g = graph(hd(0), hd(1), hd(2))
    nbd_server_start(g, qdict({"addr": {"type": "unix", "data": {"path": "/nbd.sock"}}}))
    export(g, "e0", "hd0", True)
    conflict = (
        r"^Permission conflict on node 'hd0': permissions 'write' are both required by an unnamed block"
        r" device \(uses node 'hd0' as 'root' child\) and unshared by node 'q' \(uses node 'hd0' as"
        r" 'children.1' child\).$"
    )
    quorum = {"driver": "quorum", "node-name": "q", "vote-threshold": 1, "children": ["hd1", "hd0"]}
    with pytest.raises(BlockError, match=conflict):  # hd1 attached first, then hd0 refuses
        g.add(qdict(quorum))
    assert g.find("q") is None and g.find("hd1").parents == []  # type: ignore[union-attr]
    block_export_del(g, qdict({"id": "e0"}))
    g.add(qdict(quorum))
    with pytest.raises(BlockError, match=conflict):
        export(g, "e1", "hd0", True)
    export(g, "e2", "hd1", False)  # reading is shared
    g.delete("q")
    export(g, "e3", "hd0", True)
    group(g, "g")
    g.add(qdict({"driver": "throttle", "node-name": "t", "throttle-group": "g", "file": "hd0"}))
    g.add(qdict({"driver": "blkverify", "node-name": "bv", "test": "hd2", "raw": "hd0"}))
    export(g, "e4", "hd2", True)
    export(g, "e5", "t", False)  # throttle hands the export's read down (test_throttle_users_model.py)
    with pytest.raises(NotModelled):  # an export of blkverify itself
        export(g, "e6", "bv", False)


def test_quorum_children_must_be_alike_in_length() -> None:
    g = graph(hd(0), hd(1), {"driver": "null-co", "node-name": "n0"})
    with pytest.raises(BlockError, match=r"^Could not refresh total sector count: Input/output error$"):
        g.add(qdict({**QUORUM, "children": ["hd0", "hd1", "n0"]}))  # 3 MiB, 3 MiB, 1 GiB
    assert g.find("quorum0") is None and not g.find("n0").parents  # type: ignore[union-attr]
    g.add(qdict({"driver": "null-co", "node-name": "n1", "size": 3 << 20}))
    g.add(qdict({**QUORUM, "children": ["hd0", "hd1", "n1"]}))


def test_a_group_in_use_as_11_1_words_it() -> None:
    g = BlockGraph(UnknownStorage(), get_profile("11.1"))
    group(g, "g")
    g.add(
        qdict({"driver": "throttle", "node-name": "t", "throttle-group": "g", "file": {"driver": "null-co"}})
    )
    with pytest.raises(BlockError, match=r"^Cannot delete throttle group 'g' with active references$"):
        object_del(g, qdict({"id": "g"}))


def test_blkverify_takes_its_size_from_test_and_its_info_from_raw() -> None:
    """Found by the stateful test (regressions.json blkverify-info-from-raw): get_info goes to
    the filtered child, blkverify's 'raw', while the size is 'test''s."""
    file = {"driver": "file", "node-name": "f", "filename": "/hd2"}
    g = graph(hd(0), hd(1), file, {"driver": "blkverify", "node-name": "bv", "test": "hd0", "raw": "f"})
    image = shown(g, "bv")["image"]
    assert image["virtual-size"] == 3 << 20 and "cluster-size" not in image
    g.add(qdict({"driver": "blkverify", "node-name": "bv2", "test": "f", "raw": "hd1"}))
    image = shown(g, "bv2")["image"]
    assert image["cluster-size"] == 65536 and image["virtual-size"] != 3 << 20


def test_blkdebug_over_a_child_named_json_is_named_json_too() -> None:
    """Found by the stateful test (regressions.json blkdebug-over-json-child): no plain name
    "blkdebug:CONFIG:CHILD" can hold a json:{...} child."""
    window = {"driver": "raw", "node-name": "r", "offset": 0, "file": hd(0)}
    g = graph(window, {"driver": "blkdebug", "node-name": "bd", "config": "/dev/null", "image": "r"})
    name = shown(g, "bd")["file"]
    assert name.startswith('json:{"image": {"offset": 0, "driver": "raw", "file": {"driver": "qcow2"')
    assert name.endswith('"driver": "blkdebug", "config": "/dev/null"}')
