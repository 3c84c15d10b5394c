"""blockdev-add's shortcuts agree with the long ways they stand for.

open_options() answers options without cache, discard and detect-zeroes from a
table; resolve_flags() hands out shared Flags; a new node takes its cache,
discard, detect-zeroes and flags as Node() keywords instead of apply()'s
writes; driver_of() finds an unmodelled option without QEMU's key order; a
template's text is filled by a join. Each is checked here against the full
computation (the JSON writer's, for the texts).
"""

from __future__ import annotations

import itertools

import pytest

import reference.block.graph as graph_module
from reference.block.add_options import NodeOptions, apply, node_fields, open_options, resolve
from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.block.json_templates import Templates
from reference.block.node import Node
from reference.block.options import Flags, driver_of, resolve_flags
from reference.block.query import named_block_nodes
from reference.block.storage import FileFacts, ImageFacts
from reference.qobject.json_writer import to_json
from reference.qobject.values import QDict, QObject, qnull

BOOLS = (False, True)
PARENTS = [None, *(NodeOptions((d, n), frozenset(), "off", "ignore") for d in BOOLS for n in BOOLS)]
# Options a node may carry (the fast path is taken only without all three of the last keys).
CHOICES: dict[str, list[object]] = {
    "driver": ["file"],
    "cache": [None, QDict({}), QDict({"direct": True}), QDict({"no-flush": False, "direct": False})],
    "discard": [None, "unmap", "ignore"],
    "detect-zeroes": [None, "off", "unmap"],
}


def options_of(choice: dict[str, object]) -> QDict:
    return QDict({key: value for key, value in choice.items() if value is not None})  # type: ignore[misc]


def parent_id(parent: NodeOptions | None) -> str:
    """A test id that does not depend on the hash seed (a frozenset's repr does: xdist's workers
    must collect the same ids)."""
    return "no parent" if parent is None else f"cache={parent.cache}"


@pytest.mark.parametrize("parent", PARENTS, ids=parent_id)
def test_open_options_agrees_with_resolve(parent: NodeOptions | None) -> None:
    for values in itertools.product(*CHOICES.values()):
        opts = options_of(dict(zip(CHOICES, values, strict=True)))
        full = resolve(opts, parent.passed_down() if parent else {}, parent is not None)
        assert open_options(opts, parent) == full, opts


def test_node_fields_are_what_apply_sets() -> None:
    caches: list[object] = CHOICES["cache"]
    for parent, cache in itertools.product(PARENTS, caches):
        opts = options_of({"driver": "file", "cache": cache, "discard": "unmap", "detect-zeroes": "unmap"})
        options = open_options(opts, parent)
        applied = Node("n", False, "file", "", False, False)
        apply(applied, options)
        made = Node("n", False, "file", "", False, False, **node_fields(options))
        fields = ("cache_direct", "cache_no_flush", "cache_given", "detect_zeroes", "discard")
        assert [getattr(made, f) for f in fields] == [getattr(applied, f) for f in fields]


def test_resolve_flags_agrees_with_a_new_flags() -> None:
    for ro, aro, given_ro, given_aro in itertools.product((False, True), repeat=4):
        opts = QDict({"read-only": ro} if given_ro else {})
        if given_aro:
            opts.put("auto-read-only", aro)
        inherited = Flags(not ro, not aro)
        expected = Flags(ro if given_ro else not ro, aro if given_aro else not aro)
        assert resolve_flags(opts, inherited) == expected


def test_driver_of_names_the_first_unmodelled_option_in_sorted_order() -> None:
    assert driver_of(QDict({"driver": "file", "filename": "/x", "node-name": "n"})) == "file"
    opts = QDict({"driver": "file", "filename": "/x", "zz-option": 1, "aa-option": 2})
    with pytest.raises(NotModelled, match="file option aa-option is not modelled"):
        driver_of(opts)


@pytest.mark.parametrize("varying", [0, 1, 2, 5])
def test_template_fill_writes_what_the_writer_writes(varying: int) -> None:
    constants: dict[str, QObject] = {"c-one": 1, "c%two": "100%", "c-three": True}
    values: dict[str, QObject] = {f"v{index}": f"x%s{index}" for index in range(varying)}
    templates = Templates(constants)
    make = lambda recipe: {**recipe, **constants}  # noqa: E731
    first = templates.deferred([to_json(v) for v in values.values()], varying, make, values)
    other = {key: f'{value}"y' for key, value in values.items()}
    second = templates.deferred([to_json(v) for v in other.values()], varying, make, other)
    assert first.text == to_json(QDict({**values, **constants}))
    assert second.text == to_json(QDict({**other, **constants}))


class Files:
    """Every path a writable file; /top.qcow2 names /base.qcow2 as its backing file."""

    def open_error(self, path: str, write: bool) -> str | None:
        return None

    def file(self, path: str) -> FileFacts:
        return FileFacts(size=1 << 20, allocated=4096)

    def image(self, path: str) -> ImageFacts | None:
        if path == "/top.qcow2":
            return ImageFacts("qcow2", 1 << 20, 65536, backing_file="base.qcow2", backing_format="qcow2",
                              full_backing_file="/base.qcow2")  # fmt: skip
        return ImageFacts("qcow2", 1 << 20, 65536) if path.endswith(".qcow2") else None


def graph_after(opts: QDict) -> tuple[list[str], list[dict[str, object]]]:
    graph = BlockGraph(Files())
    graph.add(opts)
    graph.add(QDict({"driver": "file", "node-name": "other", "filename": "/raw.img"}))
    kept = ("name", "driver", "filename", "read_only", "auto_read_only", "cache_direct", "cache_no_flush",
            "cache_given", "detect_zeroes", "discard", "sticky_options", "auto_backing_file",
            "read_only_explicit", "auto_read_only_explicit")  # fmt: skip
    fields = [{key: getattr(node, key) for key in kept} for node in graph.nodes]
    links = [f"{n.name}: {n.file_child and n.file_child.name} {n.backing and n.backing.name} "
             f"{n.inherits_from and n.inherits_from.name}" for n in graph.nodes]  # fmt: skip
    texts = [to_json(info) for info in named_block_nodes(graph)]
    return links + texts, fields


ROOTS: list[dict[str, object]] = [
    {"driver": "file", "node-name": "n", "filename": "/raw.img"},
    {"driver": "raw", "node-name": "n", "file": QDict({"driver": "file", "filename": "/raw.img"})},
    {"driver": "qcow2", "node-name": "n", "file": QDict({"driver": "file", "filename": "/top.qcow2"})},
    {"driver": "qcow2", "node-name": "n", "file": QDict({"driver": "file", "filename": "/top.qcow2"}),
     "backing": qnull},
    {"driver": "qcow2", "node-name": "n", "file": QDict({"driver": "file", "filename": "/top.qcow2"}),
     "backing": QDict({"driver": "qcow2", "file": QDict({"driver": "file", "filename": "/base.qcow2"})})},
    {"driver": "qcow2", "node-name": "n", "file": QDict({"driver": "file", "filename": "/solo.qcow2",
                                                         "cache": QDict({"direct": True})})},
    {"driver": "qcow2", "node-name": "n", "file": QDict({"driver": "file", "filename": "/top.qcow2"}),
     "cache": QDict({"no-flush": True}), "read-only": True, "auto-read-only": True},
]  # fmt: skip


@pytest.mark.parametrize("root", ROOTS, ids=lambda root: str(sorted(root)))
def test_plain_options_open_as_the_long_way(root: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    """Nodes of PLAIN_KEYS alone skip the option checks: the same nodes and infos as with them."""
    short = graph_after(QDict(root))  # type: ignore[arg-type]
    monkeypatch.setattr(graph_module, "PLAIN_KEYS", {})  # every node the long way
    assert graph_after(QDict(root)) == short  # type: ignore[arg-type]
