"""The nbd protocol driver as a client: open against an export whose facts the harness found.

Verified on qemu-storage-daemon 7.2 against qemu-nbd, nbdkit, nbd-server and
the reference server on unix sockets:
- a read-only export (NBD_FLAG_READ_ONLY) opened without read-only degrades
  to read-only under auto-read-only; otherwise blockdev-add fails with
  "Could not open image: Permission denied" (the driver's own "NBD export is
  read-only" is dropped: bdrv_open_common rewords the -EACCES, and the node
  has no filename yet);
- the filename is "nbd+unix:///EXPORT?socket=PATH", unescaped;
- the node has no get_info and no allocated size: its ImageInfo has neither
  dirty-flag nor actual-size (nor has a raw node over it).

Over TCP (server type inet, an IPv4 literal host; verified with qsd and
qemu-system 7.2 against the reference server, qemu-nbd and nbdkit on
127.0.0.1) the same rules hold, and:
- the filename is "nbd://HOST:PORT/EXPORT";
- nothing listening: "Failed to connect to 'HOST:PORT': Connection refused"
  (the connect error's strerror, from the storage facts);
- an export the server refuses with NBD_REP_ERR_UNKNOWN: "Requested export
  not available" (over a unix socket this stays unmodelled: not pinned there).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from reference.block.errors import BlockError, NotModelled
from reference.block.node import Node
from reference.block.storage import FileFacts, NbdFacts, StorageFacts
from reference.qobject.values import QDict

READ_ONLY_EXPORT = "Could not open image: Permission denied"
EXPORT_NOT_AVAILABLE = "Requested export not available"


@runtime_checkable
class NbdConnectFacts(Protocol):
    """Storage that can say whether a TCP connect to an NBD server fails, and how."""

    def nbd_connect_error(self, address: str) -> str | None:
        """strerror of connecting to "HOST:PORT" (None: it connects)."""
        ...


@dataclass(frozen=True)
class NbdAddress:
    key: str  # what the storage facts are keyed by: the socket path, or "HOST:PORT"
    export: str
    tcp: bool

    @property
    def filename(self) -> str:
        if self.tcp:
            return f"nbd://{self.key}/{self.export}"
        return f"nbd+unix:///{self.export}?socket={self.key}"


def unix_address(opts: QDict) -> tuple[str, str]:
    """(socket path, export name) of the options; other address types abstain."""
    server = opts.get("server")
    export = opts.get("export")
    if not isinstance(server, QDict) or server.get("type") != "unix":
        raise NotModelled("blockdev-add: nbd over an address other than a unix socket is not modelled")
    path = server.get("path")
    if not isinstance(path, str) or set(server.keys()) != {"type", "path"}:
        raise NotModelled("blockdev-add: nbd unix socket options other than 'path' are not modelled")
    if not isinstance(export, str):
        # Without 'export' QEMU asks for the default export (""): servers differ there.
        raise NotModelled("blockdev-add: nbd without an export name is not modelled")
    return path, export


def inet_address(opts: QDict) -> tuple[str, str]:
    """("HOST:PORT", export name) of inet options with an IPv4 literal host; anything else abstains."""
    server = opts.get("server")
    export = opts.get("export")
    if not isinstance(server, QDict) or set(server.keys()) != {"type", "host", "port"}:
        raise NotModelled("blockdev-add: nbd inet options other than 'host' and 'port' are not modelled")
    host, port = server.get("host"), server.get("port")
    if not isinstance(host, str) or not isinstance(port, str) or not port.isdigit():
        raise NotModelled("blockdev-add: an nbd inet address without a numeric port is not modelled")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        # Names need resolving; IPv6 hosts get no "nbd://" filename at all.
        raise NotModelled(
            f"blockdev-add: nbd inet host {host!r} (not an IPv4 literal) is not modelled"
        ) from None
    if not isinstance(export, str):
        raise NotModelled("blockdev-add: nbd without an export name is not modelled")
    return f"{host}:{port}", export


def nbd_address(opts: QDict) -> NbdAddress:
    server = opts.get("server")
    if isinstance(server, QDict) and server.get("type") == "inet":
        return NbdAddress(*inet_address(opts), tcp=True)
    return NbdAddress(*unix_address(opts), tcp=False)


def open_nbd(node: Node, opts: QDict, storage: StorageFacts) -> None:
    address = nbd_address(opts)
    if not isinstance(storage, NbdFacts):
        raise NotModelled("no NBD export facts")
    if address.tcp:
        if not isinstance(storage, NbdConnectFacts):
            raise NotModelled("no facts about TCP connects to NBD servers")
        refused = storage.nbd_connect_error(address.key)
        if refused is not None:
            raise BlockError(f"Failed to connect to '{address.key}': {refused}")
    facts = storage.nbd_export(address.key, address.export)
    if not facts.exists:
        if address.tcp:
            raise BlockError(EXPORT_NOT_AVAILABLE)
        raise NotModelled(
            f"blockdev-add: an nbd export the server does not offer ({address.export}) is not modelled"
        )
    if facts.read_only and not node.read_only:
        if not node.auto_read_only:
            raise BlockError(READ_ONLY_EXPORT)
        node.read_only = True  # bdrv_apply_auto_read_only: degrade, no error
    node.filename = address.filename
    node.facts = FileFacts(size=facts.size, allocated=None)
