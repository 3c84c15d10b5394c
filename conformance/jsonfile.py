"""Writing JSON files atomically, with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance.errors import QconformError


def write_json(path: Path, document: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        raise QconformError(f"{path}: cannot write: {err.strerror}") from None
