"""fixtures/block/*.json: images, storages, the truth table's dimensions and step cases."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from conformance.errors import QconformError
from conformance.jsonfile import read_validated_json
from reference.profiles import Profile

REPO = Path(__file__).resolve().parents[2]
BLOCK_DIR = REPO / "fixtures" / "block"
SCHEMA = BLOCK_DIR / "block-cases.schema.json"


@dataclass(frozen=True)
class StepCase:
    id: str
    description: str
    storage: str
    steps: tuple[dict[str, Any], ...]
    data: tuple[dict[str, Any], ...] = ()  # what the images read back after the session
    data_one_of: tuple[dict[str, Any], ...] = ()  # ranges that read back one of a few patterns (a race)


@dataclass(frozen=True)
class BlockFixture:
    images: tuple[dict[str, Any], ...]
    table: dict[str, Any]
    cases: tuple[StepCase, ...]
    chain_table: dict[str, Any] | None = None


def load(path: Path = BLOCK_DIR / "seed.json") -> BlockFixture:
    data = read_validated_json(path, SCHEMA)
    cases = tuple(_step_case(raw) for raw in data["cases"])
    images = {image["name"] for image in data["images"]}
    for case in cases:
        for entry in (*case.data, *case.data_one_of):
            if entry["image"] not in images:
                raise QconformError(f"{path}: {case.id}: data names no image {entry['image']!r}")
            unknown = set(entry.get("profile", {})) - PROFILE_FIELDS
            if unknown:
                raise QconformError(f"{path}: {case.id}: data names no profile field {sorted(unknown)[0]!r}")
    return BlockFixture(tuple(data["images"]), data.get("truth-table", {}), cases, data.get("chain-table"))


PROFILE_FIELDS = frozenset(f.name for f in fields(Profile))


def data_applies(entry: dict[str, Any], impl_name: str, profile: Profile) -> bool:
    """Whether a "data" entry is checked on an implementation: its program family (the name
    before any "@suite": qsd, qemu-system, on the host or in a container) named in the entry's
    "implementations", and its profile having the values the entry's "profile" gives (data that
    differs by version)."""
    family = impl_name.split("@", 1)[0]
    if family not in entry.get("implementations", [family]):
        return False
    return all(getattr(profile, key) == value for key, value in entry.get("profile", {}).items())


def _step_case(raw: dict[str, Any]) -> StepCase:
    steps, data = tuple(raw["steps"]), tuple(raw.get("data", ()))
    return StepCase(
        raw["id"], raw["description"], raw["storage"], steps, data, tuple(raw.get("data-one-of", ()))
    )


def load_all() -> tuple[BlockFixture, ...]:
    return (load(), load(BLOCK_DIR / "chain.json"))


def load_step_cases() -> tuple[BlockFixture, ...]:
    """The transcript fixtures: regressions.json and every fixtures/block/cases/*.json."""
    return (
        load(BLOCK_DIR / "regressions.json"),
        *(load(path) for path in sorted((BLOCK_DIR / "cases").glob("*.json"))),
    )


def with_paths(value: Any, paths: dict[str, str]) -> Any:
    """Replace every "@NAME" string by the image's path."""
    if isinstance(value, dict):
        return {key: with_paths(item, paths) for key, item in value.items()}
    if isinstance(value, list):
        return [with_paths(item, paths) for item in value]
    if isinstance(value, str) and value.startswith("@"):
        return paths[value[1:]]
    return value
