"""Which error blockdev-reopen reports when an option error meets another (the block model, fake storage).

Pinned on qsd and qemu-system 7.2 by fixtures/block/cases/reopen-245-error-order.json.
"""

from __future__ import annotations

import pytest

from block.test_block_model import FakeStorage
from reference.block.errors import BlockError
from reference.block.graph import BlockGraph
from reference.block.reopen import blockdev_reopen
from reference.block.storage import ImageFacts
from reference.qobject.values import QDict

FACTS = ImageFacts("qcow2", 1 << 20, 65536)
UNMAP = "setting detect-zeroes to unmap is not allowed without setting discard operation to unmap"
FORCE_SHARE = "Cannot change the option 'force-share'"


def graph() -> BlockGraph:
    g = BlockGraph(FakeStorage({"/a": (True, FACTS), "/b": (True, FACTS)}))
    for name in ("a", "b"):
        file = QDict({"driver": "file", "node-name": f"{name}f", "filename": f"/{name}"})
        g.add(QDict({"driver": "qcow2", "node-name": name, "file": file}))
    return g


def entry(name: str, **extra: object) -> QDict:
    found = QDict({"driver": "qcow2", "node-name": name, "file": f"{name}f"})
    for key, value in extra.items():
        found.put(key.replace("_", "-"), value)  # type: ignore[arg-type]
    return found


def reopen_error(g: BlockGraph, *entries: QDict) -> str:
    with pytest.raises(BlockError) as raised:
        blockdev_reopen(g, list(entries))
    return raised.value.desc


def test_a_nodes_own_option_error_comes_before_its_links_and_unchanged_options() -> None:
    g = graph()
    assert reopen_error(g, entry("a", detect_zeroes="unmap", force_share=True)) == UNMAP
    assert reopen_error(g, entry("a", detect_zeroes="unmap", backing="nope")) == UNMAP
    assert reopen_error(g, entry("a", backing="nope")).startswith("Cannot find")  # alone it shows


def test_entries_are_prepared_in_their_order() -> None:
    g = graph()
    assert reopen_error(g, entry("a", force_share=True), entry("b", detect_zeroes="unmap")) == FORCE_SHARE
    assert reopen_error(g, entry("b", detect_zeroes="unmap"), entry("a", force_share=True)) == UNMAP


def test_permissions_are_checked_after_every_entry_is_prepared() -> None:
    g = graph()
    file = QDict({"driver": "file", "node-name": "af", "filename": "/a", "read-only": True})
    alone = reopen_error(g, file)
    assert alone == "Read-only block node 'af' cannot support read-write users"
    assert reopen_error(g, file, entry("b", detect_zeroes="unmap")) == UNMAP
    assert reopen_error(g, entry("b", detect_zeroes="unmap"), file) == UNMAP


def test_an_inline_child_is_prepared_after_its_parent() -> None:
    g = graph()
    child = {"driver": "file", "node-name": "af", "detect-zeroes": "unmap", "discard": "ignore"}
    moved = QDict({**child, "filename": "/b"})  # the child's own "Cannot change the option"
    assert reopen_error(g, entry("a", file=moved)) == UNMAP
    assert reopen_error(g, entry("a", file=moved, force_share=True)) == FORCE_SHARE
    plain = QDict({"driver": "file", "node-name": "af", "filename": "/b"})
    assert reopen_error(g, entry("a", file=plain)) == "Cannot change the option 'filename'"
    assert reopen_error(g, entry("a", file=plain, detect_zeroes="unmap")) == UNMAP
