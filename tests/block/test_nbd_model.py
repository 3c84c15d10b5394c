"""The nbd driver in the block model, without binaries: facts in, predictions out."""

from __future__ import annotations

import pytest

from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.nbd import READ_ONLY_EXPORT
from reference.block.query import named_block_nodes
from reference.block.reopen import blockdev_reopen
from reference.block.storage import FileFacts, ImageFacts, NbdExport, UnknownStorage
from reference.qobject.values import QDict

SOCKET = "/run/nbd.sock"


class NbdOnly(UnknownStorage):
    """One server at SOCKET with one export, "disk"; files are unknown."""

    def __init__(self, read_only: bool) -> None:
        self.read_only = read_only

    def nbd_export(self, socket_path: str, export: str) -> NbdExport:
        assert socket_path == SOCKET
        return NbdExport(exists=export == "disk", read_only=self.read_only, size=1000)


class FilesOnly:
    """StorageFacts without nbd_export (the older protocol): nbd nodes abstain."""

    def open_error(self, path: str, write: bool) -> str | None:
        return None

    def file(self, path: str) -> FileFacts:
        return FileFacts(size=0, allocated=0)

    def image(self, path: str) -> ImageFacts | None:
        return None


def nbd(flags: dict[str, bool] | None = None, export: str = "disk") -> QDict:
    opts = QDict({"driver": "nbd", "server": QDict({"type": "unix", "path": SOCKET}), "export": export})
    for key, value in (flags or {}).items():
        opts.put(key.replace("_", "-"), value)
    return opts


def named(opts: QDict, name: str = "n") -> QDict:
    opts.put("node-name", name)
    return opts


@pytest.mark.parametrize(
    ("export_ro", "flags", "ro"),
    [
        (False, {}, False),
        (False, {"read_only": True}, True),
        (True, {"read_only": True}, True),
        (True, {"auto_read_only": True}, True),  # degrades, no error
    ],
)
def test_nbd_node_ro(export_ro: bool, flags: dict[str, bool], ro: bool) -> None:
    graph = BlockGraph(NbdOnly(export_ro))
    graph.add(named(nbd(flags)))
    (info,) = named_block_nodes(graph)
    assert isinstance(info, QDict)
    assert info.get("ro") is ro
    assert info.get("file") == f"nbd+unix:///disk?socket={SOCKET}"
    image = info.get("image")
    assert isinstance(image, QDict)
    # nbd has neither get_info nor an allocated size.
    assert "dirty-flag" not in image and "actual-size" not in image
    assert image.get("virtual-size") == 1024  # whole sectors


@pytest.mark.parametrize("flags", [{}, {"auto_read_only": False}, {"read_only": False}])
def test_read_only_export_refuses_writers_without_auto_read_only(flags: dict[str, bool]) -> None:
    graph = BlockGraph(NbdOnly(True))
    with pytest.raises(BlockError) as err:
        graph.add(named(nbd(flags)))
    assert err.value.desc == READ_ONLY_EXPORT
    assert graph.nodes == []


def test_raw_over_nbd_degrades_only_the_child() -> None:
    graph = BlockGraph(NbdOnly(True))
    graph.add(
        QDict(
            {"driver": "raw", "node-name": "r", "auto-read-only": True, "file": nbd({"auto_read_only": True})}
        )
    )
    raw, child = named_block_nodes(graph)
    assert isinstance(raw, QDict) and isinstance(child, QDict)
    assert (raw.get("ro"), child.get("ro")) == (False, True)
    image = raw.get("image")
    assert isinstance(image, QDict) and "dirty-flag" not in image


@pytest.mark.parametrize(
    ("storage", "opts"),
    [
        (NbdOnly(False), named(nbd(export="other"))),  # the server's refusal is not modelled
        (FilesOnly(), named(nbd())),
        (UnknownStorage(), named(nbd())),
        (
            NbdOnly(False),
            QDict(
                {
                    "driver": "nbd",
                    "node-name": "n",
                    "server": QDict({"type": "inet", "host": "h", "port": "1"}),
                }
            ),
        ),
    ],
)
def test_abstains(storage: object, opts: QDict) -> None:
    graph = BlockGraph(storage)  # type: ignore[arg-type]
    with pytest.raises(NotModelled):
        graph.add(opts)


def test_reopen_over_nbd_abstains() -> None:
    graph = BlockGraph(NbdOnly(False))
    graph.add(named(nbd()))
    with pytest.raises(NotModelled):
        blockdev_reopen(graph, [named(nbd())])
