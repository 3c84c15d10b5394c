"""FAMILY@SUITE implementations for the block tables; missing ones skip (fail under CI=true)."""

from __future__ import annotations

import os

import pytest

from conformance.block.views import storage_unavailable
from conformance.implementations import Implementation, discover


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: every implementation must be present)", pytrace=False)
    pytest.skip(message)


def container_implementation(name: str, storage: bool = False) -> Implementation:
    """name's container implementation; storage: the test also builds storage views (needs root)."""
    reason = storage_unavailable() if storage else None
    if reason is not None:
        _unavailable(reason)
    found, missing = discover()
    impl = next((i for i in found if i.name == name), None)
    if impl is None:
        _unavailable(next((m.reason for m in missing if m.name == name), f"{name} unknown"))
    assert impl is not None
    return impl


def table_implementation(name: str) -> Implementation:
    """A host binary or FAMILY@SUITE, for the tables that build storage views."""
    from block.conftest import real_implementation

    return container_implementation(name, storage=True) if "@" in name else real_implementation(name)
