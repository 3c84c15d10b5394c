"""query-named-block-nodes: one BlockDeviceInfo per node, newest first.

Members are put in the order QAPI's output visitor writes them (schema
order); the QDict then presents them in QEMU's hash order. Throttling
values are zero; the cache mode is always writeback, its direct / no-flush
and detect_zeroes are the node's (blockdev-add's defaults until a reopen).
Verified on qsd 7.2: with flat=true backing_file_depth is 0 and no
backing-image is given; without it both follow the whole backing chain.
Later versions' members come from the graph's profile: "active" (10.0; always
true, the model never inactivates a node), "children" (11.1: newest child
first) and ImageInfo's "limits" (11.1: the host's and the NBD server's
numbers, so only its presence is predicted).
"""

from __future__ import annotations

from reference.block.filenames import display_filename
from reference.block.graph import BlockGraph
from reference.block.json_templates import Templates
from reference.block.node import Node
from reference.block.other_query import data_children, special, special_image_info
from reference.block.other_roles import OTHER_DRIVERS
from reference.block.raw_window import visible_size
from reference.profiles import QEMU_7_2, Profile
from reference.qobject.json_writer import quote, to_json
from reference.qobject.patterns import ANY_OBJECT, ANY_STRING
from reference.qobject.values import FrozenQDict, QObject

SECTOR = 512
THROTTLE_MEMBERS = ("bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr")
# Drivers whose get_info succeeds: only for them ImageInfo carries dirty-flag.
# raw asks its file child (verified: a raw node over nbd has no dirty-flag).
HAS_GET_INFO = frozenset({"file", "qcow2"})


def named_block_nodes(graph: BlockGraph, flat: bool = False) -> list[QObject]:
    for node in graph.nodes:
        if node.stale or node.written:  # the image was written: QEMU reports what is there now
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
#
# A node's first answer is the costly one (every node of a new chain), so it
# is written straight to text: each key sequence's text is a template with
# the members that never vary already written and a %(name)s slot for each of
# the others, filled with texts written by their known types. The values are
# kept alongside (HMP's info block and the comparisons read them); the query
# cache test checks the text against the writer's for every change. What the
# header decides (sizes, backing names, ImageInfoSpecific) is made when the
# header is read (Node.header(), reference/block/header_info.py).


def device_info(node: Node, flat: bool = False, profile: Profile = QEMU_7_2) -> FrozenQDict:
    deep = node.deep_image_stamp()
    stamps: tuple[int, ...] = (node.stamp, deep)
    if profile.node_info_children:  # the children's names are in it
        stamps += tuple(child.stamp for child in node.children())
    key = ("device", flat)
    kept = node.query_cache.get(key)
    if kept is not None and kept[0] == stamps and kept[1] is profile:
        info: FrozenQDict = kept[2]
        return info
    info = build_device_info(node, flat, profile, deep)
    node.query_cache[key] = (stamps, profile, info)
    return info


def image_info(
    node: Node, flat: bool = False, profile: Profile = QEMU_7_2, deep: int | None = None
) -> FrozenQDict:
    stamp = node.deep_image_stamp() if deep is None else deep
    key = ("image", flat)
    kept = node.query_cache.get(key)
    if kept is not None and kept[0] == stamp and kept[1] is profile:
        image: FrozenQDict = kept[2]
        return image
    image = build_image_info(node, flat, profile, stamp)
    node.query_cache[key] = (stamp, profile, image)
    return image


def filename_text(node: Node, deep: int) -> tuple[str, str]:
    """display_filename() and its JSON text, kept like the ImageInfo (made of the same attributes)."""
    kept = node.query_cache.get("filename")
    if kept is not None and kept[0] == deep:
        return kept[1], kept[2]
    # display_filename()'s first case, the commonest, without the call
    plain = (node.driver == "file" or (node.file_child is None and node.filter_of is None)) and not special(
        node
    )
    name = node.filename if plain else display_filename(node)
    text = quote(name)
    node.query_cache["filename"] = (deep, name, text)
    return name, text


# The cache modes by (direct, no-flush), with their texts: writeback is always on.
CACHE_MODES = {
    (direct, no_flush): FrozenQDict({"writeback": True, "direct": direct, "no-flush": no_flush})
    for direct in (False, True)
    for no_flush in (False, True)
}
CACHE_MODE = CACHE_MODES[False, False]  # blockdev-add's default
CACHE_TEXTS = {key: to_json(mode) for key, mode in CACHE_MODES.items()}
# BlockDeviceInfo's members that never vary, by where they stand in schema order.
BEFORE_IMAGE: dict[str, QObject] = {"encrypted": False}
BEFORE_IMAGE.update((member, 0) for member in THROTTLE_MEMBERS)
AFTER_IMAGE: dict[str, QObject] = {"write_threshold": 0}
ACTIVE: dict[str, QObject] = {"active": True}
INACTIVE: dict[str, QObject] = {"active": False}  # opened during -incoming (Node.inactive)
KEY_MISSING: dict[str, QObject] = {"encryption_key_missing": False}  # 5.2 (deprecated, always false)
DEVICE_INFOS = Templates({**BEFORE_IMAGE, **AFTER_IMAGE, **ACTIVE, **KEY_MISSING})
INACTIVE_DEVICE_INFOS = Templates({**BEFORE_IMAGE, **AFTER_IMAGE, **INACTIVE, **KEY_MISSING})
# ImageInfo's one constant: the limits are the host's, so only their presence is predicted.
LIMITS: dict[str, QObject] = {"limits": ANY_OBJECT}
IMAGE_INFOS = Templates(LIMITS)
ANY_NAME = to_json(ANY_STRING)
FILE_FORMAT_SPECIFIC = FrozenQDict({"type": "file", "data": FrozenQDict({})})


def build_device_info(node: Node, flat: bool, profile: Profile, deep: int) -> FrozenQDict:
    """BlockDeviceInfo, members in schema order (FrozenQDict presents them in QEMU's order)."""
    filename, filename_json = filename_text(node, deep)
    depth = 0 if flat else chain_depth(node)
    image = image_info(node, flat, profile, deep)
    info: dict[str, QObject] = {
        "file": filename,
        "node-name": ANY_STRING if node.auto_named else node.name,
        "ro": node.read_only,
        "drv": node.driver,
    }
    texts = {
        "file": filename_json,
        "node-name": ANY_NAME if node.auto_named else quote(node.name),
        "ro": "true" if node.read_only else "false",
        "drv": quote(node.driver),
        "backing_file_depth": str(depth),
        "image": image.text or to_json(image),
    }
    shape = 0
    if node.backing is not None and node.filter_of is None:  # a filter has no backing file name
        shape |= 1
        info["backing_file"], texts["backing_file"] = filename_text(
            node.backing, node.backing.deep_image_stamp()
        )
    info["backing_file_depth"] = depth
    if profile.node_info_children:
        children: list[QObject] = [child_info(node, child) for child in reversed(node.children())]
        shape |= 2
        info["children"] = children
        texts["children"] = to_json(children)
    if profile.node_info_active:
        shape |= 4
        info.update(INACTIVE if node.inactive else ACTIVE)
    info["detect_zeroes"], texts["detect_zeroes"] = node.detect_zeroes, quote(node.detect_zeroes)
    info.update(BEFORE_IMAGE)
    if profile.node_info_key_missing:
        shape |= 16
        info.update(KEY_MISSING)
    info["image"] = image
    cache = (node.cache_direct, node.cache_no_flush)
    info["cache"], texts["cache"] = CACHE_MODES[cache], CACHE_TEXTS[cache]
    info.update(AFTER_IMAGE)
    if node.job_bitmap is not None:
        bitmap: dict[str, QObject] = {"count": 0, "granularity": node.job_bitmap, "recording": True,
                                      "busy": False, "persistent": False}  # fmt: skip
        bitmaps: list[QObject] = [FrozenQDict(bitmap)]
        shape |= 8
        info["dirty-bitmaps"] = bitmaps
        texts["dirty-bitmaps"] = to_json(bitmaps)
    return (INACTIVE_DEVICE_INFOS if node.inactive else DEVICE_INFOS).freeze(info, texts, shape)


def child_info(parent: Node, child: Node) -> FrozenQDict:
    role = "backing" if child is parent.backing else "file"
    return FrozenQDict({"child": role, "node-name": ANY_STRING if child.auto_named else child.name})


def build_image_info(node: Node, flat: bool, profile: Profile, deep: int) -> FrozenQDict:
    assert node.facts is not None, "an opened node has its file's facts"
    if node.filter_of is not None:
        return filter_image_info(node, node.filter_of, flat, profile)
    if node.driver in OTHER_DRIVERS:
        return special_image_info(node, [image_info(child, True, profile) for child in data_children(node)])
    filename, filename_json = filename_text(node, deep)
    image: dict[str, QObject] = {"filename": filename, "format": node.driver}
    texts = {"filename": filename_json, "format": quote(node.driver)}
    shape = 0  # a bit for each optional member
    if has_get_info(node):
        shape |= 1
        dirty = node.image is not None and node.image.dirty
        image["dirty-flag"], texts["dirty-flag"] = dirty, "true" if dirty else "false"
    allocated = node.facts.allocated
    if allocated is not None:
        shape |= 2
        image["actual-size"], texts["actual-size"] = allocated, str(allocated)
    header = node.header()
    if header is not None:  # virtual-size to backing-filename-format, as made when the header was read
        shape |= header.shape
        image.update(header.values)
        texts.update(header.texts)
        if profile.image_limits:
            shape |= 64
            image.update(LIMITS)
        backing = node.backing if not flat else None
        if backing is not None and not profile.format_specific_first:
            shape |= 128
            image["backing-image"] = below = image_info(backing, profile=profile)
            texts["backing-image"] = below.text or to_json(below)
        specific = header.specific
        if specific is not None:
            shape |= 256
            image["format-specific"] = specific
            texts["format-specific"] = specific.text or to_json(specific)
        if backing is not None and profile.format_specific_first:
            shape |= 512
            image["backing-image"] = below = image_info(backing, profile=profile)
            texts["backing-image"] = below.text or to_json(below)
    else:
        size = sectors_rounded(visible_size(node))
        image["virtual-size"], texts["virtual-size"] = size, str(size)
        if profile.image_limits:
            shape |= 64
            image.update(LIMITS)
        if node.driver == "file" and profile.file_format_specific:
            shape |= 256
            image["format-specific"] = FILE_FORMAT_SPECIFIC
            texts["format-specific"] = to_json(FILE_FORMAT_SPECIFIC)
    return IMAGE_INFOS.freeze(image, texts, shape)


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
