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

from typing import Any

from reference.block.compress_query import filtered, over_format
from reference.block.filenames import display_filename
from reference.block.graph import BlockGraph
from reference.block.json_templates import Templates
from reference.block.node import Node
from reference.block.other_query import data_children, query_abstains, special_image_info
from reference.block.other_roles import OTHER_DRIVERS, attach_order, child_role, special
from reference.block.raw_window import visible_size
from reference.profiles import QEMU_7_2, Profile
from reference.qobject.json_writer import quote, to_json
from reference.qobject.patterns import ANY_OBJECT, ANY_STRING, auto_node_name
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


def build_ahead(graph: BlockGraph, opened: list[Node]) -> None:
    """The infos of the nodes a blockdev-add just opened, built as part of the add.

    A node's first infos are the costly part of a query; QEMU spends about
    three times as long on the add (opening files, reading headers) as on a
    query, so the oracle builds them while it answers the add: each step's
    cost then stays within its share of QEMU's (tests/benchmarks/bench_block.py).
    They are kept and checked like any others: whatever changes before the
    query makes them be built again. Skipped where a query would first
    re-read files (a node a job or qemu-io wrote), a node has no facts to
    show, or the query would abstain.
    """
    if any(node.stale or node.written or node.facts is None for node in graph.nodes):
        return
    if query_abstains(graph.nodes, graph.profile.name) is not None:
        return
    for node in opened:
        device_info(node, False, graph.profile)


def chain_depth(node: Node) -> int:
    """Steps down backing links, and through compress filters (QEMU counts a filter's step)."""
    depth = 0
    while True:
        if node.backing is not None:
            depth, node = depth + 1, node.backing
        elif node.driver == "compress":
            depth, node = depth + 1, filtered(node)
        else:
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
# the members that never vary already written and a slot for each of the
# others, filled with texts written by their known types. The values are made
# from what the text was written from only when something reads them (HMP's
# info block, the comparisons; a reply on the wire never does); the query
# cache test checks the text against the writer's for every change. What the
# header decides (sizes, backing names, ImageInfoSpecific) is made when the
# header is read (Node.header(), reference/block/header_info.py), and
# blockdev-add builds the infos of the nodes it opens (build_ahead).

# The cache keys, by flat: the same tuples every time, not one made per call.
DEVICE_KEYS = (("device", False), ("device", True))
IMAGE_KEYS = (("image", False), ("image", True))


def device_info(node: Node, flat: bool = False, profile: Profile = QEMU_7_2) -> FrozenQDict:
    deep = node.deep_image_stamp()
    stamps: tuple[int, ...] = (node.stamp, deep)
    if profile.node_info_children:  # the children's names are in it
        stamps += tuple(child.stamp for child in node.children())
    key = DEVICE_KEYS[flat]
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
    key = IMAGE_KEYS[flat]
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
CACHE_CHOICES = {key: (mode, to_json(mode)) for key, mode in CACHE_MODES.items()}  # with their texts
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
FILE_FORMAT_SPECIFIC = FrozenQDict({"type": "file", "data": FrozenQDict({})})


def build_device_info(node: Node, flat: bool, profile: Profile, deep: int) -> FrozenQDict:
    """BlockDeviceInfo, members in schema order (FrozenQDict presents them in QEMU's order).

    Its text is written now; its values are made from what it was written
    from (device_values) only if something reads them.
    """
    filename, filename_json = filename_text(node, deep)
    depth = 0 if flat else chain_depth(node)
    image = image_info(node, flat, profile, deep)
    name = shown_name(node)  # a self-named node's by its #block counter, where the model knows it
    # the varying members' texts in schema order (device_values' order); a made-up name is a
    # Wildcard, which the writer shows as its repr
    texts = [filename_json, repr(name) if node.auto_named else quote(node.name),
             "true" if node.read_only else "false", quote(node.driver)]  # fmt: skip
    shape = 0
    backing_file = None
    if node.backing is not None and node.filter_of is None:  # a filter has no backing file name
        shape |= 1
        backing_file, backing_json = filename_text(node.backing, node.backing.deep_image_stamp())
        texts.append(backing_json)
    texts.append(str(depth))
    children: list[QObject] | None = None
    if profile.node_info_children:
        children = [child_info(node, child) for child in reversed(attach_order(node))]
        shape |= 2
        texts.append(to_json(children))
    if profile.node_info_active:
        shape |= 4
    texts.append(quote(node.detect_zeroes))
    if profile.node_info_key_missing:
        shape |= 16
    texts.append(image.text or to_json(image))
    cache, cache_json = CACHE_CHOICES[node.cache_direct, node.cache_no_flush]
    texts.append(cache_json)
    bitmaps: list[QObject] | None = None
    if node.job_bitmap is not None:
        recording = node.filter_of is None  # a mirror_top filter's bitmap is disabled (10.0 on)
        bitmap: dict[str, QObject] = {"count": 0, "granularity": node.job_bitmap, "recording": recording,
                                      "busy": False, "persistent": False}  # fmt: skip
        bitmaps = [FrozenQDict(bitmap)]
        shape |= 8
        texts.append(to_json(bitmaps))
    recipe = (filename, name, node.read_only, node.driver, backing_file,
              depth, children, shape, node.detect_zeroes, image, cache, bitmaps,
              node.inactive)  # fmt: skip
    templates = INACTIVE_DEVICE_INFOS if node.inactive else DEVICE_INFOS
    return templates.deferred(texts, shape, device_values, recipe)


def device_values(recipe: tuple[Any, ...]) -> dict[str, QObject]:
    """BlockDeviceInfo's values, in schema order, from what build_device_info() wrote it from."""
    (filename, name, read_only, driver, backing_file, depth, children, shape,
     zeroes, image, cache, bitmaps, inactive) = recipe  # fmt: skip
    info: dict[str, QObject] = {"file": filename, "node-name": name, "ro": read_only, "drv": driver}
    if backing_file is not None:
        info["backing_file"] = backing_file
    info["backing_file_depth"] = depth
    if children is not None:
        info["children"] = children
    if shape & 4:
        info.update(INACTIVE if inactive else ACTIVE)
    info["detect_zeroes"] = zeroes
    info.update(BEFORE_IMAGE)
    if shape & 16:
        info.update(KEY_MISSING)
    info["image"] = image
    info["cache"] = cache
    info.update(AFTER_IMAGE)
    if bitmaps is not None:
        info["dirty-bitmaps"] = bitmaps
    return info


def child_info(parent: Node, child: Node) -> FrozenQDict:
    if parent.driver in OTHER_DRIVERS:
        role = child_role(parent, child)  # quorum's "children.N", blkverify's "test", "raw", ...
    elif parent.driver == "copy-on-read":
        role = "file"  # a stream's filter holds its device as 'file' (mirror_top: as 'backing')
    else:
        role = "backing" if child is parent.backing else "file"
    return FrozenQDict({"child": role, "node-name": shown_name(child)})


def shown_name(node: Node) -> QObject:
    """A node's name as predicted: QEMU's own names by their counter where the model knows it."""
    if not node.auto_named:
        return node.name
    return ANY_STRING if node.auto_number is None else auto_node_name(node.auto_number)


def build_image_info(node: Node, flat: bool, profile: Profile, deep: int) -> FrozenQDict:
    """ImageInfo: its text written now, its values made (image_values) only if something reads them."""
    assert node.facts is not None, "an opened node has its file's facts"
    if node.filter_of is not None:
        return filter_image_info(node, node.filter_of, flat, profile)
    if node.driver == "compress":  # a filter too (reference/block/compress_query.py)
        return filter_image_info(node, filtered(node), flat, profile)
    if node.driver == "raw" and over_format(node):  # its file's members, no backing-image
        return filter_image_info(node, filtered(node), True, profile, sectors_rounded(visible_size(node)))
    if node.driver in OTHER_DRIVERS:
        inner = [image_info(child, True, profile) for child in data_children(node)]
        return special_image_info(node, inner, LIMITS if profile.image_limits else {})
    filename, filename_json = filename_text(node, deep)
    # the varying members' texts in schema order (image_values' order)
    texts = [filename_json, quote(node.driver)]
    shape = 0  # a bit for each optional member
    dirty = None
    if node.driver in HAS_GET_INFO or has_get_info(node):
        shape |= 1
        dirty = node.image is not None and node.image.dirty
        texts.append("true" if dirty else "false")
    allocated = node.facts.allocated
    if allocated is not None:
        shape |= 2
        texts.append(str(allocated))
    if profile.image_limits:
        shape |= 64
    header = node.header()
    size = 0
    below = specific = None
    if header is not None:  # virtual-size to backing-filename-format, as made when the header was read
        shape |= header.shape
        texts += header.texts
        backing = node.backing if not flat else None
        if backing is not None:
            shape |= 512 if profile.format_specific_first else 128
            below = image_info(backing, profile=profile)
            below_json = below.text or to_json(below)
            if not shape & 512:
                texts.append(below_json)
        specific = header.specific
    else:
        size = sectors_rounded(visible_size(node))
        texts.append(str(size))
        if node.driver == "file" and profile.file_format_specific:
            specific = FILE_FORMAT_SPECIFIC
    if specific is not None:
        shape |= 256
        texts.append(specific.text or to_json(specific))
    if shape & 512:
        texts.append(below_json)
    recipe = (filename, node.driver, dirty, allocated, header, size, below, specific, shape)
    return IMAGE_INFOS.deferred(texts, shape, image_values, recipe)


def image_values(recipe: tuple[Any, ...]) -> dict[str, QObject]:
    """ImageInfo's values, in schema order, from what build_image_info() wrote it from."""
    filename, driver, dirty, allocated, header, size, below, specific, shape = recipe
    image: dict[str, QObject] = {"filename": filename, "format": driver}
    if dirty is not None:
        image["dirty-flag"] = dirty
    if allocated is not None:
        image["actual-size"] = allocated
    if header is not None:
        image.update(header.values)
    else:
        image["virtual-size"] = size
    if shape & 64:
        image.update(LIMITS)
    if shape & 128:
        image["backing-image"] = below
    if specific is not None:
        image["format-specific"] = specific
    if shape & 512:
        image["backing-image"] = below
    return image


def filter_image_info(
    node: Node, below: Node, flat: bool, profile: Profile = QEMU_7_2, size: int | None = None
) -> FrozenQDict:
    """A job's filter: get_info, size and allocation are the filtered node's; no header of its own.

    size: the node's own virtual-size where it is not the filtered node's (a raw window)."""
    inner = image_info(below, True, profile)
    image: dict[str, QObject] = {"filename": display_filename(node), "format": node.driver}
    for key in ("dirty-flag", "actual-size", "virtual-size", "cluster-size", "limits"):
        value = size if key == "virtual-size" and size is not None else inner.get(key)
        if value is not None:
            image[key] = value
    if not flat:
        image["backing-image"] = image_info(below, profile=profile)
    return FrozenQDict(image)


def has_get_info(node: Node) -> bool:
    if node.driver in ("raw", "compress"):  # both ask their 'file'
        return node.file_child is not None and has_get_info(node.file_child)
    return node.driver in HAS_GET_INFO


def sectors_rounded(size: int) -> int:
    # QEMU measures a node's length in whole 512-byte sectors (verified: a
    # 196616-byte qcow2 file is reported as 197120).
    return -(-size // SECTOR) * SECTOR
