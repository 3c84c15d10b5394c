"""The implementations under test: what they are, how to start them, why one is missing.

An Implementation is name + version + how to start + how to connect. Backends
(host process, in-process; later network namespace and container) differ only
in launch().
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from conformance.errors import QconformError
from conformance.process import ManagedProcess, StartError, socket_dir
from conformance.transport import RawQmpStream
from reference.profiles import DEFAULT_PROFILE, Flavour, Profile, get_profile, profile_for_version

REPO = Path(__file__).resolve().parent.parent
INTROSPECTION_DIR = REPO / "fixtures" / "introspection"


class QmpStream(Protocol):
    def send(self, data: bytes) -> None: ...
    def read_line(self, timeout: float | None = None) -> bytes | None: ...
    def close(self) -> None: ...


class Instance(Protocol):
    """A running implementation."""

    def connect(self) -> QmpStream: ...
    def alive(self) -> bool: ...
    def crash_report(self) -> str | None: ...
    def stop(self) -> None: ...


@dataclass(frozen=True)
class Implementation:
    name: str
    flavour: Flavour
    profile: Profile
    version: str
    backend: str
    launch: Callable[[], Instance] = field(compare=False, repr=False)
    binary: str | None = None
    # The container image the binary runs in (backend "container").
    image: str | None = None
    # True when the oracle may predict this build's exact version (the reference).
    exact_identity: bool = False

    @property
    def snapshot_path(self) -> Path:
        return INTROSPECTION_DIR / f"{self.flavour.value}-{self.profile.name}.json"


@dataclass(frozen=True)
class Missing:
    name: str
    reason: str


SETTLE_SECONDS = 0.15


def settle(instance: Instance) -> None:
    """Give a just-started QEMU a moment before the first client connects.

    QEMU 7.2 finishes setting up a monitor that has an I/O thread in a bottom
    half that runs after the socket listens. A client that connects in that
    window can be greeted twice and lose the start of its input to a reset
    JSON parser; a throwaway connection instead (connect, close, reconnect)
    made qsd crash now and then (SIGSEGV, an abort in json_parser_parse).
    Waiting, without connecting, avoids both.
    """
    time.sleep(SETTLE_SECONDS)


class ProcessInstance:
    """A QMP server process listening on a unix socket."""

    def __init__(self, name: str, argv_for: Callable[[Path], list[str]], read_timeout: float) -> None:
        self.socket = socket_dir() / "qmp.sock"
        self.read_timeout = read_timeout
        self.process = ManagedProcess(
            argv_for(self.socket), name=name, ready=self.socket.exists, capture_stdout=True
        )
        try:
            self.process.start()
        except StartError:
            self._remove_socket_dir()
            raise
        settle(self)

    def connect(self) -> QmpStream:
        return RawQmpStream.connect_when_listening(self.socket, self.read_timeout, self.process.alive)

    def alive(self) -> bool:
        return self.process.alive()

    def output_from(self, start: int) -> bytes:
        """The process's stdout from byte `start` on."""
        return self.process.stdout_from(start)

    def crash_report(self) -> str | None:
        return self.process.crash_report()

    def stop(self) -> None:
        self.process.stop()
        self._remove_socket_dir()

    def _remove_socket_dir(self) -> None:
        self.socket.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.socket.parent.rmdir()


def qsd_argv(binary: str) -> Callable[[Path], list[str]]:
    def argv(sock: Path) -> list[str]:
        return [
            binary,
            "--chardev", f"socket,path={sock},server=on,wait=off,id=qcf0",
            "--monitor", "chardev=qcf0",
        ]  # fmt: skip

    return argv


def qemu_system_argv(binary: str) -> Callable[[Path], list[str]]:
    def argv(sock: Path) -> list[str]:
        return [
            binary, "-M", "none", "-nodefaults", "-no-user-config", "-display", "none",
            "-qmp", f"unix:{sock},server=on,wait=off",
        ]  # fmt: skip

    return argv


def reference_server_argv(sock: Path) -> list[str]:
    return [sys.executable, "-m", "conformance.cli", "serve", "qmp", "--socket", str(sock)]


VERSION_RE = re.compile(r"version (\d+)\.(\d+)\.(\d+)")


def probe_version(binary: str) -> tuple[int, int, int]:
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as err:
        raise QconformError(f"{binary}: cannot run --version: {err}") from None
    match = VERSION_RE.search(out)
    if not match:
        raise QconformError(f"{binary}: --version printed no version: {out.strip()[:80]!r}")
    major, minor, micro = (int(g) for g in match.groups())
    return major, minor, micro


@dataclass(frozen=True)
class HostBinary:
    name: str
    program: str
    flavour: Flavour
    package: str
    argv: Callable[[str], Callable[[Path], list[str]]]


HOST_BINARIES = (
    HostBinary("qsd", "qemu-storage-daemon", Flavour.STORAGE_DAEMON, "qemu-system-common", qsd_argv),
    HostBinary("qemu-system", "qemu-system-x86_64", Flavour.SYSTEM, "qemu-system-x86", qemu_system_argv),
)

READ_TIMEOUT = 5.0


@functools.cache
def netns_prefix() -> tuple[str, ...]:
    """With QCONFORM_NETNS=1 (and root): `unshare --net --`, so host binaries run
    in a private, empty network namespace and can reach no address at all (the
    backend for machines without a container engine). QMP needs no network: its
    socket is a file; an NBD server a QEMU there must reach needs a unix socket."""
    if os.environ.get("QCONFORM_NETNS") != "1" or os.geteuid() != 0 or shutil.which("unshare") is None:
        return ()
    probe = subprocess.run(["unshare", "--net", "--", "true"], capture_output=True, timeout=10, check=False)
    return ("unshare", "--net", "--") if probe.returncode == 0 else ()


def _in_netns(argv: Callable[[Path], list[str]]) -> Callable[[Path], list[str]]:
    prefix = list(netns_prefix())
    return lambda sock: [*prefix, *argv(sock)]


def _host_implementation(spec: HostBinary, path: str | None) -> Implementation | Missing:
    binary = path or shutil.which(spec.program)
    if binary is None:
        return Missing(spec.name, f"{spec.program} not found on PATH (Debian package {spec.package})")
    if not Path(binary).is_file():
        if path is not None:
            raise QconformError(f"--impl-path {spec.name}={path}: no such file")
        return Missing(spec.name, f"{binary}: no such file")
    major, minor, micro = probe_version(binary)
    profile = profile_for_version(major, minor) or get_profile(DEFAULT_PROFILE)
    argv = _in_netns(spec.argv(binary))
    return Implementation(
        name=spec.name,
        flavour=spec.flavour,
        profile=profile,
        version=f"{major}.{minor}.{micro}",
        backend="netns" if netns_prefix() else "host",
        binary=binary,
        launch=lambda: ProcessInstance(spec.name, argv, READ_TIMEOUT),
    )


def _launch_in_process() -> Instance:
    from conformance.inprocess import InProcessReference

    return InProcessReference()


def _reference_implementations() -> list[Implementation]:
    profile = get_profile(DEFAULT_PROFILE)
    return [
        Implementation(
            name="reference",
            flavour=Flavour.STORAGE_DAEMON,
            profile=profile,
            version="qconform",
            backend="in-process",
            launch=_launch_in_process,
            exact_identity=True,
        ),
        Implementation(
            name="reference-server",
            flavour=Flavour.STORAGE_DAEMON,
            profile=profile,
            version="qconform",
            backend="host",
            binary=sys.executable,
            launch=lambda: ProcessInstance("reference-server", reference_server_argv, READ_TIMEOUT),
            exact_identity=True,
        ),
    ]


@dataclass(frozen=True)
class ContainerBinary:
    """A QMP server program every container image carries, named FAMILY@SUITE."""

    family: str
    program: str
    flavour: Flavour
    argv: Callable[[Path], list[str]]


CONTAINER_BINARIES = (
    ContainerBinary("qsd", "qemu-storage-daemon", Flavour.STORAGE_DAEMON, qsd_argv("qemu-storage-daemon")),
    ContainerBinary(
        "qemu-system", "qemu-system-x86_64", Flavour.SYSTEM, qemu_system_argv("qemu-system-x86_64")
    ),
)


def container_version(manifest: Mapping[str, object], program: str) -> tuple[int, int, int] | None:
    """The program's version as the image's manifest recorded it at build time."""
    match = VERSION_RE.search(str(manifest.get(f"{program} --version", "")))
    if match is None:
        return None
    major, minor, micro = (int(group) for group in match.groups())
    return major, minor, micro


def _container_implementations() -> tuple[list[Implementation], list[Missing]]:
    """FAMILY@SUITE for every container binary and every Debian suite whose image is built."""
    from conformance.containers import ContainerInstance
    from conformance.images import RECIPES, docker_available, image_present, read_manifest

    names = [f"{spec.family}@{suite}" for suite in RECIPES for spec in CONTAINER_BINARIES]
    reason = docker_available()
    if reason is not None:
        return [], [Missing(name, reason) for name in names]
    found: list[Implementation] = []
    missing: list[Missing] = []
    for suite, recipe in RECIPES.items():
        manifest = read_manifest(recipe)
        built = manifest is not None and image_present(recipe)
        for spec in CONTAINER_BINARIES:
            name = f"{spec.family}@{suite}"
            if manifest is None or not built:
                missing.append(Missing(name, f"image {recipe.tag} not built (qconform images build)"))
                continue
            version = container_version(manifest, spec.program)
            if version is None:
                missing.append(
                    Missing(name, f"image {recipe.tag}: {spec.program}'s version unknown (rebuild it)")
                )
                continue
            major, minor, micro = version
            profile = profile_for_version(major, minor) or get_profile(DEFAULT_PROFILE)
            found.append(
                Implementation(
                    name=name,
                    flavour=spec.flavour,
                    profile=profile,
                    version=f"{major}.{minor}.{micro}",
                    backend="container",
                    binary=f"{recipe.tag}:{spec.program}",
                    image=recipe.tag,
                    launch=lambda name=name, tag=recipe.tag, argv=spec.argv: ContainerInstance(  # type: ignore[misc]
                        name, tag, argv, READ_TIMEOUT
                    ),
                )
            )
    return found, missing


# The suites of conformance.images.RECIPES (not imported here: that module runs docker).
CONTAINER_SUITES = ("bullseye", "bookworm", "trixie", "sid")
KNOWN_NAMES = (
    "reference",
    "reference-server",
    *(spec.name for spec in HOST_BINARIES),
    *(f"{spec.family}@{suite}" for spec in CONTAINER_BINARIES for suite in CONTAINER_SUITES),
)


def discover(paths: Mapping[str, str] | None = None) -> tuple[list[Implementation], list[Missing]]:
    """Every implementation this machine has, and why each absent one is absent."""
    paths = dict(paths or {})
    unknown = set(paths) - {spec.name for spec in HOST_BINARIES}
    if unknown:
        raise QconformError(f"--impl-path: unknown implementation {sorted(unknown)[0]!r}")
    found: list[Implementation] = _reference_implementations()
    missing: list[Missing] = []
    for spec in HOST_BINARIES:
        result = _host_implementation(spec, paths.get(spec.name))
        (found if isinstance(result, Implementation) else missing).append(result)  # type: ignore[arg-type]
    in_containers, not_built = _container_implementations()
    return found + in_containers, missing + not_built


def select(
    names: list[str], found: list[Implementation], missing: list[Missing], *, strict: bool
) -> list[Implementation]:
    """The implementations named (all found ones if none); strict: a missing one is an error."""
    by_name = {impl.name: impl for impl in found}
    absent = {m.name: m.reason for m in missing}
    for name in names:
        if name not in by_name and name not in absent:
            raise QconformError(f"unknown implementation {name!r} (known: {', '.join(KNOWN_NAMES)})")
    if strict:
        wanted = names or [*by_name, *absent]
        for name in wanted:
            if name in absent:
                raise QconformError(f"implementation {name} is missing: {absent[name]}")
    return [by_name[name] for name in (names or list(by_name)) if name in by_name]


__all__ = ["Implementation", "Instance", "Missing", "StartError", "discover", "select"]
