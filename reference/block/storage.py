"""What the oracle may know about storage, as the QEMU process would see it.

The harness implements StorageFacts against real files (conformance.storage);
tests use in-memory fakes. The oracle never touches a filesystem itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from reference.block.errors import NotModelled


@dataclass(frozen=True)
class FileFacts:
    size: int  # st_size: a file node's (and a raw node's) virtual size
    # bytes allocated on disk: the node's "actual-size" (None: the driver cannot tell, e.g. nbd)
    allocated: int | None


@dataclass(frozen=True)
class ImageFacts:
    """A format's header as qemu-img reads it (qcow2 only for now)."""

    format: str
    virtual_size: int
    cluster_size: int | None = None
    dirty: bool = False
    backing_file: str | None = None  # the header's string, as written
    backing_format: str | None = None
    full_backing_file: str | None = None  # resolved against the image's folder
    # ImageInfoSpecific as JSON ({"type": ..., "data": {...}}), or None.
    format_specific: Any = field(default=None, compare=False)


class StorageFacts(Protocol):
    def open_error(self, path: str, write: bool) -> str | None:
        """strerror() of open(path, O_RDWR if write else O_RDONLY) as the QEMU process, or None."""
        ...

    def file(self, path: str) -> FileFacts: ...

    def image(self, path: str) -> ImageFacts | None:
        """The image format found in the file's header (None: no known format, i.e. raw data)."""
        ...


@dataclass(frozen=True)
class NbdExport:
    """An NBD export as a client finds it in the handshake (NBD_OPT_GO)."""

    exists: bool
    read_only: bool = False  # NBD_FLAG_READ_ONLY in the transmission flags
    size: int = 0


@runtime_checkable
class NbdFacts(Protocol):
    """Storage that can also answer for NBD exports (a separate protocol: file-only fakes stay valid)."""

    def nbd_export(self, socket_path: str, export: str) -> NbdExport: ...


@runtime_checkable
class AllocationFacts(Protocol):
    """Storage that can say which ranges an image itself holds (not its backing chain)."""

    def allocated_extents(self, path: str) -> list[tuple[int, int]]:
        """(offset, length) of the guest ranges the image at path allocates at depth 0."""
        ...


class UnknownStorage:
    """Storage the model knows nothing about: any question about a file abstains."""

    def open_error(self, path: str, write: bool) -> str | None:
        raise NotModelled(f"no storage facts for {path}")

    def file(self, path: str) -> FileFacts:
        raise NotModelled(f"no storage facts for {path}")

    def image(self, path: str) -> ImageFacts | None:
        raise NotModelled(f"no storage facts for {path}")

    def nbd_export(self, socket_path: str, export: str) -> NbdExport:
        raise NotModelled(f"no facts for NBD export {export!r} at {socket_path}")
