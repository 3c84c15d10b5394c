"""The key probes again, with libnbd as the client: a second opinion from an independent client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import Any

from conformance.nbd.probes import Target
from conformance.nbd.verdicts import Recorder
from reference.nbd import constants as c

LibnbdProbe = Callable[[ModuleType, Target, Recorder], None]


@contextmanager
def _handle(nbd: ModuleType, t: Target, *, strict: bool = True) -> Iterator[Any]:
    h = nbd.NBD()
    h.set_export_name(t.export)
    h.add_meta_context(c.BASE_ALLOCATION)
    if not strict:
        h.set_strict_mode(0)  # send what the server refuses, so the server answers, not libnbd
    if isinstance(t.address, Path):
        h.connect_unix(str(t.address))
    else:
        h.connect_tcp(t.address[0], str(t.address[1]))
    try:
        yield h
    finally:
        with suppress(nbd.Error):
            h.shutdown()


def connect(nbd: ModuleType, t: Target, r: Recorder) -> None:
    with _handle(nbd, t) as h:
        r.check("opt-go-transmission", True, f"libnbd connected ({h.get_protocol()})")
        ro = bool(h.is_read_only())
        r.check("tx-read-only-flag", ro == t.read_only, f"libnbd is_read_only={ro}")
        r.check("tx-has-flags", h.get_size() == len(t.original), f"size {h.get_size()}")


def read(nbd: ModuleType, t: Target, r: Recorder) -> None:
    with _handle(nbd, t) as h:
        data = h.pread(65536, 0)
        r.check("tx-read", data == t.original[:65536], "libnbd pread 64 KiB at 0")


def write_refused(nbd: ModuleType, t: Target, r: Recorder) -> None:
    with _handle(nbd, t, strict=False) as h:
        attempts: list[tuple[str, Callable[[], object]]] = [
            ("write", lambda: h.pwrite(b"\x5a" * 4096, 0)),
            ("trim", lambda: h.trim(4096, 0)),
            ("write zeroes", lambda: h.zero(4096, 4096)),
        ]
        for name, call in attempts:
            try:
                call()
            except nbd.Error as err:
                r.check("tx-read-only-refuses", True, f"{name}: {err.string}")
                r.check("tx-read-only-eperm", err.errnum == 1, f"{name}: errno {err.errnum}")
            else:
                r.check("tx-read-only-refuses", False, f"libnbd {name} succeeded on a read-only export")
            same = h.pread(8192, 0) == t.original[:8192]
            r.check("tx-read-only-unchanged", same, f"after {name}: data {'same' if same else 'CHANGED'}")


def write(nbd: ModuleType, t: Target, r: Recorder) -> None:
    data = bytes((i * 13 + 1) & 0xFF for i in range(65536))
    with _handle(nbd, t) as h:
        h.pwrite(data, 832 * 1024)
        if h.can_flush():
            h.flush()
        r.check("tx-write", h.pread(65536, 832 * 1024) == data, "libnbd pwrite then pread 64 KiB")


def block_status(nbd: ModuleType, t: Target, r: Recorder) -> None:
    with _handle(nbd, t) as h:
        if not h.can_meta_context(c.BASE_ALLOCATION):
            r.na("tx-block-status", "libnbd: base:allocation not negotiated")
            return
        seen: list[tuple[str, list[int]]] = []

        def extent(metacontext: str, offset: int, entries: list[int], err: Any) -> int:
            seen.append((metacontext, list(entries)))
            return 0

        size = h.get_size()
        h.block_status(size, 0, extent)
        lengths = [n for _, entries in seen for n in entries[0::2]]
        ok = bool(seen) and all(m == c.BASE_ALLOCATION for m, _ in seen) and all(lengths)
        r.check("tx-block-status", ok, f"libnbd: {len(lengths)} extents, {sum(lengths)} bytes")


LIBNBD_PROBES: dict[str, LibnbdProbe] = {
    "libnbd-connect": connect,
    "libnbd-read": read,
    "libnbd-write-refused": write_refused,
    "libnbd-write": write,
    "libnbd-block-status": block_status,
}
