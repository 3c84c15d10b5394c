"""The NBD server and block exports (QEMU 7.2): nbd-server-start/stop, block-export-add/del.

Pinned on qemu-storage-daemon and qemu-system 7.2 (seed truth table, stateful
test): block-export-add checks the id (well formed, not in use), looks the
node up, refuses a writable export of a read-only node, takes its
permissions (a writable export is a writer: an auto-read-only file node goes
read-write where the storage allows, else "Could not open ..."), and only
then asks the NBD server ("NBD server not running", a name in use). An
export takes read (and write) sharing everything; the NBD server then takes
resize away from the others: on a node with parents either step can be a
"Permission conflict" (reference/block/permissions.py). The list of exports
is newest first; deleting one (no clients here, so mode safe and hard are
alike) emits BLOCK_EXPORT_DELETED before the reply; nbd-server-stop deletes
them all, their events oldest first.

nbd-server-add / nbd-server-remove (deprecated, still in 7.2) are
block-export-add / -del underneath (seen on qsd 7.2): the device is looked up
first (before the server is asked), the export's id is its NBD name (default:
the device), a read-only node is exported read-only however 'writable' says,
and nbd-server-remove takes an export id, not an NBD name.

Connected clients are an input (connect_client / disconnect_client: the
harness says what it did). Seen on qsd and qemu-system 7.2 with a client
connected: block-export-del mode=safe (the default, also nbd-server-remove's)
answers "export '<id>' still in use" and nothing changes; mode=hard replies
first, the export goes when its clients are cut off, so BLOCK_EXPORT_DELETED
comes after the reply; nbd-server-stop waits for the exports to go, so its
events come before the reply. A cut-off client's next request finds the
connection closed. blockdev-del, blockdev-reopen and query-block-exports
answer as without clients.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.names import lookup_error, well_formed
from reference.block.node import Node
from reference.block.other_roles import OTHER_DRIVERS
from reference.block.permissions import ALL, User, check, child_user, export_user, parent_user, users_of
from reference.block.raw_window import visible_size
from reference.qobject.values import QDict, QObject

EXPORT_OPTIONS = frozenset({"type", "id", "node-name", "writable", "name"})
LEGACY_ADD_OPTIONS = frozenset({"device", "name", "writable"})
DELETE_MODES = ("safe", "hard")
PASS_DOWN = frozenset({"raw", "throttle"})  # nodes handing their users' permissions to their file
NOT_RUNNING = "NBD server not running"


@dataclass(eq=False)
class Export:
    id: str
    node: Node
    name: str  # the NBD export name (default: the node's name)
    writable: bool
    seq: int = 0  # when it attached to the node (permission checks go newest first)


def nbd_server_start(graph: BlockGraph, args: QDict) -> None:
    if set(args.keys()) != {"addr"}:
        raise NotModelled("nbd-server-start: tls-creds, tls-authz and max-connections are not modelled")
    addr = args.get("addr")
    assert isinstance(addr, QDict), "the input visitor checked 'addr'"
    data = addr.get("data")
    if addr.get("type") != "unix" or not isinstance(data, QDict) or set(data.keys()) != {"path"}:
        raise NotModelled("nbd-server-start: addresses other than a unix socket path are not modelled")
    if graph.nbd_socket is not None:
        raise BlockError("NBD server already running")
    path = data.get("path")
    assert isinstance(path, str)
    graph.nbd_socket = path  # binding is assumed to work: the harness hands out a fresh folder


def nbd_server_stop(graph: BlockGraph, args: QDict) -> None:
    if graph.nbd_socket is None:
        raise BlockError(NOT_RUNNING)
    if len(graph.exports) > 1 and any(graph.clients_of(export) for export in graph.exports):
        # seen once on qsd 7.2: newest first then, but when each goes depends on its clients
        raise NotModelled("nbd-server-stop: the order of several exports' events with clients connected")
    for export in list(reversed(graph.exports)):  # seen on qsd 7.2: the oldest export's event first
        _remove(graph, export, "before")  # the server waits for every export to go before replying
    graph.nbd_socket = None


def block_export_add(graph: BlockGraph, args: QDict) -> None:
    if not set(args.keys()) <= EXPORT_OPTIONS or args.get("type") != "nbd":
        raise NotModelled(
            "block-export-add: options other than id, node-name, writable and name are not modelled"
        )
    if graph.jobs:
        raise NotModelled("block-export-add while a block job runs is not modelled")
    ident, node_name = args.get("id"), args.get("node-name")
    assert isinstance(ident, str) and isinstance(node_name, str), "the input visitor checked them"
    if not well_formed(ident):
        raise BlockError("Invalid block export id")
    if any(export.id == ident for export in graph.exports):
        raise BlockError(f"Block export id '{ident}' is already in use")
    node = graph.find(node_name)
    if node is None:
        raise lookup_error(graph.profile, "", node_name)
    if node.driver in OTHER_DRIVERS - PASS_DOWN:  # its size and what it takes of its children: not modelled
        raise NotModelled(f"block-export-add: an export of a {node.driver} node is not modelled")
    writable = args.get("writable") is True
    if writable and node.read_only:
        raise BlockError("Cannot export read-only node as writable")
    seq = graph.next_seq()
    # Attaching: the export shares everything yet, but may take what a parent unshares.
    _check_users(graph, node, export_user(writable, seq, ALL))
    if writable:
        _take_write(graph, node)
    if graph.nbd_socket is None:
        raise BlockError(NOT_RUNNING)
    given = args.get("name")
    name = given if isinstance(given, str) else node_name
    if any(export.name == name for export in graph.exports):
        raise BlockError(f"NBD server already has export named '{name}'")
    _check_users(graph, node, export_user(writable, seq))  # the NBD server takes resize away
    graph.exports.insert(0, Export(ident, node, name, writable, seq))


def block_export_del(graph: BlockGraph, args: QDict) -> None:
    if "mode" in args and args.get("mode") not in DELETE_MODES:
        raise NotModelled("block-export-del: an unknown mode")
    ident = args.get("id")
    export = next((e for e in graph.exports if e.id == ident), None)
    if export is None:
        raise BlockError(f"Export '{ident}' is not found")
    clients = graph.clients_of(export)
    if clients and args.get("mode") in (None, "safe"):
        raise BlockError(f"export '{ident}' still in use")
    # cutting clients off waits for them; 5.2 deletes even an idle export after replying
    _remove(graph, export, "after" if clients or graph.profile.export_deleted_after_reply else "before")


def nbd_server_add(graph: BlockGraph, args: QDict) -> None:
    extra = sorted(set(args.keys()) - LEGACY_ADD_OPTIONS)
    if extra:
        raise NotModelled(f"nbd-server-add: option {extra[0]} is not modelled")
    device = args.get("device")
    assert isinstance(device, str), "the input visitor checked 'device'"
    if any(node.backend == device for node in graph.nodes):
        raise NotModelled("nbd-server-add of a BlockBackend (its eject notifier) is not modelled")
    node = graph.find(device)
    if node is None:
        raise lookup_error(graph.profile, device, device)
    given = args.get("name")
    name = given if isinstance(given, str) else device
    writable = args.get("writable") is True and not node.read_only  # downgraded, not refused
    options = QDict({"type": "nbd", "id": name, "node-name": node.name, "writable": writable, "name": name})
    block_export_add(graph, options)


def nbd_server_remove(graph: BlockGraph, args: QDict) -> None:
    name, mode = args.get("name"), args.get("mode")
    assert isinstance(name, str), "the input visitor checked 'name'"
    options = QDict({"id": name})
    if isinstance(mode, str):
        options.put("mode", mode)
    block_export_del(graph, options)


def query_block_exports(graph: BlockGraph, args: QDict) -> QObject:
    infos: list[QObject] = []
    for export in graph.exports:
        info = QDict()
        for key, value in (("id", export.id), ("type", "nbd"), ("node-name", export.node.name),
                           ("shutting-down", False)):  # fmt: skip
            info.put(key, value)
        infos.append(info)
    return infos


def connect_client(graph: BlockGraph, label: str, name: str) -> str:
    """A client (the harness's label) opens NBD export name: "ok", or "refused" (no export, no server)."""
    if label in graph.clients:
        raise ValueError(f"NBD client {label!r} is already connected")
    export = next((e for e in graph.exports if e.name == name), None)
    if export is None or graph.nbd_socket is None:
        return "refused"
    graph.clients[label] = export
    return "ok"


def client_request(graph: BlockGraph, label: str, write: bool, offset: int = 0, length: int = 512) -> str:
    """What the client's next read or write meets: "ok", or "closed" (its export was taken away)."""
    export = graph.clients[label]
    if export is None:
        return "closed"
    if write and not export.writable:
        raise NotModelled("a write to a read-only export is not modelled")
    if offset and (write or offset + length > _export_size(export.node)):
        raise NotModelled("a write away from offset 0, or a request past the export's end, is not modelled")
    return "ok"


def _export_size(node: Node) -> int:
    """The size the export shows: a qcow2 node's virtual size, else what its parents see (a
    throttle node's: its child's)."""
    while node.driver == "throttle" and node.file_child is not None:
        node = node.file_child
    if node.image is not None:
        return node.image.virtual_size
    return visible_size(node)


def disconnect_client(graph: BlockGraph, label: str) -> str:
    """The client sends NBD_CMD_DISC: "ok" (the server closes), or "closed" already."""
    return "ok" if graph.clients.pop(label) is not None else "closed"


def _remove(graph: BlockGraph, export: Export, when: str) -> None:
    graph.exports.remove(export)
    for label, reached in graph.clients.items():
        if reached is export:
            graph.clients[label] = None  # cut off
    graph.emit("BLOCK_EXPORT_DELETED", QDict({"id": export.id}), when)
    node = export.node  # a child whose parent was deleted under the export goes with it
    held = node.parents or node.monitor_owned or node.backend is not None or graph.exported(node)
    if node in graph.nodes and not held:
        graph.drop(node)


def _check_users(graph: BlockGraph, node: Node, new: User) -> None:
    """The node's users with the new export among them; below a raw or throttle node, its file's
    users too (they hand their users' permissions down), and so on down."""
    exports = graph.export_users()
    users = [new, *users_of(node, exports)]
    check(node, users)
    child = node.file_child
    while node.driver in PASS_DOWN and child is not None:
        mine = f"node '{node.name}'"
        passed = parent_user(node, users) if node.driver == "raw" else child_user(node, "file", users)
        users = [passed if user.desc == mine else user for user in users_of(child, exports)]
        check(child, users)
        node, child = child, child.file_child


def _take_write(graph: BlockGraph, node: Node) -> None:
    """A new writer on the node: what QEMU's permission update does to the nodes below."""
    while node.driver == "throttle":  # passes the write on: a read-only child refuses it
        child = node.file_child
        assert child is not None, "a throttle node has its 'file'"
        if child.read_only:
            raise BlockError("Block node is read-only")
        node = child
    if node.driver == "raw":
        child = node.file_child
        assert child is not None
        if child.read_only or child.parents != [node]:
            raise NotModelled("block-export-add: a writable raw node over a shared or read-only file")
        node = child
    if node.driver not in ("file", "qcow2", "null-co"):
        raise NotModelled(f"block-export-add: a writable export of a {node.driver} node is not modelled")
    if node.driver == "file" and node.auto_read_only and not graph.has_writer(node):
        error = graph.storage.open_error(node.filename, True)  # file-posix reopens its fd read-write
        if error is not None:
            raise BlockError(f"Could not open '{node.filename}': {error}")
