"""Node's fast __init__ against the dataclass's generated one: same fields, same errors."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from reference.block.node import Node

# The dataclass's own __init__, as `dataclass` made it before node.py replaced it.
Twin = dataclasses.make_dataclass(
    "Twin",
    [(f.name, f.type, dataclasses.field(default=f.default, default_factory=f.default_factory, init=f.init))
     for f in dataclasses.fields(Node)],
    eq=False,
)  # fmt: skip

CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    (("f", False, "file", "", False, False), {}),
    (("t", True, "qcow2", "/x", True, False), {"auto_number": 3, "discard": "unmap", "cache_direct": True}),
    (("n", False, "raw", "", False, True, None, True), {"raw_size": 512, "raw_given": frozenset({"size"})}),
]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_fields_as_the_dataclass_sets_them(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    node, twin = Node(*args, **kwargs), Twin(*args, **kwargs)
    for f in dataclasses.fields(Node):
        if f.name not in ("stamp", "image_stamp"):
            assert getattr(node, f.name) == getattr(twin, f.name), f.name
    assert node.stamp > 0 and node.image_stamp == node.stamp


def test_each_node_has_its_own_lists() -> None:
    one, other = Node("a", False, "file", "", False, False), Node("b", False, "file", "", False, False)
    one.parents.append(other)
    one.query_cache["k"] = ()
    assert other.parents == [] and other.query_cache == {} and one.blockers is not other.blockers


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("a",), {}), (("a", False, "file", "", False, False), {"bogus": 1}), (tuple(range(40)), {})],
)
def test_wrong_arguments_are_refused(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        Node(*args, **kwargs)
    with pytest.raises(TypeError):
        Twin(*args, **kwargs)
