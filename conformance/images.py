"""Container images of other Debian releases, built locally and cached by recipe.

An image is a Debian suite bootstrapped with mmdebstrap (no registry is ever
pulled from) and loaded with `docker import`. Its tag carries a hash of its
recipe, so a changed recipe builds anew and an unchanged one is reused. Next
to the cached tarball a small JSON file records the packages' versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.errors import QconformError

RECIPE_FORMAT = 1
MIRROR = "http://deb.debian.org/debian"
# qemu-system-x86 pulls in seabios and ipxe-qemu (hard dependencies): enough firmware for
# `-M pc -nodefaults` under TCG; Recommends (GUI, OVMF) stay out.
PACKAGES = (
    "qemu-system-common", "qemu-system-x86", "qemu-utils", "qemu-block-extra",
    "nbdkit", "nbd-server", "coreutils",
)  # fmt: skip


@dataclass(frozen=True)
class Recipe:
    suite: str

    @property
    def digest(self) -> str:
        text = json.dumps([RECIPE_FORMAT, self.suite, MIRROR, PACKAGES])
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def tag(self) -> str:
        return f"qconform/debian-{self.suite}:{self.digest}"


# bullseye: QEMU 5.2, the oldest one deb.debian.org still carries (x-blockdev-reopen, before 6.1).
RECIPES = {suite: Recipe(suite) for suite in ("bullseye", "bookworm", "trixie", "sid")}


def cache_dir() -> Path:
    base = os.environ.get("QCONFORM_CACHE") or os.path.expanduser("~/.cache/qconform")
    return Path(base) / "images"


def manifest_path(recipe: Recipe) -> Path:
    return cache_dir() / f"debian-{recipe.suite}-{recipe.digest}.json"


def read_manifest(recipe: Recipe) -> dict[str, Any] | None:
    path = manifest_path(recipe)
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError):
        return None


def docker_available() -> str | None:
    """None if a Docker engine answers, else why not."""
    if shutil.which("docker") is None:
        return "no docker client (Debian package docker.io)"
    argv = ["docker", "info", "--format", "{{.ServerVersion}}"]
    probe = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    if probe.returncode != 0:
        return "no Docker engine answers (start dockerd; .ci/provision does)"
    return None


def image_present(recipe: Recipe) -> bool:
    probe = subprocess.run(
        ["docker", "image", "inspect", recipe.tag], capture_output=True, timeout=20, check=False
    )
    return probe.returncode == 0


def _run(argv: list[str], what: str, timeout: float) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise QconformError(f"{what}: {err}") from None
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise QconformError(f"{what} failed ({done.returncode}): {tail}")
    return done.stdout


def build(recipe: Recipe, log: Any = print) -> dict[str, Any]:
    """Build (or reuse) the image; return its manifest."""
    reason = docker_available()
    if reason is not None:
        raise QconformError(f"cannot build {recipe.tag}: {reason}")
    manifest = read_manifest(recipe)
    if manifest is not None and image_present(recipe):
        log(f"images: {recipe.tag} is up to date")
        return manifest
    if shutil.which("mmdebstrap") is None:
        raise QconformError("mmdebstrap not found (Debian package mmdebstrap)")
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    tarball = folder / f"debian-{recipe.suite}-{recipe.digest}.tar"
    if not tarball.exists():
        log(f"images: bootstrapping Debian {recipe.suite} with {', '.join(PACKAGES)}")
        partial = tarball.with_suffix(".partial.tar")
        argv = [
            "mmdebstrap", "--variant=apt", "--include=" + ",".join(PACKAGES),
            # The mirror reached here may lag behind; an expired Release file is no reason to fail.
            '--aptopt=Acquire::Check-Valid-Until "false"',
            recipe.suite, str(partial), MIRROR,
        ]  # fmt: skip
        _run(argv, f"mmdebstrap {recipe.suite}", timeout=1800)
        partial.replace(tarball)
    log(f"images: importing {recipe.tag}")
    _run(["docker", "import", str(tarball), recipe.tag], "docker import", timeout=600)
    versions = _run(
        ["docker", "run", "--rm", "--network", "none", recipe.tag, "dpkg-query", "-W", *PACKAGES],
        "reading package versions",
        timeout=120,
    )

    def version_of(program: str) -> str:
        argv = ["docker", "run", "--rm", "--network", "none", recipe.tag, program, "--version"]
        return _run(argv, f"reading {program}'s version", timeout=120).splitlines()[0]

    manifest = {
        "suite": recipe.suite,
        "tag": recipe.tag,
        "packages": dict(line.split("\t", 1) for line in versions.strip().splitlines()),
        "qemu-storage-daemon --version": version_of("qemu-storage-daemon"),
        "qemu-system-x86_64 --version": version_of("qemu-system-x86_64"),
    }
    manifest_path(recipe).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest
