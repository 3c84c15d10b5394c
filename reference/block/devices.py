"""Guest disks over block nodes and the AioContext each node runs in (iotest 245's iothread tests).

Verified on qemu-system-x86_64 7.2, 10.0 and 11.1 with -machine pc -incoming defer
(fixtures/block/scenarios.json, iotest-245-iothreads-*): object-add makes an iothread;
device_add virtio-scsi (an id, an iothread, "" or null) puts a SCSI bus "ID.0" on the PCI bus,
its disks running in the iothread's AioContext ("": the main loop's; null as "" on 7.2, refused
on 10.0 and 11.1: the profile's iothread_null_refused); device_add scsi-hd with drive=NODE,
share-rw on and that bus puts a BlockBackend on the node, which moves with its children to
the controller's context. A node given a new backing node by blockdev-reopen wants the backing
node in its own context: the backing node's side moves unless a pinned disk holds it, else the
overlay's side moves unless a pinned disk holds it, else the reopen fails: "Cannot change
iothread of active block backend". Every disk is pinned on 7.2; on 10.0 and 11.1 a disk on a
controller without iothread is not (main_loop_disks_move), and once moved, whether it is
pinned is not known (abstains). Detaching ('backing': null) moves nothing. With -incoming
every node opened is inactive (query-named-block-nodes' "active": false where shown).

Only this is modelled: while a device exists (or during -incoming, blockdev-add aside), the
block commands other than query-named-block-nodes and a reopen changing nothing but one node's
backing link abstain,
and so does anything here beyond what the test does (other drivers and properties,
duplicate ids, disks that are not share-rw, nodes with other users). -machine none has no
PCI bus: its device_add abstains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reference.block.errors import BlockError, NotModelled
from reference.block.node import Node
from reference.qobject.values import QDict, QNull

if TYPE_CHECKING:
    from reference.block.graph import BlockGraph

ACTIVE_BACKEND = "Cannot change iothread of active block backend"
NULL_IOTHREAD = "Invalid parameter type for 'iothread', expected: string"  # 10.0, 11.1
WELL_FORMED_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")  # QEMU refuses other ids: not modelled
Context = str | None  # an iothread's id; None: the main loop


@dataclass
class Devices:
    pci: bool = False  # the machine has a PCI bus (-machine pc)
    incoming: bool = False  # -incoming defer: waiting for a migration, nodes open inactive
    iothreads: list[str] = field(default_factory=list)
    controllers: dict[str, Context] = field(default_factory=dict)  # virtio-scsi id: its context
    disks: dict[Node, str] = field(default_factory=dict)  # node: the controller its scsi-hd sits on
    contexts: dict[Node, str] = field(default_factory=dict)  # nodes outside the main loop
    moved_disks: set[Node] = field(default_factory=set)  # disks moved off their controller's context

    def in_use(self) -> bool:
        return bool(self.iothreads or self.controllers)

    def context(self, node: Node) -> Context:
        return self.contexts.get(node)

    def move(self, nodes: list[Node], context: Context) -> None:
        for node in nodes:
            if node in self.disks and context != self.controllers[self.disks[node]]:
                self.moved_disks.add(node)
            if context is None:
                self.contexts.pop(node, None)
            else:
                self.contexts[node] = context


def machine_option(devices: Devices, option: str, value: str) -> None:
    """A command-line option that makes no block node: -machine, -incoming."""
    if option == "-machine" and value == "pc":
        devices.pci = True
    elif option == "-incoming" and value == "defer":
        devices.incoming = True
    else:
        raise NotModelled(f"{option} {value} is not modelled")


def object_add(graph: BlockGraph, args: QDict) -> None:
    devices = graph.devices
    name = args.get("id")
    if args.get("qom-type") != "iothread" or set(args.keys()) != {"qom-type", "id"}:
        raise NotModelled("object-add: only an iothread with no properties is modelled")
    assert isinstance(name, str), "the input visitor checked 'id'"
    if name in devices.iothreads or not WELL_FORMED_ID.fullmatch(name):
        raise NotModelled("object-add: a duplicate or malformed id is not modelled")
    devices.iothreads.append(name)


def device_add(graph: BlockGraph, args: QDict) -> None:
    """device_add's raw arguments (no visitor): anything the test does not do abstains."""
    driver = args.get("driver")
    if driver == "virtio-scsi" and set(args.keys()) <= {"driver", "id", "iothread"}:
        _add_controller(graph, args)
    elif driver == "scsi-hd" and set(args.keys()) == {"driver", "drive", "share-rw", "bus"}:
        _add_disk(graph, args)
    else:
        raise NotModelled("device_add: only virtio-scsi and share-rw scsi-hd as iotest 245 adds them")


def _add_controller(graph: BlockGraph, args: QDict) -> None:
    devices = graph.devices
    name, iothread = args.get("id"), args.get("iothread") if "iothread" in args else ""
    if isinstance(iothread, QNull) and graph.profile.iothread_null_refused:
        raise BlockError(NULL_IOTHREAD)
    if not devices.pci or not isinstance(name, str) or name in devices.controllers:
        raise NotModelled("device_add: virtio-scsi without a PCI bus, an id, or with a used id")
    if not WELL_FORMED_ID.fullmatch(name):
        raise NotModelled("device_add: a malformed id is not modelled")
    if isinstance(iothread, QNull) or iothread == "":
        devices.controllers[name] = None
    elif isinstance(iothread, str) and iothread in devices.iothreads:
        devices.controllers[name] = iothread
    else:
        raise NotModelled("device_add: an iothread that is not an iothread's id is not modelled")


def _add_disk(graph: BlockGraph, args: QDict) -> None:
    devices = graph.devices
    name, bus = args.get("drive"), args.get("bus")
    controller = bus.removesuffix(".0") if isinstance(bus, str) and bus.endswith(".0") else None
    node = graph.find(name) if isinstance(name, str) else None
    if controller not in devices.controllers or node is None or args.get("share-rw") is not True:
        raise NotModelled(
            "device_add: scsi-hd on an unknown bus or node, or without share-rw, is not modelled"
        )
    family = [node, *_below(node)]
    if node.parents or node.read_only or node in devices.disks or graph.jobs or _other_users(graph, family):
        raise NotModelled("device_add: scsi-hd on a node with other users or read-only is not modelled")
    if any(devices.context(member) != devices.context(node) for member in family):
        raise NotModelled("device_add: scsi-hd over nodes in several AioContexts is not modelled")
    devices.disks[node] = controller
    devices.move(family, devices.controllers[controller])


def attach_backing(graph: BlockGraph, overlay: Node, backing: Node) -> list[tuple[list[Node], Context]]:
    """The moves that put BACKING in OVERLAY's context (none needed: []); QEMU's error where none can."""
    devices = graph.devices
    mine, theirs = devices.context(overlay), devices.context(backing)
    if mine == theirs:
        return []
    if overlay.backing is not None:  # which side QEMU moves while the old link goes: not pinned
        raise NotModelled("blockdev-reopen: replacing a backing node across AioContexts is not modelled")
    child_side = [backing, *_below(backing)]
    parent_side = _tree_of(overlay)
    if any(node in devices.moved_disks for node in child_side + parent_side):
        raise NotModelled("blockdev-reopen: a disk moved off its controller's context is not modelled")
    for side, context in ((child_side, mine), (parent_side, theirs)):
        if not any(_pinned(graph, node) for node in side):
            return [(side, context)]
    raise BlockError(ACTIVE_BACKEND)


def _pinned(graph: BlockGraph, node: Node) -> bool:
    """A disk sits on the node that QEMU will not move to another AioContext."""
    devices = graph.devices
    if node not in devices.disks:
        return False
    in_main_loop = devices.controllers[devices.disks[node]] is None
    return not (in_main_loop and graph.profile.main_loop_disks_move)


def check_reopen(graph: BlockGraph, entries: list[QDict]) -> None:
    """With devices about (or during -incoming), only a reopen changing one backing link is modelled."""
    if not graph.devices.in_use() and not graph.devices.incoming:
        return
    if len(entries) != 1 or not set(entries[0].keys()) <= {"driver", "node-name", "file", "backing"}:
        raise NotModelled("blockdev-reopen: option changes with guest devices are not modelled")
    if not isinstance(entries[0].get("file"), str):
        raise NotModelled("blockdev-reopen: inline children with guest devices are not modelled")


def _below(node: Node) -> list[Node]:
    found: list[Node] = []
    for child in node.children():
        found += [child, *_below(child)]
    return found


def _tree_of(node: Node) -> list[Node]:
    """The node, what it reaches, and its parents' trees (one graph component, as QEMU walks it)."""
    seen: list[Node] = []
    todo = [node]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        todo += [*current.parents, *current.children()]
    return seen


def _other_users(graph: BlockGraph, family: list[Node]) -> bool:
    """Someone besides the family's own links holds one of its nodes."""
    outside = any(parent not in family for member in family[1:] for parent in member.parents)
    return outside or any(member.backend is not None or graph.exported(member) for member in family)
