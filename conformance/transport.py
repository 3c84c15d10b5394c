"""A raw QMP byte stream over a unix socket: exact bytes out, lines in, with deadlines.

Raw because the cases send malformed input on purpose; well-formed sessions
elsewhere use qemu.qmp.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path


class ReadTimeout(TimeoutError):
    pass


class RawQmpStream:
    def __init__(self, path: Path | str, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._buffer = b""
        self.eof = False
        self.send_failed = False
        try:
            self._sock.connect(str(path))
        except OSError:
            self._sock.close()
            raise

    def send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            # The peer left; what it said before leaving is still readable.
            self.send_failed = True

    def read_line(self, timeout: float | None = None) -> bytes | None:
        """The next line with its terminator, or None at end of stream."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\n" not in self._buffer:
            if self.eof:
                return self._take_rest()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReadTimeout(f"no complete line within {timeout or self.timeout:.1f}s")
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                raise ReadTimeout(f"no complete line within {timeout or self.timeout:.1f}s") from None
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
                return self._take_rest()
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"

    def _take_rest(self) -> bytes | None:
        rest, self._buffer = self._buffer, b""
        return rest or None

    def close(self) -> None:
        self._sock.close()

    @classmethod
    def connect_when_listening(
        cls, path: Path | str, timeout: float, alive: Callable[[], bool], patience: float = 2.0
    ) -> RawQmpStream:
        """Connect, retrying briefly: a socket file appears at bind(), a moment before listen()."""
        deadline = time.monotonic() + patience
        while True:
            try:
                return cls(path, timeout=timeout)
            except (ConnectionRefusedError, FileNotFoundError):
                if time.monotonic() > deadline or not alive():
                    raise
                time.sleep(0.01)

    def __enter__(self) -> RawQmpStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
