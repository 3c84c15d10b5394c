"""The reference NBD server over asyncio (`qconform serve nbd`): a unix socket or 127.0.0.1:PORT.

Every client gets its own NbdServerConnection over one shared export, so writes from one
client are seen by the others (the server advertises CAN_MULTI_CONN).
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import os
import re
import signal
from pathlib import Path

from reference.nbd.server import Close, Export, NbdServerConnection, Send
from reference.nbd.storage import BufferStorage

LOOPBACK = "127.0.0.1"  # TCP is never bound to any other address
_SIZE = re.compile(r"^(\d+)([KMG]?)$", re.IGNORECASE)


class _NbdProtocol(asyncio.Protocol):
    def __init__(self, export: Export) -> None:
        self._conn = NbdServerConnection({export.name: export}, default_export=export.name)
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._apply(self._conn.start())

    def data_received(self, data: bytes) -> None:
        self._apply(self._conn.receive(data))

    def eof_received(self) -> bool:
        self._apply(self._conn.receive_eof())
        return False

    def pause_writing(self) -> None:
        # A client that does not read its replies stops being read (bounded memory).
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    def _apply(self, outputs: list[Send | Close]) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        for out in outputs:
            if isinstance(out, Send):
                transport.writelines(out.data)
            else:
                transport.close()  # after what was queued is flushed
                return


def parse_backing(spec: str, read_only: bool) -> BufferStorage:
    """FILE (mapped, shared with the file) or memory:SIZE (zeroes, K/M/G suffixes)."""
    if spec.startswith("memory:"):
        match = _SIZE.match(spec[len("memory:") :])
        if not match:
            raise ValueError(f"{spec!r}: memory:SIZE wants a byte count like 1048576, 64K or 1M")
        shift = {"": 0, "K": 10, "M": 20, "G": 30}[match.group(2).upper()]
        return BufferStorage(bytearray(int(match.group(1)) << shift), sparse=True)
    path = Path(spec)
    with open(path, "rb" if read_only else "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return BufferStorage(bytearray(), sparse=False)
        access = mmap.ACCESS_READ if read_only else mmap.ACCESS_WRITE
        return BufferStorage(mmap.mmap(f.fileno(), size, access=access), sparse=False)


async def serve(export: Export, *, socket_path: Path | None = None, port: int | None = None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if socket_path is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path)
        server = await loop.create_unix_server(lambda: _NbdProtocol(export), path=str(socket_path))
    else:
        assert port is not None
        server = await loop.create_server(lambda: _NbdProtocol(export), host=LOOPBACK, port=port)
    try:
        async with server:
            await stop.wait()
    finally:
        if socket_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(socket_path)


def serve_forever(export: Export, *, socket_path: Path | None = None, port: int | None = None) -> None:
    asyncio.run(serve(export, socket_path=socket_path, port=port))
