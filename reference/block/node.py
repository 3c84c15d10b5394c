"""One block node as the model keeps it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reference.block.header_info import HeaderInfo, kept_header_info
from reference.block.storage import FileFacts, ImageFacts

# Stamps are unique across all nodes and only grow: a node's stamp says when it last changed.
# The newest one given out: a deep stamp computed when it was the same is still right.
_latest_stamp = 0
_UNSET = object()
# What a node's ImageInfo (and its filename) is made of: its image_stamp follows these alone,
# so a change of read-only or name keeps the ImageInfos that contain the node's.
IMAGE_ATTRIBUTES = frozenset(
    {"driver", "filename", "file_child", "facts", "image", "backing", "auto_backing_file", "filter_of"}
    | {"raw_offset", "raw_size", "raw_given"}
    | {"extra_children", "sticky_options", "throttle_group"}
)


@dataclass(eq=False)
class Node:
    name: str
    auto_named: bool  # QEMU made the name up ("#block" + counter + random digits)
    driver: str
    filename: str
    read_only: bool
    auto_read_only: bool
    file_child: Node | None = None
    monitor_owned: bool = False  # added by blockdev-add as a root: blockdev-del may remove it
    parents: list[Node] = field(default_factory=list)
    facts: FileFacts | None = None  # the protocol file's facts (file nodes and their parents)
    image: ImageFacts | None = None  # the format header (qcow2 nodes)
    backing: Node | None = None
    # What QEMU compares the backing node's filename with to decide whether the
    # chain was overridden (then the filename becomes "json:{...}"): the
    # header's string when the backing was given, the opened file's name when
    # QEMU opened it from the header itself.
    auto_backing_file: str = ""
    read_only_explicit: bool = False  # set by the node's own options (reopen keeps it)
    auto_read_only_explicit: bool = False
    # 'node-name' is among the node's options: a reopen giving inline child options without it
    # drops it, and naming the node in a later inline reopen is then a change (qsd 7.2)
    name_in_options: bool = True
    inherits_from: Node | None = None  # the parent whose options an inline/implicit child took
    stale: bool = False  # a job wrote the file: re-read its facts before reporting them
    # HMP qemu-io wrote the file: its facts are re-read before they are reported, its data is the
    # write model's (reference/block/guest_writes.py)
    written: bool = False
    # QEMU's op blockers on the node, newest first: the first is the one an error names.
    blockers: list[str] = field(default_factory=list)
    filter_of: Node | None = None  # a job's filter node: the node it sits above
    job_bitmap: int | None = None  # granularity of a mirror job's (anonymous, clean) dirty bitmap on it
    backend: str | None = None  # the -drive BlockBackend holding the node (query-block's "device")
    inactive: bool = False  # opened while qemu-system waits for an incoming migration (-incoming)
    file_seq: int = 0  # when the node took its 'file' child (permission checks go newest first)
    # query-named-block-nodes' "cache" and "detect_zeroes": as the node opened (given, or cache.*
    # inherited from the parent that opened it) until a reopen changes them
    cache_direct: bool = False
    cache_no_flush: bool = False
    detect_zeroes: str = "off"
    raw_offset: int = 0  # raw's window on its file (reference/block/raw_window.py)
    raw_size: int | None = None
    raw_given: frozenset[str] = frozenset()  # which of offset/size its options name (its json filename)
    cache_given: frozenset[str] = frozenset()  # cache members its own options set (not inherited)
    # cache members its current options carry (handed to children reopened under it): all after
    # an open, those given or inherited after a reopen that did not keep its old options
    cache_carried: frozenset[str] = frozenset({"direct", "no-flush"})
    discard: str = "ignore"  # reference/block/add_options.py
    # Drivers of reference/block/other_drivers.py: children other than 'file' and 'backing'
    # (quorum's, blkverify's, blkdebug's image), options a reopen may neither change nor drop,
    # and a throttle node's group.
    extra_children: list[Node] = field(default_factory=list)
    sticky_options: dict[str, object] = field(default_factory=dict)
    throttle_group: str | None = None
    auto_number: int | None = None  # the #block counter QEMU gave an auto-named node (None: unknown)
    opening: bool = False  # blockdev-add is opening it: nothing has read it yet (set_unstamped)
    # Set on every attribute write that changes a value (see __setattr__); in-place changes to
    # the lists above do not count, and query-named-block-nodes reads none of them.
    stamp: int = field(default=0, init=False, repr=False, compare=False)
    image_stamp: int = field(default=0, init=False, repr=False, compare=False)  # IMAGE_ATTRIBUTES' writes
    # query-named-block-nodes' answers for this node with the stamps they were built at.
    # Filled in place, so keeping them is no change to the node.
    query_cache: dict[Any, tuple[Any, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __setattr__(self, name: str, value: object) -> None:
        attributes = self.__dict__
        if attributes.get(name, _UNSET) is value:  # the same object again: nothing changed
            return
        attributes[name] = value
        global _latest_stamp
        stamp = attributes["stamp"] = _latest_stamp = _latest_stamp + 1
        if name in IMAGE_ATTRIBUTES:
            attributes["image_stamp"] = stamp
            if name == "image":  # what the answers show of the header is made as it is read
                attributes["header_info"] = kept_header_info(value) if isinstance(value, ImageFacts) else None

    def __post_init__(self) -> None:
        # A new node (its fields set by _unstamped_init's __init__): one stamp, its header's info made.
        global _latest_stamp
        attributes = self.__dict__
        attributes["stamp"] = attributes["image_stamp"] = _latest_stamp = _latest_stamp + 1
        image = attributes["image"]
        attributes["header_info"] = kept_header_info(image) if isinstance(image, ImageFacts) else None

    def set_unstamped(self, **values: object) -> None:
        """Fields of a node blockdev-add is still opening (not `image`: its header info follows it).

        Nothing has read such a node yet, so its writes need no stamp each;
        the add stamps its new nodes once they all opened (stamp_opened).
        """
        assert self.__dict__["opening"], "only a node an add is still opening is written unstamped"
        self.__dict__.update(values)

    def header(self) -> HeaderInfo | None:
        """The header's members of ImageInfo (None: no header), made when `image` was set."""
        info: HeaderInfo | None = self.__dict__["header_info"]
        return info

    def wants_write_on_file(self) -> bool:
        # qcow2 keeps metadata in its file: a writable qcow2 node writes there.
        # raw passes its users' permissions through, and blockdev-add gives it none.
        return self.driver == "qcow2" and not self.read_only

    def unshares_write_on_file(self) -> bool:
        # Nobody else may write to or resize a qcow2 node's file, read-only or not.
        return self.driver == "qcow2"

    def children(self) -> list[Node]:
        return [child for child in (self.file_child, self.backing, *self.extra_children) if child is not None]

    def deep_image_stamp(self) -> int:
        """The newest image_stamp among this node and all it reaches (file child, backing, filtered node).

        Any change to what the node reaches writes an image attribute of a node
        still reached (the one whose link changed, or the changed node itself),
        and stamps only grow: so this number changes whenever the image
        attributes of anything reached do. Kept until any node anywhere changes:
        a query asks it several times per node, and nothing changes meanwhile.
        """
        kept = self.query_cache.get("deep")
        if kept is not None and kept[0] == _latest_stamp:
            deep: int = kept[1]
            return deep
        newest = self.image_stamp
        for below in (self.file_child, self.backing, self.filter_of, *self.extra_children):
            if below is not None:
                deep = below.deep_image_stamp()
                if deep > newest:
                    newest = deep
        self.query_cache["deep"] = (_latest_stamp, newest)
        return newest


def stamp_opened(nodes: list[Node]) -> None:
    """One new stamp for nodes an add opened, whose fields were set unstamped (set_unstamped)."""
    global _latest_stamp
    _latest_stamp += 1
    for node in nodes:
        attributes = node.__dict__
        attributes["stamp"] = attributes["image_stamp"] = _latest_stamp
        attributes["opening"] = False


def _unstamped_init() -> Callable[..., None]:
    """Node's own __init__ (same parameters) without a stamping __setattr__ call per field.

    The new node's attribute dict is a copy of the fields' defaults with the
    arguments laid over it and fresh lists and dicts where a field has a
    factory; the node is then stamped once. Each field going through
    __setattr__ was most of what a Node() cost (~5 µs); a plain twin
    dataclass's __init__ took ~3.3 µs, this ~2.4 (tests/block/test_node_init.py
    checks it against the dataclass's own).
    """
    fields = dataclasses.fields(Node)
    parameters = tuple(f.name for f in fields if f.init)
    defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
    factories = [(f.name, f.default_factory) for f in fields if f.default_factory is not dataclasses.MISSING]
    size = len(fields)  # an unknown keyword adds a key, a missing argument leaves one out
    stamp_new = Node.__post_init__

    def __init__(self: Node, *args: Any, **kwargs: Any) -> None:
        attributes = defaults.copy()
        for name, factory in factories:
            attributes[name] = factory()
        attributes.update(zip(parameters, args, strict=False))  # the rest keep their defaults
        attributes.update(kwargs)
        if len(attributes) != size or len(args) > len(parameters):
            raise TypeError(f"Node(): {len(args)} positional arguments and {sorted(kwargs)}")
        object.__setattr__(self, "__dict__", attributes)
        stamp_new(self)

    return __init__


setattr(Node, "__init__", _unstamped_init())  # noqa: B010 (mypy keeps the dataclass's own signature)
