"""Known divergences, recorded as data (fixtures/divergences.json), never as looser checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from conformance.errors import QconformError

DIVERGENCES_FILE = Path(__file__).resolve().parent.parent / "fixtures" / "divergences.json"
KINDS = ("oracle-bug", "implementation-bug", "version-difference")


@dataclass(frozen=True)
class Divergence:
    case: str
    implementations: tuple[str, ...]
    kind: str
    reason: str
    # A race: the divergence shows on some runs only, so a run that agrees is no news.
    intermittent: bool = False


def load_divergences(path: Path = DIVERGENCES_FILE) -> dict[tuple[str, str], Divergence]:
    """(case id, implementation name) -> the recorded divergence."""
    if not path.exists():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["divergences"]
        table: dict[tuple[str, str], Divergence] = {}
        for index, entry in enumerate(entries):
            if entry["kind"] not in KINDS:
                raise QconformError(f"{path}: divergences[{index}].kind: not one of {', '.join(KINDS)}")
            item = Divergence(
                entry["case"], tuple(entry["implementations"]), entry["kind"], entry["reason"],
                entry.get("intermittent", False) is True,
            )  # fmt: skip
            for impl in item.implementations:
                table[(item.case, impl)] = item
    except (KeyError, TypeError) as err:
        raise QconformError(f"{path}: malformed divergence entry ({err})") from None
    except json.JSONDecodeError as err:
        raise QconformError(f"{path}:{err.lineno}: not JSON: {err.msg}") from None
    return table
