"""Real storage for block tests: images in a private folder, seen writable, through a
read-only bind mount, or by an unprivileged uid, plus a scratch folder QEMU can always
write. Mounts and folders go in teardown, whatever the test did."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from block.fixture import BlockFixture, load
from conformance.implementations import Implementation, discover
from conformance.storage import (
    NOBODY,
    HostStorage,
    create_image,
    read_only_bind_mount,
    unprivileged,
    write_pattern,
)


@dataclass(frozen=True)
class StorageView:
    kind: str
    folder: Path
    paths: dict[str, str]  # image name ("missing", "scratch/NAME" too) -> path as QEMU sees it
    sources: dict[str, str]  # image name -> path as the test (root) sees it, writable
    facts: HostStorage
    uid: int | None

    def implementation(self, impl: Implementation) -> Implementation:
        return impl if self.uid is None else unprivileged(impl, self.uid)


@cache
def host_implementations() -> dict[str, Implementation]:
    found, _missing = discover()
    return {impl.name: impl for impl in found if impl.backend == "host" and impl.binary}


def real_implementation(name: str) -> Implementation:
    if os.geteuid() != 0:
        pytest.skip("block storage tests need root (bind mounts, setpriv)")
    if shutil.which("qemu-img") is None or shutil.which("setpriv") is None:
        pytest.skip("qemu-img or setpriv not found")
    impl = host_implementations().get(name)
    if impl is None:
        pytest.skip(f"{name} not found")
    return impl


@pytest.fixture(scope="session")
def seed() -> BlockFixture:
    return load()


def _create(folder: Path, image: dict[str, Any], backing: str | None) -> str:
    path = folder / f"{image['name']}.img"
    fmt = image.get("backing-format")
    create_image(path, image["format"], image["size"], Path(backing) if backing else None, fmt)
    if "data" in image:
        data = image["data"]
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
            backing = view.get(image.get("backing", ""))
            path = _create(scratch, image, backing)
            sources[image["name"]] = view[f"scratch/{image['name']}"] = path
            if uid is not None:
                os.chown(path, uid, uid)
    if uid is not None:
        os.chown(scratch, uid, uid)
    return StorageView(kind, folder, view, sources, HostStorage(uid), uid)


@pytest.fixture
def storage(seed: BlockFixture) -> Iterator[Callable[..., StorageView]]:
    """make(kind[, fixture]): a fresh storage view with the fixture's images (the seed's by default)."""
    with contextlib.ExitStack() as cleanup:

        def make(kind: str, fixture: BlockFixture = seed) -> StorageView:
            return make_view(cleanup, fixture, kind)

        yield make
