"""fixtures/block/iotests-coverage.json names real files and real case ids."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COVERAGE = ROOT / "fixtures" / "block" / "iotests-coverage.json"
PATH = re.compile(r"(?:tests|fixtures|reference|conformance)/[\w./-]+\.(?:py|json)")


def _case_ids(path: Path) -> set[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {case["id"] for key in ("cases", "scenarios") for case in data.get(key, [])}


def _names(pattern: str, known: set[str]) -> bool:
    if pattern.endswith("*"):
        return any(case.startswith(pattern[:-1]) for case in known)
    return pattern in known


def test_every_named_file_and_case_exists() -> None:
    data = json.loads(COVERAGE.read_text(encoding="utf-8"))
    missing: list[str] = []
    for number, entry in data["iotests"].items():
        for item in entry["covered"]:
            for part in item["case"].split(";"):
                found = PATH.search(part)
                if found is None:
                    continue
                path = ROOT / found.group(0)
                if not path.exists():
                    missing.append(f"{number}: {found.group(0)}")
                    continue
                # Ids follow a fixture's path up to a parenthesis: "fixtures/x.json id-1, id-2 (notes)".
                tail = part[found.end() :].split("(")[0]
                ids = re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)+-?\*?", tail)  # "export-client-*": a prefix
                if path.suffix == ".json" and ids:
                    known = _case_ids(path)
                    missing += [f"{number}: {path.name} {case}" for case in ids if not _names(case, known)]
    assert not missing, missing
