"""Node names: which are well formed, and the checks blockdev-add makes, in QEMU 7.2's order."""

from __future__ import annotations

import string
from collections.abc import Container

from reference.block.errors import BlockError
from reference.profiles import QEMU_7_2, Profile

NAME_LIMIT = 32  # QEMU keeps node names in a char[32]: 31 characters at most
_FIRST = frozenset(string.ascii_letters)
_REST = frozenset(string.ascii_letters + string.digits + "-._")


def well_formed(name: str) -> bool:
    return bool(name) and name[0] in _FIRST and all(c in _REST for c in name[1:])


def check_new_name(name: str, taken: Container[str], profile: Profile = QEMU_7_2) -> None:
    if not well_formed(name):
        raise BlockError(profile.invalid_node_name_message.format(name=name))
    if name in taken:
        raise BlockError(profile.duplicate_node_name_message.format(name=name))
    if len(name) >= NAME_LIMIT:
        raise BlockError("Node name too long")


def lookup_error(profile: Profile, device: str, name: str) -> BlockError:
    """No BlockBackend DEVICE and no node NAME (QEMU's bdrv_lookup_bs)."""
    return BlockError(profile.lookup_message.format(device=device, name=name))
