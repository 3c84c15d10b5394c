"""Which of two reopen errors QEMU reports, in the model on fake storage.

Pinned on real binaries by fixtures/block/regressions.json regression-backing-entry-refresh-order
(qsd and qemu-system 7.2): a read-only file under a writable top is reported before the
backing's file that cannot open read-write, wherever the queue puts them.
"""

from __future__ import annotations

import pytest

from block.test_reopen_backing_entry_model import READ_ONLY, b, bf, graph, t
from reference.block.errors import BlockError
from reference.block.reopen import blockdev_reopen


def test_the_read_only_file_under_the_top_is_reported_before_the_mount() -> None:
    g = graph(writable=False, top_read_only=True)
    with pytest.raises(BlockError, match=READ_ONLY):
        blockdev_reopen(g, [bf(read_only=False), t(), b()])
    assert all(node.read_only for node in g.nodes)


def test_the_mount_alone_is_could_not_open() -> None:
    g = graph(writable=False, top_read_only=True)
    with pytest.raises(BlockError, match=r"^Could not open ./base."):
        blockdev_reopen(g, [t(read_only=True), bf(read_only=False), b()])
