"""Reading JSON files and writing them atomically, with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from conformance.errors import QconformError


def read_json(path: Path) -> Any:
    """A file's JSON, or a one-line QconformError saying what is wrong with it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise QconformError(f"{path}: cannot read: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise QconformError(f"{path}:{err.lineno}: not JSON: {err.msg}") from None


def read_validated_json(path: Path, schema: Path) -> Any:
    """A fixture's JSON checked against its JSON Schema; one line saying where it is wrong."""
    data = read_json(path)
    try:
        jsonschema.Draft202012Validator(read_json(schema)).validate(data)
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "(top)"
        raise QconformError(f"{path}: {where}: {err.message}") from None
    return data


def write_json(path: Path, document: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        raise QconformError(f"{path}: cannot write: {err.strerror or err}") from None


def write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise QconformError(f"{path}: cannot write: {err.strerror or err}") from None


def check_writable(path: Path) -> None:
    """Fail now, not after a long run, if `path` cannot be written (root included)."""
    existed = path.exists()
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as err:
        raise QconformError(f"{path}: cannot write: {err.strerror or err}") from None
    if not existed:
        path.unlink()
