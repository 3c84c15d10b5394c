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
"""

from __future__ import annotations

from reference.block.errors import BlockError, NotModelled
from reference.block.node import Node
from reference.block.storage import FileFacts, NbdFacts, StorageFacts
from reference.qobject.values import QDict

READ_ONLY_EXPORT = "Could not open image: Permission denied"


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


def open_nbd(node: Node, opts: QDict, storage: StorageFacts) -> None:
    path, export = unix_address(opts)
    if not isinstance(storage, NbdFacts):
        raise NotModelled("no NBD export facts")
    facts = storage.nbd_export(path, export)
    if not facts.exists:
        raise NotModelled(f"blockdev-add: an nbd export the server does not offer ({export}) is not modelled")
    if facts.read_only and not node.read_only:
        if not node.auto_read_only:
            raise BlockError(READ_ONLY_EXPORT)
        node.read_only = True  # bdrv_apply_auto_read_only: degrade, no error
    node.filename = f"nbd+unix:///{export}?socket={path}"
    node.facts = FileFacts(size=facts.size, allocated=None)
