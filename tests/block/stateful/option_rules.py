"""Stateful rules for the options a node opens with: cache.*, detect-zeroes, discard, raw windows, reads.

blockdev-add of a pool image with cache.direct / cache.no-flush, detect-zeroes and discard on
the node, its inline file child or both (detect-zeroes "unmap" without discard "unmap" is
refused on a node opened on its own); blockdev-reopen of such nodes with other values, the
file child named or given inline; raw nodes over a raw image with an offset/size window,
valid or refused, at add and reopen; and HMP qemu-io reads with -P of a pattern the pool's
images hold (or do not), on any named node whose data the oracle knows (qsd: CommandNotFound).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from block.stateful.base import MachineBase, add_command, reached, reopen_entry
from block.stateful.pool import LAYOUT, SIZE

KINDS = sorted(LAYOUT)
MiB = 1 << 20
OFFSETS = [0, 512, 1000, MiB, 3 * MiB, SIZE, SIZE + 512]
SIZES = [None, 512, 1000, MiB, 3 * MiB, SIZE]
READ_AT = [0, 512, 65536, MiB, MiB + 65536, 2 * MiB, 3 * MiB, SIZE - 512, SIZE]
READ_LENGTHS = [512, 4096, 65536, MiB]
# The bytes the pool's images hold (pool.LAYOUT), zeros and one no image holds.
PATTERNS = sorted({0, 0x99} | {data[0] for *_, data in LAYOUT.values() if data is not None})
DATA_DRIVERS = {"file", "raw", "qcow2"}  # what guest_data.py reads through


CACHES: list[dict[str, bool] | None] = [
    None, {"direct": True}, {"no-flush": True}, {"direct": True, "no-flush": False},
    {"direct": False, "no-flush": True},
]  # fmt: skip


def _cache_options(
    data: st.DataObject,
    empty: bool = True,
    zeroes_from: tuple[str | None, ...] = (None, "off", "on", "unmap"),
) -> dict[str, Any]:
    """Some of cache / detect-zeroes / discard (maybe none); empty: maybe an empty cache ({}), which
    blockdev-add refuses (a reopen's answer to it is not modelled); detect-zeroes from zeroes_from."""
    options: dict[str, Any] = {}
    cache = data.draw(st.sampled_from([*CACHES, {}] if empty else CACHES))
    if cache is not None:
        options["cache"] = cache
    zeroes = data.draw(st.sampled_from(zeroes_from))
    if zeroes is not None:
        options["detect-zeroes"] = zeroes
    discard = data.draw(st.sampled_from([None, "ignore", "unmap"]))
    if discard is not None:
        options["discard"] = discard
    return options


class OptionRules(MachineBase):
    def _free(self, kind: str) -> bool:
        return not (self.pool.files_of(kind) & self._in_use())  # image locking is not modelled

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(
        data=st.data(),
        kind=st.sampled_from(KINDS),
        read_only=st.sampled_from([None, True, False]),
        where=st.sampled_from(["node", "file", "both"]),
    )
    def add_with_options(self, data: st.DataObject, kind: str, read_only: bool | None, where: str) -> None:
        if not self._free(kind):
            return
        name = self._fresh_name()
        command = add_command(self.pool, kind, name, read_only, True if kind.startswith("r") else None)
        args = command["arguments"]
        if where in ("node", "both"):
            args |= _cache_options(data)
        if where in ("file", "both"):
            args["file"] |= _cache_options(data)
        step = self._check(self.session.run(command))
        reached(f"add with options on {where}", step)
        if "return" in step.reply:
            self.kinds[name] = kind

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(data=st.data(), inline=st.booleans())
    def reopen_options(self, data: st.DataObject, inline: bool) -> None:
        """Reopen with other cache / detect-zeroes / discard; the file child named, or inline."""
        graph = self.session.graph
        names = self._reopenable()
        if not names:
            return
        node = graph.find(data.draw(st.sampled_from(names)))
        assert node is not None and node.file_child is not None
        entry = reopen_entry(node, node.read_only, node.auto_read_only) | _cache_options(data, empty=False)
        child = node.file_child
        if inline and child.inherits_from is node:
            file = {"driver": "file", "filename": child.filename}
            if child.name_in_options:  # a name an earlier reopen left out may not come back
                file["node-name"] = child.name
            entry["file"] = file | _cache_options(data, empty=False)
        self._reopen(f"reopen options{', inline file' if inline else ''}", [entry])

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(
        kind=st.sampled_from(["raw", "rraw"]),
        offset=st.sampled_from([None, *OFFSETS]),
        size=st.sampled_from(SIZES),
    )
    def add_raw_window(self, kind: str, offset: int | None, size: int | None) -> None:
        if not self._free(kind):
            return
        name = self._fresh_name()
        command = add_command(self.pool, kind, name, True if kind == "rraw" else None, None)
        if offset is not None:
            command["arguments"]["offset"] = offset
        if size is not None:
            command["arguments"]["size"] = size
        step = self._check(self.session.run(command))
        reached("raw window", step)
        if "return" in step.reply:
            self.kinds[name] = kind

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(data=st.data(), offset=st.sampled_from([None, *OFFSETS]), size=st.sampled_from(SIZES))
    def reopen_raw_window(self, data: st.DataObject, offset: int | None, size: int | None) -> None:
        """A new window, or none (options left out reset it)."""
        graph = self.session.graph
        names = [n for n in self._reopenable() if (node := graph.find(n)) and node.driver == "raw"]
        if not names:
            return
        node = graph.find(data.draw(st.sampled_from(names)))
        assert node is not None
        entry = reopen_entry(node, node.read_only, node.auto_read_only)
        if offset is not None:
            entry["offset"] = offset
        if size is not None:
            entry["size"] = size
        self._reopen("reopen raw window", [entry])

    def _readable(self) -> list[str]:
        """Named nodes whose bytes the oracle knows: file, raw and qcow2 all the way down, none
        written by a job since the facts were read."""
        graph = self.session.graph
        return [
            name for name in self._named()
            if (node := graph.find(name)) is not None
            and all(n.driver in DATA_DRIVERS and not n.stale for n in self._subtree(node))
        ]  # fmt: skip

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(
        data=st.data(),
        offset=st.sampled_from(READ_AT),
        length=st.sampled_from(READ_LENGTHS),
        pattern=st.sampled_from([None, *PATTERNS]),
        quiet=st.booleans(),
    )
    def qemu_io_read(
        self, data: st.DataObject, offset: int, length: int, pattern: int | None, quiet: bool
    ) -> None:
        """HMP qemu-io reads on a node name (a temporary BlockBackend); the report on stdout."""
        names = self._readable()
        if not names:
            return
        name = data.draw(st.sampled_from(names))
        flags = ("-q " if quiet else "") + (f"-P {pattern:#x} " if pattern is not None else "")
        command = f'qemu-io {name} "read {flags}{offset} {length}"'
        args = {"command-line": command}
        step = self._check(self.session.run({"execute": "human-monitor-command", "arguments": args}))
        reached("qemu-io read", step)
