"""The oracle's compress filter without binaries (reference/block/compress_filter.py, qcow2_hosting.py).

The same facts run against qsd and qemu-system-x86_64 7.2 in fixtures/block/cases/compress-filter.json
and iotest-245.json's iotest-245-insert-compress-filter (tests/block/test_block_cases.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from block.test_block_jobs_model import error, run
from block.test_data_model import DataStorage, hd, io, reads_as
from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.block.qemu_io_report import report
from reference.block.storage import ImageFacts
from reference.profiles import PROFILES

K = 1 << 10
M = 1 << 20
EIO = ["write failed: Input/output error"]


class CompressStorage(DataStorage):
    """DataStorage's images as version 3 (compat 1.1) qcow2, or as version 2 where asked."""

    def __init__(self, compat: str = "1.1") -> None:
        super().__init__()
        for path, facts in self.images.items():
            if facts is not None:
                specific = {"type": "qcow2", "data": {"compat": compat}}
                self.images[path] = ImageFacts(
                    facts.format, facts.virtual_size, facts.cluster_size, format_specific=specific
                )


def with_filter(compat: str = "1.1", over: Any = "hd0") -> BlockGraph:
    """245's test_insert_compress_filter: hd (raw) over hd0 (qcow2), compress0 over `over`."""
    g = BlockGraph(CompressStorage(compat))
    run(g, "blockdev-add", driver="raw", node_name="hd", file=hd(0))
    run(g, "blockdev-add", driver="compress", node_name="compress0", file=over)
    return g


def wrote(offset: int, length: int) -> list[Any]:
    return report("wrote", offset, length)


@pytest.mark.parametrize(("child", "name"), [("hd0-file", "file"), ("hd", "raw")])
def test_the_filter_needs_a_format_that_writes_compressed_data(child: str, name: str) -> None:
    g = BlockGraph(CompressStorage())
    run(g, "blockdev-add", driver="raw", node_name="hd", file=hd(0))
    expected = f"Compression is not supported for underlying format: {name}"
    refused = error(g, "blockdev-add", driver="compress", node_name="c", file=child)
    assert refused == ("GenericError", expected)
    assert g.find("c") is None


def test_the_filter_has_no_reopen_and_keeps_its_child_busy() -> None:
    g = with_filter()
    assert error(g, "blockdev-add", driver="compress", node_name="c2", file="compress0")[1] == (
        "Compression is not supported for underlying format: compress"
    )
    options = [{"driver": "compress", "node-name": "compress0", "file": "hd0"}]
    assert error(g, "blockdev-reopen", options=options)[1] == (
        "Block format 'compress' used by node 'compress0' does not support reopening files"
    )
    run(g, "blockdev-del", node_name="compress0")
    assert g.find("compress0") is None and g.find("hd0") is not None


def test_245_a_cluster_freed_by_write_z_u_takes_one_compressed_write() -> None:
    g = with_filter()
    assert io(g, "hd", "write -z -u 0 128k")[1] == wrote(0, 128 * K)
    assert io(g, "hd", "write -P 0xa0 0 64k")[1] == wrote(0, 64 * K)
    run(g, "blockdev-reopen", options=[{"driver": "raw", "node-name": "hd", "file": "compress0"}])
    assert io(g, "hd", "write -P 0xa1 64k 64k")[1] == wrote(64 * K, 64 * K)
    assert io(g, "hd", "write -P 0xa3 64k 64k")[1] == EIO  # it has a host cluster now
    assert io(g, "hd", "write -P 0xa3 0 64k")[1] == EIO  # written plainly before
    run(g, "blockdev-reopen", options=[{"driver": "raw", "node-name": "hd", "file": "hd0"}])
    assert reads_as(g, "hd", 0, 64 * K, 0xA0) and reads_as(g, "hd", 64 * K, 64 * K, 0xA1)


def test_a_write_inside_a_cluster_is_widened_and_reads_back() -> None:
    g = with_filter()
    io(g, "hd0", "write -z -u 0 256k")
    assert io(g, "compress0", "write -P 0x11 4k 4k")[1] == wrote(4 * K, 4 * K)
    assert reads_as(g, "compress0", 0, 4 * K, 0) and reads_as(g, "hd0", 4 * K, 4 * K, 0x11)
    assert io(g, "compress0", "write -P 0x12 8k 4k")[1] == EIO  # the whole cluster was written
    assert io(g, "compress0", "write -P 0x12 64k 128k")[1] == wrote(64 * K, 128 * K)


def test_what_the_model_cannot_tell_abstains() -> None:
    g = with_filter()
    with pytest.raises(NotModelled):  # held before the session: a host cluster or a zero one?
        io(g, "compress0", "write -P 0x11 0 64k")
    g = with_filter()
    io(g, "hd0", "write -z 0 4k")  # a partial zero write
    with pytest.raises(NotModelled):
        io(g, "compress0", "write -P 0x11 0 64k")
    g = with_filter(compat="0.10")  # no zero clusters: what -u leaves is not followed
    io(g, "hd0", "write -z -u 0 64k")
    with pytest.raises(NotModelled):
        io(g, "compress0", "write -P 0x11 0 64k")
    g = with_filter()
    io(g, "hd0", "write -z -u 0 64k")
    with pytest.raises(NotModelled):  # one cluster free, one held: only part would fail
        io(g, "compress0", "write -P 0x11 0 128k")


def test_zeros_through_the_filter_pass_on_and_free_a_compressed_cluster() -> None:
    g = with_filter()
    io(g, "hd0", "write -z -u 0 64k")
    assert io(g, "compress0", "write -P 0x11 0 64k")[1] == wrote(0, 64 * K)
    assert io(g, "compress0", "write -z 0 64k")[1] == wrote(0, 64 * K)
    assert reads_as(g, "hd0", 0, 64 * K, 0)
    # a compressed cluster cannot be zeroed in place: it is freed and takes a compressed write
    assert io(g, "compress0", "write -P 0x12 0 64k")[1] == wrote(0, 64 * K)
    with pytest.raises(NotModelled):  # its edges would go compressed
        io(g, "compress0", "write -z 0 4k")


class HostedStorage(CompressStorage):
    """CompressStorage that says which ranges have a host offset: those the images hold, plainly."""

    def hosting(self, path: str) -> list[tuple[int, int, str]]:
        return [(offset, length, "plain") for offset, length, _byte in self.held[path]]


def hosted_filter(profile: str = "7.2", **hd0: Any) -> BlockGraph:
    """hd0 (qcow2, options hd0) with compress0 over it, on a profile's rules."""
    g = BlockGraph(HostedStorage(), PROFILES[profile])
    run(g, "blockdev-add", **hd(0, **hd0))
    run(g, "blockdev-add", driver="compress", node_name="compress0", file="hd0")
    return g


def test_a_held_plain_cluster_takes_no_compressed_write_and_keeps_its_host_under_write_z() -> None:
    g = hosted_filter()
    assert io(g, "compress0", "write -P 0x11 0 64k")[1] == EIO
    assert io(g, "compress0", "write -P 0x11 1M 64k")[1] == wrote(M, 64 * K)  # not held: none
    io(g, "hd0", "write -z 0 64k")  # zeroed in place: it keeps its host cluster
    assert io(g, "compress0", "write -P 0x11 0 64k")[1] == EIO
    assert reads_as(g, "hd0", 0, 64 * K, 0)


@pytest.mark.parametrize(("profile", "discard", "freed"), [
    ("7.2", None, True),  # 7.2 does not ask the node written to
    ("7.2", "unmap", True),
    ("10.0", None, False),  # 10.0 and 11.1 do: its default discard=ignore keeps the host cluster
    ("10.0", "unmap", True),
    ("11.1", None, False),
])  # fmt: skip
def test_write_z_u_on_the_qcow2_node_frees_as_the_version_and_its_discard_say(
    profile: str, discard: str | None, freed: bool
) -> None:
    g = hosted_filter(profile, **({"discard": discard} if discard else {}))
    assert io(g, "hd0", "write -z -u 0 64k")[1] == wrote(0, 64 * K)
    answer = io(g, "compress0", "write -P 0x11 0 64k")[1]
    assert answer == (wrote(0, 64 * K) if freed else EIO)
    assert reads_as(g, "hd0", 0, 64 * K, 0x11 if freed else 0)


@pytest.mark.parametrize(("profile", "raw", "qcow2", "freed"), [
    ("7.2", None, None, True),  # the qcow2 child inherits 'unmap'; 7.2 asks only it
    ("7.2", "unmap", "ignore", False),
    ("10.0", None, None, False),  # 10.0 asks the raw node too
    ("10.0", "unmap", None, True),
    ("10.0", "unmap", "ignore", False),
])  # fmt: skip
def test_write_z_u_through_a_raw_node_needs_unmap_on_the_nodes_that_check_it(
    profile: str, raw: str | None, qcow2: str | None, freed: bool
) -> None:
    g = BlockGraph(HostedStorage(), PROFILES[profile])
    inline = hd(0, **({"discard": qcow2} if qcow2 else {}))
    run(g, "blockdev-add", driver="raw", node_name="hd", file=inline, **({"discard": raw} if raw else {}))
    run(g, "blockdev-add", driver="compress", node_name="compress0", file="hd0")
    io(g, "hd", "write -z -u 0 64k")
    assert io(g, "compress0", "write -P 0x11 0 64k")[1] == (wrote(0, 64 * K) if freed else EIO)


class CompressedStorage(CompressStorage):
    """The images hold their ranges compressed."""

    def hosting(self, path: str) -> list[tuple[int, int, str]]:
        return [(offset, length, "compressed") for offset, length, _byte in self.held[path]]


def test_a_held_compressed_cluster_takes_no_compressed_write_until_zeroed() -> None:
    g = BlockGraph(CompressedStorage(), PROFILES["10.0"])
    run(g, "blockdev-add", **hd(0))
    run(g, "blockdev-add", driver="compress", node_name="compress0", file="hd0")
    assert io(g, "compress0", "write -P 0x11 0 64k")[1] == EIO
    io(g, "hd0", "write -z -u 0 64k")  # not unmapped (10.0, discard=ignore), yet freed: compressed
    assert io(g, "compress0", "write -P 0x11 0 64k")[1] == wrote(0, 64 * K)


def test_a_cluster_only_partly_mapped_abstains() -> None:
    class Partly(CompressStorage):
        def hosting(self, path: str) -> list[tuple[int, int, str]]:
            return [(0, 32 * K, "plain")]

    g = BlockGraph(Partly())
    run(g, "blockdev-add", **hd(0))
    run(g, "blockdev-add", driver="compress", node_name="compress0", file="hd0")
    with pytest.raises(NotModelled):
        io(g, "compress0", "write -P 0x11 0 64k")
