"""The reopen command as a version takes it: blockdev-reopen (6.1 on) or x-blockdev-reopen (before)."""

from __future__ import annotations

from typing import Any

from reference.profiles import Profile


def reopen_request(profile: Profile, entry: dict[str, Any]) -> dict[str, Any]:
    if profile.reopen_command == "x-blockdev-reopen":
        return {"execute": "x-blockdev-reopen", "arguments": entry}
    return {"execute": profile.reopen_command, "arguments": {"options": [entry]}}
