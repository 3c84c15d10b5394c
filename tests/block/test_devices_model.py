"""Guest disks, iothreads and AioContexts in the block model (iotest 245's iothread tests), on fake storage.

Pinned on qemu-system 7.2, 10.0 and 11.1 by the iotest-245-iothreads-* and virtio-scsi-iothread-null
scenarios in fixtures/block/scenarios.json.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from block.test_block_model import FakeStorage
from reference.block.devices import ACTIVE_BACKEND, NULL_IOTHREAD, device_add, machine_option, object_add
from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.query import named_block_nodes
from reference.block.reopen import blockdev_reopen
from reference.block.storage import ImageFacts
from reference.profiles import PROFILES, Profile
from reference.qmp.commands import HANDLERS, RAW_HANDLERS
from reference.qobject.values import QDict, QNull

IMAGE = ImageFacts("qcow2", 3 << 20, 65536)


def qdict(**options: Any) -> QDict:
    return QDict(
        {key.replace("_", "-"): QDict(v) if isinstance(v, dict) else v for key, v in options.items()}
    )


def machine(pci: bool = True, profile: Profile = PROFILES["7.2"], incoming: bool = False) -> BlockGraph:
    """hd0 and hd2 (iotest 245's hd_opts) and two iothreads, on a machine with or without a PCI bus."""
    g = BlockGraph(FakeStorage({"/hd0": (True, IMAGE), "/hd2": (True, IMAGE)}), profile)
    if pci:
        machine_option(g.devices, "-machine", "pc")
    if incoming:
        machine_option(g.devices, "-incoming", "defer")
    for index in (0, 2):
        file = {"driver": "file", "node-name": f"hd{index}-file", "filename": f"/hd{index}"}
        g.add(qdict(driver="qcow2", node_name=f"hd{index}", file=file))
    for name in ("iothread0", "iothread1"):
        object_add(g, qdict(qom_type="iothread", id=name))
    return g


def controllers(g: BlockGraph, first: str | None, second: str | None) -> None:
    """iotest 245's run_test_iothreads: scsi0 and scsi1, a share-rw disk on each with an iothread."""
    for index, (bus, iothread) in enumerate((("scsi0", first), ("scsi1", second))):
        device_add(g, qdict(driver="virtio-scsi", id=bus, iothread="" if iothread is None else iothread))
        if iothread is not None:
            device_add(g, qdict(driver="scsi-hd", drive=f"hd{2 * index}", share_rw=True, bus=f"{bus}.0"))


def link(g: BlockGraph, backing: object) -> None:
    blockdev_reopen(g, [qdict(driver="qcow2", node_name="hd0", file="hd0-file", backing=backing)])


def contexts(g: BlockGraph) -> dict[str, str | None]:
    return {node.name: g.devices.context(node) for node in g.nodes}


@pytest.mark.parametrize(
    ("first", "second", "moved"),
    [
        ("iothread0", "iothread0", {}),  # compatible users: nothing moves
        ("iothread0", None, {"hd2": "iothread0", "hd2-file": "iothread0"}),  # switch backing
        (None, "iothread0", {"hd0": "iothread0", "hd0-file": "iothread0"}),  # switch overlay
    ],
)
def test_a_backing_node_joins_its_overlays_context(
    first: str | None, second: str | None, moved: dict[str, str]
) -> None:
    g = machine()
    controllers(g, first, second)
    before = contexts(g)
    link(g, "hd2")
    assert g.find("hd0").backing is g.find("hd2")  # type: ignore[union-attr]
    assert contexts(g) == before | moved
    link(g, QNull())  # detaching moves nothing
    assert g.find("hd0").backing is None and contexts(g) == before | moved  # type: ignore[union-attr]


def test_two_disks_in_different_contexts_cannot_be_linked() -> None:
    g = machine()
    controllers(g, "iothread0", "iothread1")
    before = contexts(g)
    with pytest.raises(BlockError, match=f"^{ACTIVE_BACKEND}$"):
        link(g, "hd2")
    assert g.find("hd0").backing is None and contexts(g) == before  # type: ignore[union-attr]
    link(g, QNull())


def test_a_disk_in_the_main_loop_is_an_active_backend_too() -> None:
    g = machine()
    controllers(g, "iothread0", None)
    link(g, "hd2")
    link(g, QNull())
    device_add(g, qdict(driver="scsi-hd", drive="hd2", share_rw=True, bus="scsi1.0"))
    assert g.devices.context(g.find("hd2")) is None  # type: ignore[arg-type]
    with pytest.raises(BlockError, match=f"^{ACTIVE_BACKEND}$"):
        link(g, "hd2")


@pytest.mark.parametrize(
    "args",
    [
        {"driver": "virtio-blk", "id": "x"},
        {"driver": "virtio-scsi", "id": "scsi9", "iothread": "nope"},
        {"driver": "virtio-scsi", "id": "scsi0"},  # the id is taken
        {"driver": "virtio-scsi", "id": "0scsi"},
        {"driver": "scsi-hd", "drive": "hd0", "share-rw": False, "bus": "scsi0.0"},
        {"driver": "scsi-hd", "drive": "hd0-file", "share-rw": True, "bus": "scsi0.0"},  # hd0 holds it
        {"driver": "scsi-hd", "drive": "hd0", "share-rw": True, "bus": "scsi7.0"},
    ],
)
def test_what_the_test_does_not_do_abstains(args: dict[str, Any]) -> None:
    g = machine()
    controllers(g, "iothread0", None)
    with pytest.raises(NotModelled):
        device_add(g, qdict(**args))


def test_without_a_pci_bus_device_add_abstains() -> None:
    g = machine(pci=False)
    with pytest.raises(NotModelled):
        object_add(g, qdict(qom_type="iothread", id="1x"))
    with pytest.raises(NotModelled):
        device_add(g, qdict(driver="virtio-scsi", id="scsi0"))
    with pytest.raises(NotModelled):
        machine_option(g.devices, "-machine", "q35")


def test_with_devices_other_block_commands_and_other_reopens_abstain() -> None:
    g = machine()
    conn = SimpleNamespace(process=SimpleNamespace(block=g))
    assert "device_add" in RAW_HANDLERS
    with pytest.raises(NotModelled, match="with guest devices"):
        HANDLERS["blockdev-del"](conn, qdict(node_name="hd2"))  # type: ignore[arg-type]
    with pytest.raises(NotModelled, match="with guest devices"):
        blockdev_reopen(g, [qdict(driver="qcow2", node_name="hd0", file="hd0-file", read_only=True)])
    HANDLERS["query-named-block-nodes"](conn, qdict())  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["10.0", "11.1"])
def test_after_7_2_iothread_null_is_refused_and_empty_is_the_main_loop(version: str) -> None:
    g = machine(profile=PROFILES[version])
    with pytest.raises(BlockError, match=f"^{NULL_IOTHREAD}$"):
        device_add(g, qdict(driver="virtio-scsi", id="scsi0", iothread=QNull()))
    assert g.devices.controllers == {}
    device_add(g, qdict(driver="virtio-scsi", id="scsi0", iothread=""))
    assert g.devices.controllers == {"scsi0": None}
    seven = machine()
    device_add(seven, qdict(driver="virtio-scsi", id="scsi0", iothread=QNull()))  # 7.2: the main loop
    assert seven.devices.controllers == {"scsi0": None}


@pytest.mark.parametrize("version", ["10.0", "11.1"])
def test_after_7_2_a_disk_in_the_main_loop_moves(version: str) -> None:
    g = machine(profile=PROFILES[version])
    controllers(g, "iothread0", None)
    device_add(g, qdict(driver="scsi-hd", drive="hd2", share_rw=True, bus="scsi1.0"))
    link(g, "hd2")  # 7.2: ACTIVE_BACKEND (test_a_disk_in_the_main_loop_is_an_active_backend_too)
    assert contexts(g) == {
        "hd0": "iothread0",
        "hd0-file": "iothread0",
        "hd2": "iothread0",
        "hd2-file": "iothread0",
    }
    link(g, QNull())
    link(g, "hd2")  # both in iothread0 now: nothing to move
    link(g, QNull())
    # hd3 with a disk in iothread1 takes hd2 as its backing: whether hd2's moved disk is pinned now
    # was not seen, so the oracle abstains.
    g.storage.files["/hd3"] = (True, IMAGE)  # type: ignore[attr-defined]
    g.add(qdict(driver="qcow2", node_name="hd3", file={"driver": "file", "node-name": "hd3-file",
                                                       "filename": "/hd3"}))  # fmt: skip
    device_add(g, qdict(driver="virtio-scsi", id="scsi2", iothread="iothread1"))
    device_add(g, qdict(driver="scsi-hd", drive="hd3", share_rw=True, bus="scsi2.0"))
    with pytest.raises(NotModelled, match="moved off its controller"):
        blockdev_reopen(g, [qdict(driver="qcow2", node_name="hd3", file="hd3-file", backing="hd2")])


def test_a_disk_on_an_iothread_stays_pinned_after_7_2() -> None:
    g = machine(profile=PROFILES["10.0"])
    controllers(g, "iothread0", "iothread1")
    with pytest.raises(BlockError, match=f"^{ACTIVE_BACKEND}$"):
        link(g, "hd2")


@pytest.mark.parametrize("version", ["7.2", "10.0", "11.1"])
def test_nodes_opened_during_incoming_are_inactive(version: str) -> None:
    profile = PROFILES[version]
    g = machine(profile=profile, incoming=True)
    assert all(node.inactive for node in g.nodes)
    shown = {info.get("active") for info in named_block_nodes(g, flat=True)}  # type: ignore[union-attr]
    assert shown == ({False} if profile.node_info_active else {None})
    assert not any(node.inactive for node in machine(profile=profile).nodes)


def test_during_incoming_only_blockdev_add_and_the_device_commands_are_modelled() -> None:
    g = BlockGraph(FakeStorage({"/hd0": (True, IMAGE)}))
    machine_option(g.devices, "-incoming", "defer")
    conn = SimpleNamespace(process=SimpleNamespace(block=g))
    file = {"driver": "file", "node-name": "hd0-file", "filename": "/hd0"}
    HANDLERS["blockdev-add"](conn, qdict(driver="qcow2", node_name="hd0", file=file))  # type: ignore[arg-type]
    assert g.find("hd0").inactive  # type: ignore[union-attr]
    with pytest.raises(NotModelled, match="during -incoming"):
        HANDLERS["blockdev-del"](conn, qdict(node_name="hd0"))  # type: ignore[arg-type]
    with pytest.raises(NotModelled, match="with guest devices"):
        blockdev_reopen(g, [qdict(driver="qcow2", node_name="hd0", file="hd0-file", read_only=True)])
    HANDLERS["query-named-block-nodes"](conn, qdict())  # type: ignore[arg-type]
