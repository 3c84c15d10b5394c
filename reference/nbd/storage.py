"""The export's bytes, as an interface: the adapter hands the server a buffer (bytearray, mmap)."""

from __future__ import annotations

import mmap
from typing import Protocol

from reference.nbd import constants as c

GRANULE = 4096
_ZERO_GRANULE = bytes(GRANULE)
# Block status looks at no more than this per request; the spec lets a server answer less.
_STATUS_SCAN_LIMIT = 64 << 20


class Storage(Protocol):
    @property
    def size(self) -> int: ...

    def read(self, offset: int, length: int) -> bytes: ...

    def write(self, offset: int, data: bytes | memoryview) -> None: ...

    def zero(self, offset: int, length: int) -> None: ...

    def trim(self, offset: int, length: int) -> None: ...

    def flush(self) -> None: ...

    def extents(self, offset: int, length: int) -> list[tuple[int, int]]:
        """Consecutive (length, base:allocation flags) from offset; at least one, within bounds."""
        ...


class BufferStorage:
    """Storage over a writable buffer; `sparse` says unwritten zeroes are holes (memory backing)."""

    def __init__(self, buffer: bytearray | mmap.mmap, *, sparse: bool) -> None:
        self._buf = buffer
        self._view = memoryview(buffer)
        self._sparse = sparse

    @property
    def size(self) -> int:
        return len(self._view)

    def read(self, offset: int, length: int) -> bytes:
        # A copy: the reply may sit in a transport buffer while a later write changes the export.
        return self._view[offset : offset + length].tobytes()

    def write(self, offset: int, data: bytes | memoryview) -> None:
        self._view[offset : offset + len(data)] = data

    def zero(self, offset: int, length: int) -> None:
        end = offset + length
        while offset < end:
            step = min(end - offset, 1 << 20)
            self._view[offset : offset + step] = bytes(step)
            offset += step

    def trim(self, offset: int, length: int) -> None:
        # Trimmed bytes read as zeroes here; the spec allows any content until rewritten.
        self.zero(offset, length)

    def flush(self) -> None:
        if isinstance(self._buf, mmap.mmap):
            self._buf.flush()

    def extents(self, offset: int, length: int) -> list[tuple[int, int]]:
        zero_flags = c.STATE_ZERO | (c.STATE_HOLE if self._sparse else 0)
        end = min(offset + max(length, 1), self.size, offset + _STATUS_SCAN_LIMIT)
        out: list[tuple[int, int]] = []
        pos = offset
        while pos < end:
            stop = min((pos // GRANULE + 1) * GRANULE, end)
            piece = self._view[pos:stop]
            flags = zero_flags if piece == _ZERO_GRANULE[: stop - pos] else 0
            if out and out[-1][1] == flags and out[-1][0] + (stop - pos) < 1 << 32:
                out[-1] = (out[-1][0] + stop - pos, flags)
            else:
                out.append((stop - pos, flags))
            pos = stop
        return out
