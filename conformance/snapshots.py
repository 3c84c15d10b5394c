"""Reading snapshot files (`qconform capture` output) into oracle models."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from conformance.errors import QconformError
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


def model_from_file(
    path: Path, profile: Profile, *, exact_identity: bool, real_clock: bool = False
) -> ProcessModel:
    try:
        model = process_from_snapshot(read_snapshot(path), profile, exact_identity=exact_identity)
    except SchemaError as err:
        raise QconformError(f"{path}: {err}") from None
    if real_clock:
        model.clock = time.time
    return model
