"""The oracle's data model without binaries: what HMP qemu-io reads through raw windows and qcow2
layers, qemu-io's report lines and the timing-line matcher, raw 'offset' / 'size' checks.

The same facts run against qemu-system-x86_64 7.2 in fixtures/block/cases/io-245.json
(tests/block/test_block_cases.py). Storage here is a fake whose files hold runs of bytes.
"""

from __future__ import annotations

from typing import Any

import pytest

from block.test_block_jobs_model import error, node, run
from conformance.block.content_facts import runs_of
from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.block.guest_data import Run, read_runs
from reference.block.hmp import human_monitor_command
from reference.block.qemu_io_report import TimingLine, human_size, output_matches, report
from reference.block.query import image_info
from reference.block.storage import FileFacts, ImageFacts
from reference.qobject.values import QDict

M = 1 << 20
OFFSET_ERROR = "Offset (2097153) cannot be greater than size of the containing file (2097152)"
SUM_ERROR = (
    "The sum of offset (0) and size (4194304) has to be smaller or equal to the "
    " actual size of the containing file (2097152)"
)
CLUSTER = 65536


def qcow2(size: int, backing: str | None = None) -> ImageFacts:
    return ImageFacts(
        "qcow2",
        size,
        CLUSTER,
        backing_file=backing,
        backing_format="qcow2" if backing else None,
        full_backing_file=backing,
    )


class DataStorage:
    """245's images: hd0..hd2 (3 MiB qcow2, hd1's header names hd0) and a 2 MiB raw file in halves."""

    def __init__(self) -> None:
        self.images = {"/hd0": qcow2(3 * M), "/hd1": qcow2(3 * M, "/hd0"), "/hd2": qcow2(3 * M), "/raw": None}
        # qcow2: the guest ranges each image holds itself; raw: the file's bytes
        self.held = {
            "/hd0": [(0, M, 0xA0)],
            "/hd1": [(M, M, 0xA1)],
            "/hd2": [(2 * M, M, 0xA2)],
            "/raw": [(0, M, 0xA0), (M, M, 0xA1)],
        }

    def open_error(self, path: str, write: bool) -> str | None:
        return None if path in self.images else "No such file or directory"

    def file(self, path: str) -> FileFacts:
        return FileFacts(size=2 * M if path == "/raw" else 400 * 1024, allocated=None)

    def image(self, path: str) -> ImageFacts | None:
        return self.images[path]

    def content(self, path: str, fmt: str) -> list[tuple[int, int, int]]:
        assert fmt == ("file" if path == "/raw" else "qcow2")
        return self.held[path]


def hd(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "driver": "qcow2",
        "node-name": f"hd{i}",
        "file": {"driver": "file", "node-name": f"hd{i}-file", "filename": f"/hd{i}"},
        **extra,
    }


RAW = {"driver": "raw", "node-name": "r", "file": {"driver": "file", "node-name": "rf", "filename": "/raw"}}


def io(g: BlockGraph, device: str, command: str) -> tuple[Any, list[Any]]:
    reply = human_monitor_command(g, QDict({"command-line": f'qemu-io {device} "{command}"'}))
    return reply, g.take_output() or []


def reads_as(g: BlockGraph, device: str, offset: int, length: int, pattern: int) -> bool:
    """A -P read passes: the report alone, no "Pattern verification failed" line."""
    reply, lines = io(g, device, f"read -P {pattern} {offset} {length}")
    assert reply == ""
    return lines == report("read", offset, length)


def graph_of_three() -> BlockGraph:
    g = BlockGraph(DataStorage())
    for i in range(3):
        run(g, "blockdev-add", **hd(i, backing=None))
    return g


def relink(g: BlockGraph, i: int, backing: str | None) -> None:
    run(g, "blockdev-reopen", options=[hd(i, backing=backing)])


def test_a_qcow2_layer_reads_its_own_data_then_its_backing_then_zeros() -> None:
    g = graph_of_three()
    assert [reads_as(g, "hd0", i * M, M, pattern) for i, pattern in enumerate((0xA0, 0, 0))] == [True] * 3
    relink(g, 0, "hd1")  # hd1 <- hd0
    assert [reads_as(g, "hd0", i * M, M, pattern) for i, pattern in enumerate((0xA0, 0xA1, 0))] == [True] * 3
    relink(g, 1, "hd2")  # hd2 <- hd1 <- hd0: two layers down
    assert reads_as(g, "hd0", 2 * M, M, 0xA2)
    relink(g, 1, None)  # detached again: zeros where hd2 answered
    assert reads_as(g, "hd0", 2 * M, M, 0)


def test_a_read_spanning_layers_fails_the_pattern_with_the_requests_offset_and_length() -> None:
    g = graph_of_three()
    relink(g, 0, "hd1")
    reply, lines = io(g, "hd0", "read -P 0xa0 512k 1M")
    assert reply == ""
    failed = "Pattern verification failed at offset 524288, 1048576 bytes"
    assert lines == [failed, *report("read", 512 * 1024, M)]
    assert read_runs(g.storage, node(g, "hd0"), 512 * 1024, M) == [
        Run(512 * 1024, 512 * 1024, 0xA0),
        Run(M, 512 * 1024, 0xA1),
    ]


def test_quiet_reads_print_only_a_pattern_failure() -> None:
    g = graph_of_three()
    assert io(g, "hd0", "read -q -P 0xa0 0 4k") == ("", [])
    failed = "Pattern verification failed at offset 0, 4096 bytes"
    assert io(g, "hd0", "read -q -P 0xa1 0 4k") == ("", [failed])


def test_a_read_past_the_end_fails_with_eio_and_no_report() -> None:
    g = graph_of_three()
    assert io(g, "hd2", "read -P 0 3M 512") == ("", ["read failed: Input/output error"])


def test_a_backing_shorter_than_its_overlay_reads_zeros_past_its_end() -> None:
    g = graph_of_three()
    storage = g.storage
    assert isinstance(storage, DataStorage)
    storage.images["/short"] = qcow2(M)
    storage.held["/short"] = [(0, M, 0x5A)]
    short = {**hd(2), "node-name": "short", "file": {"driver": "file", "filename": "/short"}}
    run(g, "blockdev-add", **short)
    relink(g, 1, "short")
    expected = [Run(0, M, 0x5A), Run(M, M, 0xA1), Run(2 * M, M, 0)]
    assert read_runs(g.storage, node(g, "hd1"), 0, 3 * M) == expected


def test_a_raw_window_shifts_reads_and_its_size_and_a_reopen_without_it_resets_it() -> None:
    g = BlockGraph(DataStorage())
    run(g, "blockdev-add", **RAW)
    assert reads_as(g, "r", 0, M, 0xA0)
    run(g, "blockdev-reopen", options=[{**RAW, "offset": M}])
    assert reads_as(g, "r", 0, M, 0xA1)
    assert io(g, "r", "read 1M 512") == ("", ["read failed: Input/output error"])
    assert image_info(node(g, "r")).get("virtual-size") == M
    filename = str(image_info(node(g, "r")).get("filename"))
    assert filename.startswith('json:{"offset": 1048576, "driver": "raw"')
    run(g, "blockdev-reopen", options=[RAW])
    assert reads_as(g, "r", 0, M, 0xA0)
    assert image_info(node(g, "r")).get("virtual-size") == 2 * M
    assert reads_as(g, "rf", M, 4096, 0xA1)  # the file node under it: a node name, a temporary BlockBackend


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"offset": 2 * M + 1}, OFFSET_ERROR),
        ({"size": 4 * M}, SUM_ERROR),
        ({"offset": 100, "size": 1000}, "Specified size is not multiple of 512"),
    ],
)
def test_raw_window_errors_at_add_and_at_reopen_change_nothing(window: dict[str, int], message: str) -> None:
    g = BlockGraph(DataStorage())
    assert error(g, "blockdev-add", **{**RAW, **window}) == ("GenericError", message)
    assert g.nodes == []
    run(g, "blockdev-add", **RAW)
    assert error(g, "blockdev-reopen", options=[{**RAW, "file": "rf", **window}]) == ("GenericError", message)
    assert node(g, "r").raw_offset == 0 and node(g, "r").raw_size is None


def test_an_unaligned_offset_with_an_aligned_size_is_a_window() -> None:
    g = BlockGraph(DataStorage())
    run(g, "blockdev-add", **RAW, offset=512, size=M)
    assert io(g, "r", "read 1M 512") == ("", ["read failed: Input/output error"])  # the window is 1 MiB
    expected = [Run(M - 1024, 512, 0xA0), Run(M - 512, 512, 0xA1)]
    assert read_runs(g.storage, node(g, "r"), M - 1024, 1024) == expected


def test_reads_abstain_without_content_facts_and_after_a_write() -> None:
    class NoContent(DataStorage):
        content = None  # type: ignore[assignment]

    g = BlockGraph(NoContent())
    run(g, "blockdev-add", **RAW)
    with pytest.raises(NotModelled):
        read_runs(g.storage, node(g, "r"), 0, 512)
    g = BlockGraph(DataStorage())
    run(g, "blockdev-add", **RAW)
    node(g, "rf").stale = True
    with pytest.raises(NotModelled):
        read_runs(g.storage, node(g, "r"), 0, 512)


def test_the_timing_line_accepts_qemu_ios_shapes_only() -> None:
    line = TimingLine(M)
    assert line.matches("1 MiB, 1 ops; 00.00 sec (4.820 GiB/sec and 4935.5662 ops/sec)")
    assert not line.matches("1 MiB, 1 ops; 0:00:01.25 sec (819.200 KiB/sec and 0.8000 ops/sec)")
    assert line.matches("1 MiB, 1 ops; 0:00:01.25 (819.200 KiB/sec and 0.8000 ops/sec)")
    assert line.matches("1 MiB, 1 ops; 00.00 sec (inf EiB/sec and inf ops/sec)")
    # aio_write -z on 7.2 never sets its start time: the elapsed time is the clock's since boot
    assert TimingLine(1024).matches("1 KiB, 1 ops; 7:40:43.90 (0.037043 bytes/sec and 0.0000 ops/sec)")
    assert TimingLine(0).matches("0 bytes, 1 ops; 00.00 sec (0 bytes/sec and 39452.4007 ops/sec)")
    for wrong in (
        "2 MiB, 1 ops; 00.00 sec (4.820 GiB/sec and 4935.5662 ops/sec)",  # another total
        "1 MiB, 2 ops; 00.00 sec (4.820 GiB/sec and 4935.5662 ops/sec)",  # another op count
        "1 MiB, 1 ops; 0.00 sec (4.820 GiB/sec and 4935.5662 ops/sec)",  # not %05.2f
        "1 MiB, 1 ops; 00.00 sec (4.82 GiB/sec and 4935.5662 ops/sec)",  # not %.3f
        "1 MiB, 1 ops; 00.00 sec (4.820 GB/sec and 4935.5662 ops/sec)",  # no such unit
        "1 MiB, 1 ops; 00.00 sec (4.820 GiB/sec and 4935.566 ops/sec)",  # not %.4f
        "1 MiB, 1 ops; 00.00 sec (4.000 GiB/sec and 4935.5662 ops/sec)",  # ".000" is cut off
        "1 MiB, 1 ops; 00.00 sec (0.037 bytes/sec and 4935.5662 ops/sec)",  # bytes are %f
        "1 MiB, 1 ops; 00.00 sec (4.820 GiB/sec and 4935.5662 ops/sec) ",
    ):
        assert not line.matches(wrong), wrong


def test_sizes_are_printed_as_qemu_io_rounds_them() -> None:
    # pinned with qemu-io 7.2 (and 60928 through HMP): "%.3f", an exact ".000" cut off
    sizes = (512, 4096, M, 1536, 2560, 3796, 60928, M + 1024, 3 * M)
    assert [human_size(n) for n in sizes] == [
        "512 bytes",
        "4 KiB",
        "1 MiB",
        "1.500 KiB",
        "2.500 KiB",
        "3.707 KiB",
        "59.500 KiB",
        "1.001 MiB",
        "3 MiB",
    ]


def test_output_must_be_the_predicted_lines_exactly() -> None:
    lines = report("read", 0, M)
    good = "read 1048576/1048576 bytes at offset 0\n"
    good += "1 MiB, 1 ops; 00.00 sec (5.344 GiB/sec and 5471.9263 ops/sec)\n"
    assert output_matches(lines, good)
    assert not output_matches(lines, good.replace("offset 0", "offset 1"))
    assert not output_matches(lines, good.rstrip("\n"))  # a line not finished
    assert not output_matches(lines, "Pattern verification failed at offset 0, 1048576 bytes\n" + good)
    assert not output_matches(lines, good + good)
    assert output_matches([], "") and not output_matches([], "read failed: Input/output error\n")


def test_content_runs_collapse_equal_bytes() -> None:
    assert runs_of(b"\xa0" * 3 + b"\x00" + b"\xa1" * 2, 10) == [(10, 3, 0xA0), (13, 1, 0), (14, 2, 0xA1)]
    assert runs_of(b"") == []


def wrote(g: BlockGraph, device: str, command: str, offset: int, length: int) -> None:
    reply, lines = io(g, device, command)
    assert reply == "" and lines == report("wrote", offset, length)


def test_a_partial_cluster_write_copies_the_rest_of_the_cluster_from_the_backing_of_that_time() -> None:
    g = graph_of_three()
    relink(g, 2, "hd1")  # hd1 <- hd2: hd1's 0xa1 shows at 1 MiB
    wrote(g, "hd2", "write -P 0x11 1M 512", M, 512)
    relink(g, 2, None)  # the cluster is hd2's own now: the copied 0xa1 stays, the rest is zeros
    assert read_runs(g.storage, node(g, "hd2"), M - 512, CLUSTER + 1024, g.guest_writes) == [
        Run(M - 512, 512, 0),
        Run(M, 512, 0x11),
        Run(M + 512, CLUSTER - 512, 0xA1),
        Run(M + CLUSTER, 512, 0),
    ]


def test_a_zero_write_into_an_empty_cluster_hides_a_later_backing_and_the_default_pattern_is_0xcd() -> None:
    g = graph_of_three()
    wrote(g, "hd0", "write -z 1M 512", M, 512)
    wrote(g, "hd0", "write 2M 512", 2 * M, 512)
    relink(g, 0, "hd1")
    assert reads_as(g, "hd0", M, CLUSTER, 0)
    assert reads_as(g, "hd0", M + CLUSTER, M - CLUSTER, 0xA1)
    assert reads_as(g, "hd0", 2 * M, 512, 0xCD)


def test_a_write_through_a_raw_window_lands_in_the_file_and_shows_through_another_node() -> None:
    g = BlockGraph(DataStorage())
    run(g, "blockdev-add", **RAW, offset=M)
    run(g, "blockdev-add", driver="raw", node_name="r2", file="rf")
    wrote(g, "r", "write -P 0x22 100 200", 100, 200)
    expected = [Run(M, 100, 0xA1), Run(M + 100, 200, 0x22), Run(M + 300, 212, 0xA1)]
    assert read_runs(g.storage, node(g, "r2"), M, 512, g.guest_writes) == expected
    assert node(g, "rf").written and node(g, "r2").written and not node(g, "rf").stale


def test_past_the_end_writes_nothing_and_a_job_write_abstains_later_reads() -> None:
    g = graph_of_three()
    reply, lines = io(g, "hd0", "aio_write -P 1 3M 512")
    assert reply == "" and lines == ["aio_write failed: Input/output error"]
    assert reads_as(g, "hd0", 0, M, 0xA0)
    node(g, "hd0-file").stale = True  # as a job leaves it
    with pytest.raises(NotModelled):
        io(g, "hd0", "read 0 512")


def test_a_qcow2_image_written_has_no_known_raw_bytes() -> None:
    g = graph_of_three()
    assert io(g, "hd0", "write -q 0 512") == ("", [])
    with pytest.raises(NotModelled):
        read_runs(g.storage, node(g, "hd0-file"), 0, 512, g.guest_writes)


def conflict(file: str, required_by: str, unshared_by: str) -> str:
    return (
        f"Permission conflict on node '{file}': permissions 'write, resize' are both required by node"
        f" '{required_by}' (uses node '{file}' as 'file' child) and unshared by node '{unshared_by}'"
        f" (uses node '{file}' as 'file' child)."
    )


def test_a_qcow2_node_given_anothers_file_is_a_permission_conflict_and_changes_nothing() -> None:
    g = graph_of_three()
    entry = {**hd(2, backing=None), "file": "hd0-file"}
    assert error(g, "blockdev-reopen", options=[entry]) == (
        "GenericError",
        conflict("hd0-file", "hd0", "hd2"),
    )
    assert node(g, "hd2").file_child is node(g, "hd2-file") and reads_as(g, "hd2", 2 * M, M, 0xA2)
    run(g, "blockdev-add", driver="raw", node_name="r", file="hd1-file")  # takes nothing, shares all
    entry = {**hd(2, backing=None), "file": "hd1-file"}
    assert error(g, "blockdev-reopen", options=[entry])[1] == conflict("hd1-file", "hd1", "hd2")


def test_a_shared_file_without_a_conflict_abstains() -> None:
    g = BlockGraph(DataStorage())
    for i in (0, 2):
        run(g, "blockdev-add", **hd(i, backing=None), read_only=True)
    with pytest.raises(NotModelled):  # QEMU accepts: two qcow2 nodes over one image file
        run(g, "blockdev-reopen", options=[{**hd(2, backing=None), "file": "hd0-file", "read-only": True}])


def test_a_new_file_refused_in_prepare_changes_nothing() -> None:
    """What a correct QEMU does (7.2 to 11.1 corrupt hd2: reopen-refused-file-swap in divergences.json)."""
    g = graph_of_three()
    entry = {**hd(2, backing=None), "file": "hd0-file", "force-share": False}
    assert error(g, "blockdev-reopen", options=[entry]) == (
        "GenericError",
        "Cannot change the option 'force-share'",
    )
    assert node(g, "hd2").file_child is node(g, "hd2-file") and reads_as(g, "hd2", 2 * M, M, 0xA2)
    assert node(g, "hd0-file").parents == [node(g, "hd0")]


@pytest.mark.parametrize(
    ("window", "shown"),
    [
        ({"size": 512}, '{"driver": "raw", "size": 512, "file": '),
        ({"offset": 0}, '{"offset": 0, "driver": "raw", "file": '),
        ({"offset": 512}, '{"offset": 512, "driver": "raw", "file": '),
        ({"offset": 0, "size": M}, '{"offset": 0, "driver": "raw", "size": 1048576, "file": '),
    ],
)
def test_a_raw_filename_names_the_window_options_given_and_only_those(
    window: dict[str, int], shown: str
) -> None:
    """Found by the stateful test (regressions.json raw-window-options-given): QEMU 7.2 shows the
    options as given, an offset of 0 too, at add and at reopen."""
    g = BlockGraph(DataStorage())
    run(g, "blockdev-add", **RAW, **window)
    assert str(image_info(node(g, "r")).get("filename")).startswith("json:" + shown)
    run(g, "blockdev-reopen", options=[RAW])
    assert image_info(node(g, "r")).get("filename") == "/raw"
    run(g, "blockdev-reopen", options=[{**RAW, "file": "rf", **window}])
    assert str(image_info(node(g, "r")).get("filename")).startswith("json:" + shown)
