"""The stateful test's images: qcow2 chains, lone qcow2 and raw images, on writable and read-only storage.

Writable images live in a private folder; the read-only ones are made in a
second folder and seen by QEMU only through a read-only bind mount. The
storage facts add what an active commit needs: which ranges an image itself
allocates (qemu-img map, depth 0).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from conformance.block.content_facts import ContentStorage
from conformance.storage import HostStorage, _run, checksum, create_image, read_only_bind_mount, write_pattern

SIZE = 4 << 20


@dataclass(frozen=True)
class Image:
    kind: str  # the pool's name for it
    driver: str  # qcow2 or raw
    path: str  # as QEMU sees it
    source: str  # as the test sees it, writable (same as path unless read-only storage)
    backing: str | None = None  # the kind of the image it names in its header
    data: tuple[int, int, int] | None = None  # (pattern, offset, length) it holds itself


# kind: (driver, read-only storage, backing kind, data written into it)
LAYOUT: dict[str, tuple[str, bool, str | None, tuple[int, int, int] | None]] = {
    "base": ("qcow2", False, None, (0x11, 0, 1 << 20)),
    "top": ("qcow2", False, "base", (0x22, 1 << 20, 65536 + 1024)),
    "rbase": ("qcow2", True, None, (0x33, 0, 65536)),
    "rtop": ("qcow2", False, "rbase", (0x44, 2 << 20, 4096)),
    "solo": ("qcow2", False, None, None),
    "rsolo": ("qcow2", True, None, None),
    "raw": ("raw", False, None, (0x55, 1 << 20, 1 << 20)),
    "rraw": ("raw", True, None, (0x66, 0, 512 << 10)),
}


class PoolStorage(ContentStorage, HostStorage):
    def allocated_extents(self, path: str) -> list[tuple[int, int]]:
        extents = json.loads(_run(["qemu-img", "map", "-U", "--output=json", path]))
        return [(e["start"], e["length"]) for e in extents if e["depth"] == 0 and e.get("present", e["data"])]


@dataclass
class Pool:
    images: dict[str, Image]
    facts: PoolStorage
    initial: dict[str, str]  # source path -> checksum when made

    def files_of(self, kind: str) -> set[str]:
        """The paths a node of this kind opens (its backing chain too)."""
        image = self.images[kind]
        return {image.path} | (self.files_of(image.backing) if image.backing else set())


def make_pool(cleanup: contextlib.ExitStack) -> Pool:
    root = Path(tempfile.mkdtemp(prefix="qcf-state-"))
    cleanup.callback(shutil.rmtree, root, ignore_errors=True)
    writable, hidden = root / "rw", root / "ro-source"
    writable.mkdir()
    hidden.mkdir()
    seen = root / "ro"
    images: dict[str, Image] = {}
    for kind, (driver, read_only, backing, data) in LAYOUT.items():
        name = f"{kind}.{'img' if driver == 'raw' else 'qcow2'}"
        source = (hidden if read_only else writable) / name
        path = (seen if read_only else writable) / name
        below = images[backing] if backing else None
        backing_path = Path(below.path) if below else None
        create_image(source, driver, SIZE, backing_path, below.driver if below else None)
        if data is not None:
            write_pattern(str(source), driver, *data) if below is None else _write_over(source, below, data)
        images[kind] = Image(kind, driver, str(path), str(source), backing, data)
    initial = {image.source: checksum(image.source) for image in images.values()}
    cleanup.enter_context(read_only_bind_mount(hidden, seen))
    return Pool(images, PoolStorage(), initial)


def _write_over(source: Path, below: Image, data: tuple[int, int, int]) -> None:
    # The overlay's header names its backing as QEMU sees it (maybe through the
    # mount, not there yet): write with the backing given as the writable source.
    opts = f"driver=qcow2,file.filename={source},backing.driver=qcow2,backing.file.filename={below.source}"
    pattern, offset, length = data
    _run(["qemu-io", "--image-opts", "-c", f"write -P {pattern} {offset} {length}", opts])
