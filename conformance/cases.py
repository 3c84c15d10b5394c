"""QMP cases from fixtures/qmp/*.json, checked against their JSON Schema."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from conformance.errors import QconformError

REPO = Path(__file__).resolve().parent.parent
QMP_CASES_DIR = REPO / "fixtures" / "qmp"
QMP_SCHEMA = REPO / "fixtures" / "schema" / "qmp-cases.schema.json"
SYNC_ID = "qconform-sync"
SYNC_LINE = b'{"execute": "qconform-sync", "id": "qconform-sync"}\n'


@dataclass(frozen=True)
class QmpCase:
    id: str
    description: str
    group: str
    source: str
    segments: tuple[bytes, ...]
    negotiate: bool = True
    capabilities: tuple[str, ...] = ()
    incomplete: bool = False
    expect: tuple[Any, ...] | None = None  # None: the oracle predicts
    survives_only: bool = False  # "survives": judge only that it answers the sync line and lives
    pinned: tuple[Any, ...] | None = None
    tags: tuple[str, ...] = field(default=())

    def wire_segments(self) -> tuple[bytes, ...]:
        """What the harness writes: the case's bytes, then (unless incomplete) the sync line."""
        return self.segments if self.incomplete else (*self.segments, SYNC_LINE)


def _segment(raw: str | dict[str, str]) -> bytes:
    if isinstance(raw, str):
        return raw.encode("utf-8")
    return bytes.fromhex(raw["hex"])


def _field_path(error: jsonschema.ValidationError) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path]
    return "".join(parts).lstrip(".") or "(top level)"


def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(QMP_SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def load_file(path: Path, validator: jsonschema.protocols.Validator | None = None) -> list[QmpCase]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise QconformError(f"{path}: cannot read: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise QconformError(f"{path}:{err.lineno}:{err.colno}: not JSON: {err.msg}") from None
    validator = validator or _validator()
    error = next(iter(sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        raise QconformError(f"{path}: {_field_path(error)}: {error.message}")
    group = data["group"]
    cases = []
    for raw in data["cases"]:
        send = raw["send"]
        segments = (send,) if isinstance(send, str) else tuple(send)
        expect = raw["expect"]
        cases.append(
            QmpCase(
                id=raw["id"],
                description=raw["description"],
                group=group,
                source=path.name,
                segments=tuple(_segment(s) for s in segments),
                negotiate=raw.get("negotiate", True),
                capabilities=tuple(raw.get("capabilities", ())),
                incomplete=raw.get("incomplete", False),
                expect=None if expect in ("predict", "survives") else tuple(expect),
                survives_only=expect == "survives",
                pinned=tuple(raw["pinned"]) if "pinned" in raw else None,
                tags=tuple(raw.get("tags", ())),
            )
        )
    return cases


def load_cases(paths: Iterable[Path] | None = None) -> list[QmpCase]:
    """All cases, in file then case order; ids must be unique across files."""
    files = sorted(paths) if paths is not None else sorted(QMP_CASES_DIR.glob("*.json"))
    validator = _validator()
    seen: dict[str, str] = {}
    cases: list[QmpCase] = []
    for path in files:
        for case in load_file(path, validator):
            if case.id in seen:
                raise QconformError(f"{path}: case id {case.id!r} already used in {seen[case.id]}")
            seen[case.id] = path.name
            cases.append(case)
    return cases
