"""The reference as a QMP server on a unix socket (`qconform serve qmp`).

Each client gets its own QmpConnection (QEMU's per-connection state) over one
shared ProcessModel; quit closes every client and stops the server, as the
QEMU process would exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from reference.qmp.model import ProcessModel
from reference.qmp.monitor import QmpConnection
from reference.qmp.outputs import Closed
from reference.qmp.wire import render


class QmpServer:
    def __init__(self, model: ProcessModel, socket_path: Path) -> None:
        self.model = model
        self.socket_path = socket_path
        self._writers: set[asyncio.StreamWriter] = set()
        self._stopped = asyncio.Event()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = QmpConnection(self.model)
        self._writers.add(writer)
        try:
            writer.write(render(conn.connect()))
            await writer.drain()
            while not self._stopped.is_set():
                data = await reader.read(65536)
                outputs = conn.receive(data) if data else conn.receive_eof()
                writer.write(render(outputs))
                await writer.drain()
                if any(isinstance(out, Closed) for out in outputs):
                    self._stopped.set()
                    break
                if not data:
                    break
        except (ConnectionResetError, BrokenPipeError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                await writer.wait_closed()

    async def serve(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        server = await asyncio.start_unix_server(self._client, path=str(self.socket_path))
        try:
            async with server:
                await self._stopped.wait()
                for writer in list(self._writers):
                    writer.close()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)


def serve_forever(model: ProcessModel, socket_path: Path) -> None:
    asyncio.run(QmpServer(model, socket_path).serve())
