"""query-named-block-nodes: one BlockDeviceInfo per node, newest first.

Members are put in the order QAPI's output visitor writes them (schema
order); the QDict then presents them in QEMU's hash order. Throttling
values are zero and the cache mode is blockdev-add's default (writeback,
no O_DIRECT, flushes), because the model rejects options that change them.
Verified on qsd 7.2: with flat=true backing_file_depth is 0 and no
backing-image is given; without it both follow the whole backing chain.
Later versions' members come from the graph's profile: "active" (10.0; always
true, the model never inactivates a node), "children" (11.1: newest child
first) and ImageInfo's "limits" (11.1: the host's and the NBD server's
numbers, so only its presence is predicted).
"""

from __future__ import annotations

from typing import Any

from reference.block.filenames import display_filename
from reference.block.graph import BlockGraph
from reference.block.node import Node
from reference.profiles import QEMU_7_2, Profile
from reference.qobject.patterns import ANY_OBJECT, ANY_STRING
from reference.qobject.values import FrozenQDict, QDict, QObject, qnull

SECTOR = 512
THROTTLE_MEMBERS = ("bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr")
# Drivers whose get_info succeeds: only for them ImageInfo carries dirty-flag.
# raw asks its file child (verified: a raw node over nbd has no dirty-flag).
HAS_GET_INFO = frozenset({"file", "qcow2"})


def named_block_nodes(graph: BlockGraph, flat: bool = False) -> list[QObject]:
    for node in graph.nodes:
        if node.stale:  # a job wrote the image: QEMU reports what is there now
            graph.refresh_facts(node)
    return [device_info(node, flat, graph.profile) for node in reversed(graph.nodes)]


def chain_depth(node: Node) -> int:
    depth = 0
    while node.backing is not None:
        depth, node = depth + 1, node.backing
    return depth


# A node's answers are kept on the node and reused while what they are made
# of is unchanged: its ImageInfo while no image attribute of anything it
# reaches changed (Node.deep_image_stamp), its BlockDeviceInfo while moreover
# the node itself (and, where listed, its children) did not change at all. So
# after a change to one node only the answers that show it are built again;
# the kept ones are FrozenQDicts, whose JSON text the writer keeps too.


def device_info(node: Node, flat: bool = False, profile: Profile = QEMU_7_2) -> FrozenQDict:
    stamps: tuple[int, ...] = (node.stamp, node.deep_image_stamp())
    if profile.node_info_children:  # the children's names are in it
        stamps += tuple(child.stamp for child in node.children())
    key = ("device", flat)
    kept = node.query_cache.get(key)
    if kept is not None and kept[0] == stamps and kept[1] is profile:
        info: FrozenQDict = kept[2]
        return info
    info = build_device_info(node, flat, profile)
    node.query_cache[key] = (stamps, profile, info)
    return info


def image_info(node: Node, flat: bool = False, profile: Profile = QEMU_7_2) -> FrozenQDict:
    stamp = node.deep_image_stamp()
    key = ("image", flat)
    kept = node.query_cache.get(key)
    if kept is not None and kept[0] == stamp and kept[1] is profile:
        image: FrozenQDict = kept[2]
        return image
    image = build_image_info(node, flat, profile)
    node.query_cache[key] = (stamp, profile, image)
    return image


# Every node's cache mode: blockdev-add's default.
CACHE_MODE = FrozenQDict({"writeback": True, "direct": False, "no-flush": False})


def build_device_info(node: Node, flat: bool, profile: Profile) -> FrozenQDict:
    """BlockDeviceInfo, members in schema order (FrozenQDict presents them in QEMU's order)."""
    info: dict[str, QObject] = {
        "file": display_filename(node),
        "node-name": ANY_STRING if node.auto_named else node.name,
        "ro": node.read_only,
        "drv": node.driver,
    }
    if node.backing is not None and node.filter_of is None:  # a filter has no backing file name
        info["backing_file"] = display_filename(node.backing)
    info["backing_file_depth"] = 0 if flat else chain_depth(node)
    if profile.node_info_children:
        info["children"] = [child_info(node, child) for child in reversed(node.children())]
    if profile.node_info_active:
        info["active"] = True
    info["encrypted"] = False
    info["detect_zeroes"] = "off"
    for member in THROTTLE_MEMBERS:
        info[member] = 0
    info["image"] = image_info(node, flat, profile)
    info["cache"] = CACHE_MODE
    info["write_threshold"] = 0
    if node.job_bitmap is not None:
        bitmap: dict[str, QObject] = {"count": 0, "granularity": node.job_bitmap, "recording": True,
                                      "busy": False, "persistent": False}  # fmt: skip
        info["dirty-bitmaps"] = [FrozenQDict(bitmap)]
    return FrozenQDict(info)


def child_info(parent: Node, child: Node) -> FrozenQDict:
    role = "backing" if child is parent.backing else "file"
    return FrozenQDict({"child": role, "node-name": ANY_STRING if child.auto_named else child.name})


def build_image_info(node: Node, flat: bool, profile: Profile) -> FrozenQDict:
    assert node.facts is not None, "an opened node has its file's facts"
    if node.filter_of is not None:
        return filter_image_info(node, node.filter_of, flat, profile)
    image: dict[str, QObject] = {"filename": display_filename(node), "format": node.driver}
    if has_get_info(node):
        image["dirty-flag"] = node.image.dirty if node.image is not None else False
    if node.facts.allocated is not None:
        image["actual-size"] = node.facts.allocated
    if node.image is not None:
        image["virtual-size"] = node.image.virtual_size
        if node.image.cluster_size:
            image["cluster-size"] = node.image.cluster_size
        if node.image.backing_file:
            image["backing-filename"] = node.image.backing_file
            if node.image.full_backing_file is not None:
                image["full-backing-filename"] = node.image.full_backing_file
            if node.image.backing_format is not None:
                image["backing-filename-format"] = node.image.backing_format
        if profile.image_limits:
            image["limits"] = ANY_OBJECT
        backing = node.backing if not flat else None
        if backing is not None and not profile.format_specific_first:
            image["backing-image"] = image_info(backing, profile=profile)
        if node.image.format_specific is not None:
            image["format-specific"] = json_to_qobject(node.image.format_specific)
        if backing is not None and profile.format_specific_first:
            image["backing-image"] = image_info(backing, profile=profile)
    else:
        image["virtual-size"] = sectors_rounded(node.facts.size)
        if profile.image_limits:
            image["limits"] = ANY_OBJECT
        if node.driver == "file" and profile.file_format_specific:
            image["format-specific"] = FrozenQDict({"type": "file", "data": FrozenQDict({})})
    return FrozenQDict(image)


def filter_image_info(node: Node, below: Node, flat: bool, profile: Profile = QEMU_7_2) -> FrozenQDict:
    """A job's filter: get_info, size and allocation are the filtered node's; no header of its own."""
    inner = image_info(below, True, profile)
    image: dict[str, QObject] = {"filename": display_filename(node), "format": node.driver}
    for key in ("dirty-flag", "actual-size", "virtual-size", "cluster-size", "limits"):
        value = inner.get(key)
        if value is not None:
            image[key] = value
    if not flat:
        image["backing-image"] = image_info(below, profile=profile)
    return FrozenQDict(image)


def has_get_info(node: Node) -> bool:
    if node.driver == "raw":
        return node.file_child is not None and has_get_info(node.file_child)
    return node.driver in HAS_GET_INFO


def sectors_rounded(size: int) -> int:
    # QEMU measures a node's length in whole 512-byte sectors (verified: a
    # 196616-byte qcow2 file is reported as 197120).
    return -(-size // SECTOR) * SECTOR


def json_to_qobject(value: Any) -> QObject:
    """Parsed JSON (as StorageFacts hands it over) to QObject values."""
    if isinstance(value, dict):
        return QDict({key: json_to_qobject(item) for key, item in value.items()})
    if isinstance(value, list):
        return [json_to_qobject(item) for item in value]
    if value is None:
        return qnull
    assert isinstance(value, (str, int, float, bool))
    return value
