"""Implementations that run in a container: no network, a unix socket in a bind mount.

Containers are started with testcontainers (Ryuk off: nothing is pulled and
cleanup is ours). Each one is labelled with the pid that started it; any
container whose owner is gone (a killed xdist worker) is removed the next
time a container backend starts, and every process inside runs under
`timeout` so none can outlive its lifetime.

A container is stopped as a host process is (conformance/process.py): SIGTERM first, so
the program exits cleanly (QEMU flushes its images' metadata on the way out), then,
after a grace period, forced removal.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conformance.implementations import Implementation, Instance, settle
from conformance.process import StartError, register_cleanup, socket_dir
from conformance.transport import RawQmpStream
from reference.profiles import Flavour

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

OWNER_LABEL = "qconform.owner"
MOUNT = "/run/qconform"
LIFETIME = 1800
STOP_GRACE = 3.0  # seconds a program has to exit on SIGTERM before its container is removed
# pid 1 is sh (coreutils 9.10's timeout refuses to run as pid 1), and pid 1 ignores a signal it
# has no handler for: the trap passes SIGTERM on to timeout, which passes it on to the program;
# the second wait takes the program's real status (timeout's: 128+N when it died of signal N).
RUNNER = (
    "trap 'stopping=1; kill -TERM \"$child\" 2>/dev/null' TERM; "
    'timeout --kill-after=5 "$@" & child=$!; '
    'wait "$child"; code=$?; '
    'if [ -n "$stopping" ]; then wait "$child"; code=$?; fi; '
    'exit "$code"'
)

_live: set[Container] = set()
_lock = threading.RLock()
_orphans_reaped = False


def _client() -> Any:
    import docker

    return docker.from_env()


def reap_orphans() -> int:
    """Remove containers whose starting process no longer exists."""
    import docker.errors

    removed = 0
    for container in _client().containers.list(all=True, filters={"label": OWNER_LABEL}, ignore_removed=True):
        owner = int(container.labels.get(OWNER_LABEL, "0"))
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            folders = _own_folders(container)
            try:
                container.remove(force=True)
            except docker.errors.APIError as err:
                if err.status_code in (404, 409):
                    continue  # another test process reaped it first, or is doing so
                raise
            for folder in folders:  # its socket folder: the dead owner could not remove it
                shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        except PermissionError:
            pass
    return removed


def _own_folders(container: Any) -> list[Path]:
    """The host folders socket_dir() made for a container (its bind mounts named qcf-*)."""
    temp = Path(tempfile.gettempdir())
    sources = [Path(m.get("Source", "")) for m in container.attrs.get("Mounts", [])]
    return [path for path in sources if path.parent == temp and path.name.startswith("qcf-")]


class Container:
    """A server in a container whose only way in is a folder of the host bind-mounted at MOUNT.

    It is up once `ready()` says so; `folder` is created here (and emptied and removed on stop)
    unless the caller passes its own, which then stays the caller's to remove.
    """

    def __init__(
        self,
        name: str,
        image: str,
        inner: list[str],
        ready: Callable[[], bool],
        *,
        folder: Path | None = None,
        start_timeout: float = 15,
        lifetime: int = LIFETIME,
        mounts: dict[Path, str] | None = None,
        read_only_mounts: dict[Path, str] | None = None,
        user: int | None = None,
    ) -> None:
        from testcontainers.core.container import DockerContainer

        global _orphans_reaped
        with _lock:
            if not _orphans_reaped:
                reap_orphans()
                _orphans_reaped = True
        self.name = name
        self.stopped_with: int | None = None  # the exit status SIGTERM led to (None: removed by force)
        self._own_folder = folder is None
        self.folder = folder if folder is not None else socket_dir()
        self._container = (
            DockerContainer(image)
            .with_command(["sh", "-c", RUNNER, "sh", str(lifetime), *inner])
            .with_volume_mapping(str(self.folder), MOUNT, "rw")
            .with_kwargs(
                network_mode="none",
                labels={OWNER_LABEL: str(os.getpid())},
                **({} if user is None else {"user": f"{user}:{user}"}),
            )
        )
        for host, inside in (mounts or {}).items():  # e.g. an NBD server's socket folder
            self._container.with_volume_mapping(str(host), inside, "rw")
        for host, inside in (read_only_mounts or {}).items():  # e.g. images seen read-only
            self._container.with_volume_mapping(str(host), inside, "ro")
        self._container.start()
        with _lock:
            _live.add(self)
        register_cleanup(stop_all_containers)
        deadline = time.monotonic() + start_timeout
        while not ready():
            if not self.alive():
                if ready():  # it became ready, then finished, between the two looks
                    break
                logs = self.logs()
                self.stop()
                raise StartError(f"{name} exited at start: {logs}")
            if time.monotonic() > deadline:
                self.stop()
                raise StartError(f"{name}: not ready after {start_timeout:g} s")
            time.sleep(0.01)

    def _state(self) -> dict[str, object]:
        wrapped = self._container.get_wrapped_container()
        wrapped.reload()
        return dict(wrapped.attrs["State"])

    def logs(self) -> str:
        out, err = self._container.get_logs()
        text = (out + err).decode("utf-8", "replace").strip()
        return " | ".join(text.splitlines())[-2000:] or "(no output)"

    def stderr_tail(self, limit: int = 2000) -> str:
        with contextlib.suppress(Exception):  # the container is gone
            return self.logs()[-limit:]
        return "(container gone)"

    def alive(self) -> bool:
        try:
            return self._state().get("Running") is True
        except Exception:  # the container is gone
            return False

    def crash_report(self) -> str | None:
        try:
            state = self._state()
        except Exception:
            return None
        if state.get("Running"):
            return None
        code = state.get("ExitCode")
        if state.get("OOMKilled"):
            return f"{self.name} was killed for lack of memory: {self.logs()}"
        # timeout(1) passes on 128+N when its child died of signal N.
        if isinstance(code, int) and code > 128:
            return f"{self.name} killed by {signal.Signals(code - 128).name}: {self.logs()}"
        return None

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM, up to `grace` seconds to exit, then removal (by force if it lingers); idempotent."""
        with contextlib.suppress(Exception):  # already gone
            wrapped = self._container.get_wrapped_container()
            with contextlib.suppress(Exception):  # not running (409), or still running after grace
                wrapped.kill(signal="SIGTERM")
                self.stopped_with = wrapped.wait(timeout=grace).get("StatusCode")
            wrapped.remove(force=True)
        if self._own_folder:
            for leftover in self.folder.iterdir() if self.folder.exists() else ():
                leftover.unlink(missing_ok=True)
            if self.folder.exists():
                self.folder.rmdir()
        with _lock:
            _live.discard(self)


class ContainerInstance(Container):
    """A QMP server in a container, reached over a unix socket in a shared folder."""

    def __init__(
        self,
        name: str,
        image: str,
        argv_for: Callable[[Path], list[str]],
        read_timeout: float,
        mounts: dict[Path, str] | None = None,
        read_only_mounts: dict[Path, str] | None = None,
        user: int | None = None,
    ) -> None:
        """user: the uid (and gid) the program runs as; it gets the socket folder."""
        self.read_timeout = read_timeout
        folder = socket_dir()
        if user is not None:
            os.chown(folder, user, user)
        self.socket = folder / "qmp.sock"
        inner = argv_for(Path(MOUNT) / "qmp.sock")
        super().__init__(
            name,
            image,
            inner,
            self.socket.exists,
            folder=folder,
            mounts=mounts,
            read_only_mounts=read_only_mounts,
            user=user,
        )
        self._own_folder = True
        settle(self)

    def connect(self) -> RawQmpStream:
        return RawQmpStream.connect_when_listening(self.socket, self.read_timeout, self.alive)

    def output_from(self, start: int) -> bytes:
        """The program's stdout from byte `start` on, as docker logged it (empty once it is gone)."""
        try:
            logged = self._container.get_wrapped_container().logs(stdout=True, stderr=False)
        except Exception:  # the container is gone
            return b""
        return bytes(logged[start:])


def stop_all_containers() -> None:
    with _lock:
        victims = list(_live)
    for instance in victims:
        instance.stop(grace=1.0)


def relaunched(
    impl: Implementation,
    *,
    mounts: dict[Path, str] | None = None,
    read_only_mounts: dict[Path, str] | None = None,
    user: int | None = None,
) -> Implementation:
    """FAMILY@SUITE started with more of the host mapped into its container, or as another uid."""
    from conformance.implementations import READ_TIMEOUT, qemu_system_argv, qsd_argv

    assert impl.backend == "container" and impl.binary is not None
    image, program = impl.binary.rsplit(":", 1)  # binary is IMAGE:TAG:PROGRAM
    argv = (qsd_argv if impl.flavour is Flavour.STORAGE_DAEMON else qemu_system_argv)(program)

    def launch() -> Instance:
        return ContainerInstance(
            impl.name, image, argv, READ_TIMEOUT, mounts, read_only_mounts=read_only_mounts, user=user
        )

    return dataclasses.replace(impl, launch=launch)
