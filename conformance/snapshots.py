"""Reading snapshot files (`qconform capture` output) into oracle models."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from conformance.errors import QconformError
from conformance.int_types import load_table
from reference.profiles import Profile
from reference.qapi.introspection import SchemaError
from reference.qmp.model import ProcessModel
from reference.qmp.snapshot import process_from_snapshot

_cache: dict[Path, Any] = {}


def read_snapshot(path: Path) -> Any:
    path = path.resolve()
    if path not in _cache:
        try:
            _cache[path] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise QconformError(f"{path}: snapshot not found") from None
        except (OSError, UnicodeDecodeError) as err:
            raise QconformError(f"{path}: cannot read snapshot: {err}") from None
        except json.JSONDecodeError as err:
            raise QconformError(f"{path}:{err.lineno}: not JSON: {err.msg}") from None
    return _cache[path]


_models: dict[tuple[Path, str, bool], ProcessModel] = {}


def model_from_file(
    path: Path, profile: Profile, *, exact_identity: bool, real_clock: bool = False
) -> ProcessModel:
    """A fresh process model; the schema and identity, never mutated, are built once per file."""
    key = (path.resolve(), profile.name, exact_identity)
    if key not in _models:
        try:
            _models[key] = process_from_snapshot(read_snapshot(path), profile, exact_identity=exact_identity)
            _models[key].schema.int_types = load_table(path)
        except SchemaError as err:
            raise QconformError(f"{path}: {err}") from None
    model = dataclasses.replace(_models[key], disabled={})
    if real_clock:
        model.clock = time.time
    return model
