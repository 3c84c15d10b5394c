"""Where a server of the matrix runs (host or a Debian image's container), whether it can, and its version."""

from __future__ import annotations

import functools
import shutil
import subprocess

from conformance.images import RECIPES, Recipe, docker_available, image_present, read_manifest
from conformance.nbd.matrix import ServerSpec


def recipe(spec: ServerSpec) -> Recipe | None:
    return None if spec.suite is None else RECIPES[spec.suite]


@functools.cache
def _engine_problem() -> str | None:
    return docker_available()


@functools.cache
def _image_problem(suite: str) -> str | None:
    built = RECIPES[suite]
    if read_manifest(built) is None or not image_present(built):
        return f"image {built.tag} not built (qconform images build)"
    return None


def missing_reason(spec: ServerSpec) -> str | None:
    """None if the server can run here, else why not."""
    if spec.suite is None:
        if spec.binary == "python" or shutil.which(spec.binary):
            return None
        return f"{spec.binary} not found on PATH"
    return _engine_problem() or _image_problem(spec.suite)


@functools.cache
def _host_package_version(package: str) -> str:
    try:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


def version(spec: ServerSpec) -> str:
    """The Debian package's version (from the image's manifest in a container), 'qconform' for ours."""
    if spec.package is None:
        return "qconform"
    built = recipe(spec)
    if built is None:
        return _host_package_version(spec.package)
    manifest = read_manifest(built) or {}
    return str(dict(manifest.get("packages", {})).get(spec.package, "unknown"))


def describe(spec: ServerSpec) -> dict[str, str | None]:
    """What the results and `qconform impls` say about a server: backend, image, suite, version."""
    built = recipe(spec)
    return {
        "backend": spec.backend,
        "image": None if built is None else built.tag,
        "suite": spec.suite,
        "package": spec.package,
        "version": version(spec),
    }


def inventory() -> list[dict[str, str | None]]:
    """Every NBD server of the matrix: where it runs, its version, and why it cannot run here, if so."""
    from conformance.nbd.matrix import load_matrix

    rows = []
    for spec in load_matrix().servers:
        reason = missing_reason(spec)
        where = describe(spec)
        if reason is not None and spec.suite is not None:
            where["version"] = None  # no image, no manifest to read it from
        rows.append({"name": spec.name, **where, "missing": reason})
    return rows


def inventory_lines() -> list[str]:
    """`qconform impls`'s NBD part: one line a server."""
    lines = []
    for row in inventory():
        if row["missing"] is not None:
            lines.append(f"nbd {row['name']:23} missing: {row['missing']}")
            continue
        where = row["image"] or "(host)"
        version = f"{row['package']} {row['version']}" if row["package"] else "qconform"
        lines.append(f"nbd {row['name']:23} {row['backend']:10} {where:40} {version}")
    return lines
