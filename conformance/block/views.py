"""Real storage for the block tables: images in a private folder, seen writable, through a
read-only bind mount, or by an unprivileged uid, plus a scratch folder QEMU can always write.

Everything a view creates (folders, mounts) is undone by the ExitStack it was
made with, whatever happened in between.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.block.fixture import BlockFixture
from conformance.implementations import Implementation
from conformance.storage import (
    NOBODY,
    HostStorage,
    create_image,
    read_only_bind_mount,
    unprivileged,
    write_pattern,
)

STORAGES = ("writable", "read-only-mount", "unprivileged")


@dataclass(frozen=True)
class StorageView:
    kind: str
    folder: Path
    paths: dict[str, str]  # image name ("missing", "scratch/NAME" too) -> path as QEMU sees it
    sources: dict[str, str]  # image name -> path as we (root) see it, writable
    facts: HostStorage
    uid: int | None
    base: Path | None = None  # the folder holding images and scratch (a container maps it)

    def implementation(self, impl: Implementation) -> Implementation:
        if impl.backend == "container":
            return self._in_container(impl)
        return impl if self.uid is None else unprivileged(impl, self.uid)

    def _in_container(self, impl: Implementation) -> Implementation:
        """The container sees the view's folder at the same path (no path needs translating);
        read-only storage through a read-only bind mount of its own, an unprivileged view as that uid."""
        from conformance.containers import relaunched

        assert self.base is not None
        read_only = {self.base / "images": str(self.folder)} if self.kind == "read-only-mount" else {}
        return relaunched(impl, mounts={self.base: str(self.base)}, read_only_mounts=read_only, user=self.uid)


def storage_unavailable() -> str | None:
    """Why this process cannot build the storages (None: it can)."""
    if os.geteuid() != 0:
        return "block storage needs root (bind mounts, setpriv)"
    for tool in ("qemu-img", "qemu-io", "setpriv", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} not found"
    return None


def _create(folder: Path, image: dict[str, Any], backing: str | None) -> str:
    path = folder / f"{image['name']}.img"
    fmt = image.get("backing-format")
    create_image(path, image["format"], image["size"], Path(backing) if backing else None, fmt)
    writes = image.get("data", [])
    for data in writes if isinstance(writes, list) else [writes]:
        write_pattern(str(path), image["format"], data["pattern"], data["offset"], data["length"])
    return str(path)


def make_view(cleanup: contextlib.ExitStack, fixture: BlockFixture, kind: str) -> StorageView:
    base = Path(tempfile.mkdtemp(prefix="qcf-blk-"))
    cleanup.callback(shutil.rmtree, base, ignore_errors=True)
    base.chmod(0o755)  # an unprivileged QEMU must get through
    source, scratch = base / "images", base / "scratch"
    source.mkdir(mode=0o755)
    scratch.mkdir(mode=0o755)
    sources: dict[str, str] = {}
    stored = [image for image in fixture.images if image.get("place", "storage") == "storage"]
    for image in stored:
        sources[image["name"]] = _create(source, image, sources.get(image.get("backing", "")))
    folder, uid = source, None
    if kind == "read-only-mount":
        folder = cleanup.enter_context(read_only_bind_mount(source, base / "ro"))
    elif kind == "unprivileged":
        uid = NOBODY
        for path in sources.values():
            Path(path).chmod(0o444)
    view = {name: str(folder / Path(path).name) for name, path in sources.items()}
    view["missing"] = str(folder / "missing.img")
    for image in fixture.images:  # scratch images name their backing as QEMU sees it
        if image.get("place") == "scratch":
            name = image.get("backing", "")
            # a stored image, or a scratch one made earlier
            backing = view.get(name) or view.get(f"scratch/{name}")
            path = _create(scratch, image, backing)
            sources[image["name"]] = view[f"scratch/{image['name']}"] = path
            if uid is not None:
                os.chown(path, uid, uid)
    if uid is not None:
        os.chown(scratch, uid, uid)
    return StorageView(kind, folder, view, sources, HostStorage(uid), uid, base)
