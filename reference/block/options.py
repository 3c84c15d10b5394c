"""blockdev-add options: which the model understands, and how read-only flags resolve.

Verified on qemu-storage-daemon 7.2: an inline 'file' child that does not set
read-only / auto-read-only takes its parent's resolved values (the facts
sheet's "inline children default to off" does not hold for 'file' children);
an explicit value on the child wins. A referenced child keeps its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference.block.errors import NotModelled
from reference.qobject.values import QDict

# cache / detect-zeroes / discard: reference/block/add_options.py
COMMON = frozenset({"driver", "node-name", "read-only", "auto-read-only", "cache", "detect-zeroes",
                    "discard"})  # fmt: skip
MODELLED_OPTIONS: dict[str, frozenset[str]] = {
    "file": COMMON | {"filename", "locking", "x-check-cache-dropped"},
    "raw": COMMON | {"file", "offset", "size"},
    "qcow2": COMMON | {"file", "backing"},
    "null-co": COMMON | {"size"},
    # reference/block/other_drivers.py
    "throttle": COMMON | {"file", "throttle-group"},
    "compress": COMMON | {"file"},  # reference/block/compress_filter.py
    "blkdebug": COMMON | {"image", "config", "align"},
    "quorum": COMMON | {"children", "vote-threshold"},
    "blkverify": COMMON | {"test", "raw"},
    "nbd": COMMON | {"server", "export"},
}
FORMATS = frozenset({"raw", "qcow2"})  # drivers with a 'file' child
# Options with nothing of a node's own but its driver, name and file (most nodes, and every
# node QEMU opens from a header): no flag, cache, discard or detect-zeroes of its own, nothing
# a reopen must keep, nothing left unconsumed. blockdev-add takes them the short way
# (tests/block/test_add_fast_paths_model.py checks it against the long one).
PLAIN_KEYS: dict[str, frozenset[str]] = {
    "file": frozenset({"driver", "node-name", "filename"}),
    "raw": frozenset({"driver", "node-name", "file"}),
    "qcow2": frozenset({"driver", "node-name", "file", "backing"}),
}


@dataclass(frozen=True)
class Flags:
    read_only: bool = False
    auto_read_only: bool = False


def driver_of(opts: QDict) -> str:
    driver = opts.get("driver")
    assert isinstance(driver, str), "the input visitor checked 'driver'"
    if driver not in MODELLED_OPTIONS:
        raise NotModelled(f"blockdev-add: driver {driver} is not modelled")
    extra = opts.unordered_keys() - MODELLED_OPTIONS[driver]  # QEMU's hash order not needed: min() names one
    if extra:
        raise NotModelled(f"blockdev-add: {driver} option {min(extra)} is not modelled")
    return driver


# A backing child QEMU opens (inline or from the header) starts read-only,
# without auto-read-only, whatever its parent has (verified on qsd 7.2).
BACKING_DEFAULTS = Flags(read_only=True, auto_read_only=False)


def resolve_flags(opts: QDict, inherited: Flags) -> Flags:
    """The node's flags: its own options, else what it inherits (blockdev-add roots: both off)."""
    read_only = opts.get("read-only") if "read-only" in opts else inherited.read_only
    auto_read_only = opts.get("auto-read-only") if "auto-read-only" in opts else inherited.auto_read_only
    assert isinstance(read_only, bool) and isinstance(auto_read_only, bool)
    return _FLAGS[read_only, auto_read_only]


# Every Flags value made once: a frozen dataclass's __init__ costs more than the lookup.
_FLAGS = {(ro, aro): Flags(ro, aro) for ro in (False, True) for aro in (False, True)}


def text_option(opts: QDict, key: str) -> str:
    value = opts.get(key)
    assert isinstance(value, str), f"the input visitor checked {key!r}"
    return value
