"""query-named-block-nodes keeps each node's answer between queries: it must never serve a stale one.

Every attribute of every node of a small graph (a qcow2 chain and a job's
filter above it) is changed in turn; after each change the kept answers must
be exactly what a build from nothing gives. The attributes the answer reads
must each change it somewhere, or the check above would prove nothing.

The answers' texts are written from templates as they are built; every
comparison here is against the iterative writer walking their values, so a
template that disagrees with the values fails too (also for headers with
unusual ImageInfoSpecific members, below).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest

from reference.block.commands import blockdev_add
from reference.block.graph import BlockGraph
from reference.block.header_info import frozen_object, header_info, shared_object
from reference.block.node import Node
from reference.block.query import device_info, named_block_nodes
from reference.block.storage import FileFacts, ImageFacts
from reference.profiles import PROFILES, QEMU_7_2, Profile
from reference.qobject.json_writer import to_json, write_iteratively
from reference.qobject.values import FrozenQDict, QDict

BASE, TOP = "/images/base.qcow2", "/images/top.qcow2"
PROFILE_CHOICES = [QEMU_7_2, PROFILES["10.0"], PROFILES["11.1"]]


def file_node(name: str, path: str) -> Node:
    node = Node(name, False, "file", path, False, False)
    node.facts = FileFacts(size=196616, allocated=200704)
    return node


def qcow2_node(name: str, file: Node, backing_file: str | None = None) -> Node:
    node = Node(name, False, "qcow2", file.filename, False, False, file_child=file)
    node.facts = file.facts
    node.image = ImageFacts(
        "qcow2",
        4 << 20,
        cluster_size=65536,
        backing_file=backing_file,
        backing_format="qcow2" if backing_file else None,
        full_backing_file=backing_file,
        format_specific={"type": "qcow2", "data": {"compat": "1.1", "refcount-bits": 16}},
    )
    return node


def graph() -> list[Node]:
    base_file, top_file = file_node("bf", BASE), file_node("tf", TOP)
    base = qcow2_node("b", base_file)
    top = qcow2_node("t", top_file, BASE)
    top.backing, top.auto_backing_file = base, BASE
    job_filter = Node("#block1", True, "commit_top", TOP, False, False)
    job_filter.filter_of, job_filter.backing, job_filter.facts = top, top, top.facts
    return [job_filter, top, top_file, base, base_file]


def leaf() -> Node:
    return file_node("other", "/images/other.img")


def link(node: Node, current: object) -> object:
    return None if current is not None else leaf()


# For each attribute, a different value for it (given the node and the current value).
CHANGES: dict[str, Callable[[Node, object], object]] = {
    "name": lambda node, v: f"{v}-renamed",
    "auto_named": lambda node, v: not v,
    "auto_number": lambda node, v: 7 if v is None else None,
    "driver": lambda node, v: "raw" if v == "qcow2" else "host_device" if v == "file" else "qcow2",
    "filename": lambda node, v: f"{v}.moved",
    "read_only": lambda node, v: not v,
    "auto_read_only": lambda node, v: not v,
    "file_child": link,
    "monitor_owned": lambda node, v: not v,
    "parents": lambda node, v: [leaf()],
    "facts": lambda node, v: FileFacts(size=1 << 20, allocated=None),
    "image": lambda node, v: None if v is not None else ImageFacts("qcow2", 8 << 20, dirty=True),
    "backing": link,
    "auto_backing_file": lambda node, v: f"{v}.elsewhere",
    "read_only_explicit": lambda node, v: not v,
    "auto_read_only_explicit": lambda node, v: not v,
    "name_in_options": lambda node, v: not v,
    "inherits_from": link,
    "stale": lambda node, v: not v,
    "written": lambda node, v: not v,
    "blockers": lambda node, v: ["a blocker"],
    "filter_of": link,
    "job_bitmap": lambda node, v: None if v is not None else 65536,
    "backend": lambda node, v: "drive0",
    "file_seq": lambda node, v: int(str(v)) + 1,
    "cache_direct": lambda node, v: not v,
    "cache_no_flush": lambda node, v: not v,
    "detect_zeroes": lambda node, v: "unmap" if v == "on" else "on",
    "raw_offset": lambda node, v: int(str(v)) + 512,
    "raw_size": lambda node, v: 512 if v is None else None,
    "raw_given": lambda node, v: frozenset({"offset"}) if not v else frozenset(),
    "cache_given": lambda node, v: frozenset({"direct"}) if not v else frozenset(),
    "cache_carried": lambda node, v: frozenset({"no-flush"}) if not v else frozenset(),
    "discard": lambda node, v: "unmap" if v == "ignore" else "ignore",
    "extra_children": lambda node, v: [leaf()],
    "sticky_options": lambda node, v: {"size": 1024},
    "throttle_group": lambda node, v: f"{v}-other",
    "inactive": lambda node, v: not v,  # read where "active" is shown (10.0, 11.1): not in READ
}
# What a node's BlockDeviceInfo is made of (device_info, image_info, display_filename).
READ = {"name", "auto_named", "driver", "filename", "read_only", "file_child", "facts", "image", "backing",
        "auto_backing_file", "filter_of", "job_bitmap", "cache_direct", "cache_no_flush",
        "detect_zeroes"}  # fmt: skip
# raw_offset / raw_size / raw_given are read too, on raw nodes only (none here): test_data_model.py
# checks that the answers follow a raw window's reopen.
NOT_STATE = {"stamp", "image_stamp", "query_cache", "opening"}  # opening: bookkeeping of blockdev-add


def answers(nodes: list[Node], flat: bool, profile: object) -> list[str]:
    return [to_json(device_info(node, flat, profile)) for node in nodes]  # type: ignore[arg-type]


def fresh_answers(nodes: list[Node], flat: bool, profile: object) -> list[str]:
    for node in nodes:
        node.query_cache.clear()
        # what the header shows, made again from the header and written without sharing
        made = header_info(node.image) if node.image is not None else None
        if made is not None and made.specific is not None:
            assert node.image is not None
            made = dataclasses.replace(made, specific=frozen_object(node.image.format_specific))
        node.__dict__["header_info"] = made
    infos = [device_info(node, flat, profile) for node in nodes]  # type: ignore[arg-type]
    return [write_iteratively(info, pretty=False) for info in infos]


def changes() -> Iterator[tuple[str, int]]:
    for attribute in CHANGES:
        for index in range(len(graph())):
            yield attribute, index


def test_every_attribute_has_a_change() -> None:
    fields = {f.name for f in dataclasses.fields(Node)} - NOT_STATE
    assert fields == set(CHANGES), "a new Node attribute needs a change here (and a place in READ if read)"


@pytest.mark.parametrize("flat", [False, True])
@pytest.mark.parametrize("profile", PROFILE_CHOICES, ids=lambda p: p.name)
def test_kept_answers_follow_every_change(flat: bool, profile: object) -> None:
    observed: set[str] = set()
    for attribute, index in changes():
        nodes = graph()
        before = answers(nodes, flat, profile)
        assert answers(nodes, flat, profile) == before  # kept, written again from kept texts
        node = nodes[index]
        setattr(node, attribute, CHANGES[attribute](node, getattr(node, attribute)))
        after = answers(nodes, flat, profile)
        fresh = fresh_answers(nodes, flat, profile)
        assert after == fresh, f"stale answer after changing {attribute} of node {index}"
        if after != before:
            observed.add(attribute)
    # flat=True leaves out the backing chain's images, so some links matter only without it.
    assert ("inactive" in observed) == profile.node_info_active  # type: ignore[attr-defined]
    assert not READ - observed - ({"backing"} if flat else set()), READ - observed


def rebuilt(before: list[FrozenQDict], nodes: list[Node]) -> list[bool]:
    return [a is not b for a, b in zip(before, [device_info(node) for node in nodes], strict=True)]


def test_answers_are_kept_while_nothing_changes_and_only_the_affected_are_rebuilt() -> None:
    nodes = graph()  # the filter, the top and its file, the base and its file
    base = nodes[3]
    first = [device_info(node) for node in nodes]
    assert not any(rebuilt(first, nodes))
    base.read_only = True  # only the base's info shows it: ImageInfos have no read-only flag
    assert rebuilt(first, nodes) == [False, False, False, True, False]
    second = [device_info(node) for node in nodes]
    assert second[3].get("image") is first[3].get("image")
    assert '"ro": true' in to_json(second[3]) and '"ro": false' in to_json(first[3])
    base.facts = FileFacts(size=1 << 20, allocated=4096)  # in the base's image and those above it
    assert rebuilt(second, nodes) == [True, True, False, True, False]
    third = [device_info(node) for node in nodes]
    base.read_only = True  # the same value again: no change
    assert not any(rebuilt(third, nodes))


# ImageInfoSpecific members of every JSON kind, and names and strings the templates must take literally.
ODD_SPECIFICS = [
    {"type": "qcow2", "data": {}},
    {"type": "x", "data": {"list": [1, "a", None, 0.1, {"k": True}], "none": None, "float": 1.5, "neg": -3}},
    {"type": "x", "data": {"a (b)": 1, "c)": "d", "e%(f)s": "%s %% 100%", "uni\u00e9": "\u0007\u007f\u00e9"}},
]


@pytest.mark.parametrize("specific", ODD_SPECIFICS, ids=range(len(ODD_SPECIFICS)))
@pytest.mark.parametrize("profile", PROFILE_CHOICES, ids=lambda p: p.name)
def test_templates_write_what_the_writer_writes(specific: dict[str, object], profile: Profile) -> None:
    nodes = graph()
    top = nodes[1]
    assert top.image is not None
    top.image = dataclasses.replace(top.image, format_specific=specific, dirty=True, backing_format=None)
    top.auto_named = True  # its name is a wildcard
    for flat in (False, True):
        assert answers(nodes, flat, profile) == fresh_answers(nodes, flat, profile)


def test_equal_headers_share_their_specific_info_and_unequal_ones_never_do() -> None:
    first = {"type": "qcow2", "data": {"compat": "1.1", "refcount-bits": 16, "corrupt": False}}
    again = {"type": "qcow2", "data": {"compat": "1.1", "refcount-bits": 16, "corrupt": False}}
    assert shared_object(first) is shared_object(again)
    assert to_json(shared_object(first)) == write_iteratively(frozen_object(first), pretty=False)
    # equal in Python, not in JSON: each keeps its own text
    pairs: list[tuple[dict[str, object], dict[str, object]]] = [
        ({"x": True}, {"x": 1}),
        ({"x": 0.0}, {"x": -0.0}),
    ]
    for a, b in pairs:
        assert to_json(shared_object(a)) == write_iteratively(frozen_object(a), pretty=False)
        assert to_json(shared_object(b)) == write_iteratively(frozen_object(b), pretty=False)
        assert to_json(shared_object(a)) != to_json(shared_object(b))
    # a NaN's sign shows in the text ("nan" / "-nan"), and repr() does not tell them apart
    nan = {"x": float("nan")}
    negative_nan = {"x": -float("nan")}
    assert to_json(shared_object(nan)) == '{"x": nan}'
    assert to_json(shared_object(negative_nan)) == '{"x": -nan}'


def test_new_nodes_are_stamped_once_and_share_no_mutable_default() -> None:
    # Node() sets its fields without the stamping __setattr__ (reference/block/node.py).
    first, second = leaf(), leaf()
    assert first.stamp and first.image_stamp == first.stamp and second.stamp > first.stamp
    assert first.parents is not second.parents and first.blockers is not second.blockers
    assert first.query_cache is not second.query_cache
    defaults = {f.name: f.default for f in dataclasses.fields(Node) if f.default is not dataclasses.MISSING}
    made = Node("n", False, "file", "/f", False, False)
    assert all(getattr(made, name) == value for name, value in defaults.items() if name not in NOT_STATE)
    header = ImageFacts("qcow2", 4 << 20, cluster_size=65536)
    given = Node("q", False, "qcow2", "/f", False, False, image=header)  # the header's info made at once
    assert given.header() == header_info(header)
    assert Node("n", False, "file", "/f", False, False).header() is None
    before = made.stamp
    made.read_only = True
    assert made.stamp > before


def test_deferred_values_are_made_once_when_read_and_match_the_text() -> None:
    nodes = graph()
    infos = [device_info(node) for node in nodes]
    texts = [to_json(info) for info in infos]  # written without reading any value
    for info, text in zip(infos, texts, strict=True):
        assert write_iteratively(info, pretty=False) == text
        image = info.get("image")
        assert isinstance(image, FrozenQDict) and image.get("format") is not None
        assert info.get("image") is image  # made once, then kept
    assert infos[1] == device_info(nodes[1])  # equal to itself, kept


def test_blockdev_add_builds_the_infos_a_query_then_serves() -> None:
    class Files:
        def open_error(self, path: str, write: bool) -> str | None:
            return None

        def file(self, path: str) -> FileFacts:
            return FileFacts(size=196616, allocated=200704)

        def image(self, path: str) -> ImageFacts | None:
            if path != TOP:
                return ImageFacts("qcow2", 4 << 20, cluster_size=65536)
            return ImageFacts("qcow2", 4 << 20, cluster_size=65536, backing_file=BASE,
                              full_backing_file=BASE, backing_format="qcow2")  # fmt: skip

    graph = BlockGraph(Files())
    file = QDict({"driver": "file", "filename": TOP})
    blockdev_add(graph, QDict({"driver": "qcow2", "node-name": "t", "file": file}))
    assert len(graph.nodes) == 4  # the top, its file, the backing opened from its header, that one's file
    built = [node.query_cache[("device", False)][2] for node in reversed(graph.nodes)]
    served = named_block_nodes(graph)
    assert all(a is b for a, b in zip(built, served, strict=True))
    for node in graph.nodes:
        node.query_cache.clear()
    assert [to_json(info) for info in named_block_nodes(graph)] == [to_json(info) for info in built]
    graph.nodes[0].read_only = True  # a change after the add: that node's info is built again
    again = named_block_nodes(graph)
    assert again[-1] is not built[-1] and '"ro": true' in to_json(again[-1])
