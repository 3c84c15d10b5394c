"""The server matrix and the probe list (fixtures/nbd/*.json), loaded and checked against their schemas."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jsonschema

from reference.nbd.clauses import CLAUSES

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "nbd"


@dataclass(frozen=True)
class ServerSpec:
    name: str
    binary: str
    backing: str
    transport: str
    argv: tuple[str, ...]
    read_only_args: tuple[str, ...]
    config: tuple[str, ...] | None
    package: str | None = None  # the Debian package, for its version
    suite: str | None = None  # set: runs in that Debian suite's container image
    host_name: str = ""  # the host server this one is the container variant of

    @property
    def backend(self) -> str:
        return "host" if self.suite is None else "container"


@dataclass(frozen=True)
class ProbeSpec:
    id: str
    client: str
    modes: tuple[str, ...]
    clauses: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class Matrix:
    image_size: int
    export: str
    servers: tuple[ServerSpec, ...]

    def server(self, name: str) -> ServerSpec:
        return next(s for s in self.servers if s.name == name)


def _load(name: str) -> Any:
    doc = json.loads((FIXTURES / name).read_text())
    schema = json.loads((FIXTURES / name.replace(".json", ".schema.json")).read_text())
    jsonschema.validate(doc, schema)
    return doc


def load_matrix() -> Matrix:
    """The host servers, then each one's container variants (NAME@SUITE), suite by suite."""
    doc = _load("servers.json")
    hosts = [
        ServerSpec(
            s["name"],
            s["binary"],
            s["backing"],
            s["transport"],
            tuple(s["argv"]),
            tuple(s["read_only_args"]),
            tuple(s["config"]) if "config" in s else None,
            s.get("package"),
            host_name=s["name"],
        )
        for s in doc["servers"]
    ]
    in_images: list[ServerSpec] = []
    for suite in ("bookworm", "trixie", "sid"):
        for s, spec in zip(doc["servers"], hosts, strict=True):
            if suite in s.get("images", ()):
                if spec.transport != "unix":
                    raise ValueError(f"{spec.name}: a container is reached over a unix socket only")
                argv = tuple(s.get("container_argv", s["argv"]))
                in_images.append(replace(spec, name=f"{spec.name}@{suite}", argv=argv, suite=suite))
    return Matrix(doc["image_size"], doc["export"], (*hosts, *in_images))


def load_probes() -> list[ProbeSpec]:
    probes = [
        ProbeSpec(p["id"], p["client"], tuple(p["modes"]), tuple(p["clauses"]), p["description"])
        for p in _load("probes.json")["probes"]
    ]
    for p in probes:
        unknown = [x for x in p.clauses if x not in CLAUSES]
        if unknown:
            raise ValueError(f"probe {p.id} names unknown clauses {unknown}")
    return probes
