"""Real storage for block tests: images in a private folder, seen writable, through a
read-only bind mount, or by an unprivileged uid. Mounts and folders go in teardown,
whatever the test did."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from block.fixture import BlockFixture, load
from conformance.implementations import Implementation, discover
from conformance.storage import NOBODY, HostStorage, create_image, read_only_bind_mount, unprivileged


@dataclass(frozen=True)
class StorageView:
    kind: str
    folder: Path
    paths: dict[str, str]  # image name ("missing" too) -> path as QEMU sees it
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


def _images(folder: Path, fixture: BlockFixture) -> dict[str, str]:
    paths: dict[str, str] = {}
    for image in fixture.images:
        backing = Path(paths[image["backing"]]) if "backing" in image else None
        path = folder / f"{image['name']}.img"
        paths[image["name"]] = str(create_image(path, image["format"], image["size"], backing))
    return paths


@pytest.fixture
def storage(seed: BlockFixture) -> Iterator[Callable[[str], StorageView]]:
    """make(kind): a fresh storage view with the fixture's images."""
    with contextlib.ExitStack() as cleanup:

        def make(kind: str) -> StorageView:
            base = Path(tempfile.mkdtemp(prefix="qcf-blk-"))
            cleanup.callback(shutil.rmtree, base, ignore_errors=True)
            base.chmod(0o755)  # an unprivileged QEMU must get through
            source = base / "images"
            source.mkdir(mode=0o755)
            paths = _images(source, seed)
            folder, uid = source, None
            if kind == "read-only-mount":
                folder = cleanup.enter_context(read_only_bind_mount(source, base / "ro"))
            elif kind == "unprivileged":
                uid = NOBODY
                for path in paths.values():
                    Path(path).chmod(0o444)
            view = {name: str(folder / Path(path).name) for name, path in paths.items()}
            view["missing"] = str(folder / "missing.img")
            return StorageView(kind, folder, view, HostStorage(uid), uid)

        yield make
