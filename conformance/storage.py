"""Real storage for block cases: images, read-only mounts, unprivileged QEMU, and their facts.

HostStorage answers the oracle's StorageFacts questions as the QEMU process
would see the files. Root ignores file modes, so os.access() is no guide:
writability is found by really opening the file, as the uid QEMU runs as
(a read-only bind mount fails with EROFS even for root).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conformance.errors import QconformError
from conformance.implementations import (
    READ_TIMEOUT,
    Implementation,
    Instance,
    ProcessInstance,
    qemu_system_argv,
    qsd_argv,
    settle,
)
from conformance.process import ManagedProcess, StartError
from reference.block.errors import NotModelled
from reference.block.storage import FileFacts, ImageFacts, NbdExport
from reference.nbd import constants as nbd_constants
from reference.nbd import wire as nbd_wire
from reference.profiles import Flavour

COMMAND_TIMEOUT = 30.0
NOBODY = 65534


def _settle(path: str) -> None:
    """Write the file's dirty pages back before it is measured: ext4 allocates delayed blocks
    (and the extent tree's) at writeback, so st_blocks may move by a block between our stat and
    QEMU's (seen after a block-stream of 1 MiB under load) unless nothing is left to write."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # a file that cannot be synced is measured as it is
    finally:
        os.close(fd)


class HostStorage:
    """StorageFacts for the files a QEMU process running as uid (None: as us) opens."""

    def __init__(self, uid: int | None = None) -> None:
        self.uid = uid

    def open_error(self, path: str, write: bool) -> str | None:
        flags = os.O_RDWR if write else os.O_RDONLY
        errno = self._open_errno(path, flags)
        return None if errno == 0 else os.strerror(errno)

    def _open_errno(self, path: str, flags: int) -> int:
        if self.uid is None:
            try:
                os.close(os.open(path, flags))
            except OSError as err:
                return err.errno or 0
            return 0
        return _errno_as(self.uid, path, flags)

    def file(self, path: str) -> FileFacts:
        _settle(path)
        st = os.stat(path)
        return FileFacts(size=st.st_size, allocated=st.st_blocks * 512)

    def image(self, path: str) -> ImageFacts | None:
        info = qemu_img_info(path)
        if info.get("format") != "qcow2":
            return None
        return ImageFacts(
            format="qcow2",
            virtual_size=info["virtual-size"],
            cluster_size=info.get("cluster-size"),
            dirty=info.get("dirty-flag", False),
            backing_file=info.get("backing-filename"),
            backing_format=info.get("backing-filename-format"),
            full_backing_file=info.get("full-backing-filename"),
            format_specific=info.get("format-specific"),
        )

    def nbd_export(self, socket_path: str, export: str) -> NbdExport:
        return probe_nbd_export(Path(socket_path), export)


NBD_PROBE_TIMEOUT = 5.0
NBD_PROBE_ATTEMPTS = 3


def probe_nbd_export(address: Path, export: str) -> NbdExport:
    """The export as the reference NBD client finds it with NBD_OPT_GO, as QEMU's client asks.

    Not NBD_OPT_INFO: nbd-server 3.24 answers it with size 0 (it opens the
    file only on GO). After GO, NBD_CMD_DISC ends the connection cleanly.
    """
    from conformance.nbd.session import ProbeError, Session, parse_info_export

    for attempt in range(NBD_PROBE_ATTEMPTS):
        try:
            with Session(address, NBD_PROBE_TIMEOUT) as session:
                session.handshake()
                replies = session.option(nbd_constants.OPT_GO, nbd_wire.info_request_data(export, []))
                with contextlib.suppress(OSError):
                    if replies[-1].reply == nbd_constants.REP_ACK:
                        session.send(session.client.request(nbd_constants.CMD_DISC, 0, 0, 0))
                    else:
                        session.send(session.client.option(nbd_constants.OPT_ABORT))
            break
        except (OSError, ProbeError) as err:
            # A server that forks per client (nbd-server) can miss a first connection made
            # while it is still settling on a loaded machine: ask again before giving up.
            if attempt + 1 == NBD_PROBE_ATTEMPTS:
                raise NotModelled(f"NBD export {export!r} at {address}: probe failed: {err}") from None
    final = replies[-1].reply
    if final == nbd_constants.REP_ERR_UNKNOWN:
        return NbdExport(exists=False)
    infos = [info for info in map(parse_info_export, replies) if info is not None]
    if final != nbd_constants.REP_ACK or not infos:
        raise NotModelled(f"NBD export {export!r} at {address}: NBD_OPT_GO answered {final:#x}")
    size, flags = infos[-1]
    return NbdExport(exists=True, read_only=bool(flags & nbd_constants.FLAG_READ_ONLY), size=size)


def _errno_as(uid: int, path: str, flags: int) -> int:
    """open(path, flags) in a child that has become uid/gid `uid` without groups; its errno (0: opened)."""
    pid = os.fork()
    if pid == 0:  # the child only makes system calls, then leaves without cleanup
        code = 0
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.close(os.open(path, flags))
        except OSError as err:
            code = err.errno or 255
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def qemu_img_info(path: str) -> dict[str, Any]:
    # -U: a QEMU process may hold the image's locks while we look.
    out = _run(["qemu-img", "info", "-U", "--output=json", path])
    info: dict[str, Any] = json.loads(out)
    return info


def create_image(
    path: Path, fmt: str, size: int, backing: Path | None = None, backing_format: str | None = None
) -> Path:
    argv = ["qemu-img", "create", "-q", "-f", fmt]
    if backing is not None and backing_format is not None:
        # -u: the backing file may only be readable through another view (a read-only mount).
        argv += ["-u", "-b", str(backing), "-F", backing_format]
    elif backing is not None:
        argv += ["-b", str(backing), "-F", qemu_img_info(str(backing))["format"]]
    _run([*argv, str(path), str(size)])
    return path


def write_pattern(path: str, fmt: str, pattern: int, offset: int, length: int) -> None:
    _run(["qemu-io", "-f", fmt, "-c", f"write -P {pattern} {offset} {length}", path])


def reads_pattern(path: str, fmt: str, pattern: int, offset: int, length: int) -> bool:
    """Whether the image (through its chain) reads back `pattern` there; -U: QEMU may hold locks."""
    try:
        _run(["qemu-io", "-U", "-r", "-f", fmt, "-c", f"read -P {pattern} {offset} {length}", path])
    except QconformError:
        return False
    return True


def stored_compressed(path: str, offset: int, length: int, compressed: bool) -> bool:
    """Whether every cluster of the qcow2 image's own range is stored compressed (or, False, as
    plain data): qemu-img map shows compressed data without a host offset (pinned on 7.2)."""
    try:
        extents = json.loads(_run(["qemu-img", "map", "-U", "-f", "qcow2", "--output=json", path]))
    except (QconformError, ValueError):
        return False
    inside = [e for e in extents if e["start"] < offset + length and offset < e["start"] + e["length"]]
    return bool(inside) and all(
        e["depth"] == 0 and e["data"] and ("offset" not in e) == compressed for e in inside
    )


def checksum(path: str) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise QconformError(f"{argv[0]}: {err}") from None
    if done.returncode != 0:
        raise QconformError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


@contextlib.contextmanager
def read_only_bind_mount(source: Path, target: Path) -> Iterator[Path]:
    """source, seen read-only at target (needs root); unmounted on the way out, whatever happened."""
    target.mkdir(parents=True, exist_ok=True)
    _run(["mount", "--bind", str(source), str(target)])
    try:
        _run(["mount", "-o", "remount,bind,ro", str(target)])
        yield target
    finally:
        try:
            _run(["umount", str(target)])
        except QconformError:
            _run(["umount", "-l", str(target)])  # busy: detach now, the kernel finishes later


def mounted_read_only(path: Path) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


class UnprivilegedInstance(ProcessInstance):
    """A QEMU process run as uid/gid `uid` with no supplementary groups (setpriv)."""

    def __init__(self, impl: Implementation, uid: int) -> None:
        argv_for = qsd_argv if impl.flavour is Flavour.STORAGE_DAEMON else qemu_system_argv
        assert impl.binary is not None
        sock_dir = Path(tempfile.mkdtemp(prefix="qcf-"))
        os.chown(sock_dir, uid, uid)  # QEMU creates its socket here as that uid
        self.socket = sock_dir / "qmp.sock"
        self.read_timeout = READ_TIMEOUT
        wrapper = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        argv = [*wrapper, *argv_for(impl.binary)(self.socket)]
        self.process = ManagedProcess(
            argv, name=f"{impl.name}-uid{uid}", ready=self.socket.exists, capture_stdout=True
        )
        try:
            self.process.start()
        except StartError:
            self._remove_socket_dir()
            raise
        settle(self)


def unprivileged(impl: Implementation, uid: int = NOBODY) -> Implementation:
    """The same binary, started as an unprivileged uid."""

    def launch() -> Instance:
        return UnprivilegedInstance(impl, uid)

    return dataclasses.replace(impl, name=f"{impl.name}-uid{uid}", launch=launch)
