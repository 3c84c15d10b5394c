"""Stateful rules for nodes over format nodes, block-stream's options and a file child's own cache entry.

Raw nodes over a named qcow2 node (json:{...} names; with an offset/size window, checked against
the qcow2 node's virtual size) or over an unused compress filter (no window); compress filters
over a named node (refused unless it is a qcow2 node); a raw node reopened with a compress filter
over its qcow2 file as its new 'file', or back (reference/block/reopen_filter_insert.py);
block-stream of a read-write qcow2 root with 'base' (a layer's backing file, absolute or
relative, or a name no header holds), 'backing-file' and 'on-error'; and a blockdev-reopen of a
qcow2 root with its file child's own entry, either order, cache modes on either
(reference/block/reopen_queue_cache.py).
"""

from __future__ import annotations

import posixpath
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from block.stateful.base import MachineBase, add_command, reached, reopen_entry
from block.stateful.option_rules import CACHES, DATA_DRIVERS, OFFSETS, SIZES
from reference.block.node import Node

ON_ERROR = [None, "report", "stop", "enospc", "ignore", "bogus"]


class FormatRules(MachineBase):
    def _streamable(self, node: Node | None) -> bool:
        raise NotImplementedError

    def _unused(self, node: Node) -> bool:
        return not node.parents and not self.session.graph.exported(node)

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(
        data=st.data(),
        window=st.booleans(),
        offset=st.sampled_from([None, *OFFSETS]),
        size=st.sampled_from([None, *SIZES]),
        read_only=st.sampled_from([None, True]),
    )
    def add_raw_over(
        self, data: st.DataObject, window: bool, offset: int | None, size: int | None, read_only: bool | None
    ) -> None:
        """A raw node over an unused qcow2 node (maybe a window) or an unused compress filter (none:
        a window over the filter is not modelled)."""
        graph = self.session.graph
        names = [
            name for name in self._named()
            if (node := graph.find(name)) is not None and self._unused(node)
            and node.driver in ("qcow2", "compress")
        ]  # fmt: skip
        if not names:
            return
        target = graph.find(data.draw(st.sampled_from(names)))
        assert target is not None
        args: dict[str, Any] = {"driver": "raw", "node-name": self._fresh_name(), "file": target.name}
        if read_only is not None:
            args["read-only"] = read_only
        if window and target.driver == "qcow2":
            if offset is not None:
                args["offset"] = offset
            if size is not None:
                args["size"] = size
        step = self._check(self.session.run({"execute": "blockdev-add", "arguments": args}))
        reached(f"raw over {target.driver}", step)

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(data=st.data())
    def add_compress(self, data: st.DataObject) -> None:
        """A compress filter over a named file, raw or qcow2 node (only qcow2 takes it), or a missing one."""
        graph = self.session.graph
        if any(n.driver == "compress" and n.parents for n in graph.nodes):
            return  # a compress filter with users below a new parent: its permissions are not modelled
        names = [name for name in self._named() if (node := graph.find(name)) and node.driver in DATA_DRIVERS]
        child = data.draw(st.sampled_from([*names, "missing"]))
        args = {"driver": "compress", "node-name": self._fresh_name(), "file": child}
        step = self._check(self.session.run({"execute": "blockdev-add", "arguments": args}))
        reached("compress", step)

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(data=st.data())
    def reopen_raw_filter(self, data: st.DataObject) -> None:
        """A raw node over a qcow2 node takes an unused compress filter over it as its 'file', or
        a raw node over a filter it alone uses takes the filter's qcow2 node back."""
        graph = self.session.graph
        moves: list[tuple[Node, Node]] = []
        for node in graph.nodes:
            file = node.file_child
            if node.driver != "raw" or node.auto_named or node.raw_given or file is None:
                continue
            if file.driver == "qcow2":
                moves += [(node, c) for c in graph.nodes if c.driver == "compress" and c.file_child is file
                          and not c.parents and not c.auto_named]  # fmt: skip
            elif file.driver == "compress" and file.parents == [node] and file.file_child is not None:
                moves.append((node, file.file_child))
        if not moves:
            return
        node, target = data.draw(st.sampled_from(sorted(moves, key=lambda m: (m[0].name, m[1].name))))
        entry = {"driver": "raw", "node-name": node.name, "file": target.name, "read-only": node.read_only}
        self._reopen(f"raw file to {target.driver}", [entry])

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(
        data=st.data(),
        base=st.sampled_from(["backing", "relative", "own", "missing", "empty", None]),
        backing_file=st.sampled_from([None, "absolute", "relative"]),
        on_error=st.sampled_from(ON_ERROR),
    )
    def stream_options(
        self, data: st.DataObject, base: str | None, backing_file: str | None, on_error: str | None
    ) -> None:
        """block-stream with 'base' (a file name), 'backing-file' and 'on-error' (no speed: timing)."""
        graph = self.session.graph
        names = [name for name in sorted(self.kinds) if self._streamable(graph.find(name))]
        if not names:  # open a chain first (a rule drawn seldom in a short run would rarely find one)
            kind = data.draw(st.sampled_from(["top", "rtop", "solo"]))
            if self.pool.files_of(kind) & self._in_use():
                return
            name = self._fresh_name()
            step = self._check(self.session.run(add_command(self.pool, kind, name, None, None)))
            if "return" not in step.reply:
                return
            self.kinds[name] = kind
            names = [name]
        name = data.draw(st.sampled_from(names))
        image = self.pool.images[self.kinds[name]]
        below = self.pool.images[image.backing] if image.backing else image
        folder = posixpath.dirname(image.path)
        args: dict[str, Any] = {"job-id": self._fresh_name(), "device": name}
        if base is not None:
            args["base"] = {
                "backing": below.path, "relative": posixpath.basename(below.path), "own": image.path,
                "missing": posixpath.join(folder, "missing.qcow2"), "empty": "",
            }[base]  # fmt: skip
        if backing_file is not None:  # the same file, named another way (a later open finds it)
            args["backing-file"] = (
                below.path if backing_file == "absolute" else posixpath.relpath(below.path, folder)
            )
        if on_error is not None:
            args["on-error"] = on_error
        step = self._check(self.session.run({"execute": "block-stream", "arguments": args}))
        reached(f"stream base {base}, backing-file {backing_file}", step)

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(data=st.data(), child_first=st.booleans())
    def reopen_child_cache(self, data: st.DataObject, child_first: bool) -> None:
        """A qcow2 root and its inline file child, each with its own entry and maybe cache modes."""
        graph = self.session.graph
        names = [
            name for name in self._reopenable()
            if (node := graph.find(name)) is not None and node.driver == "qcow2"
            and (file := node.file_child) is not None and file.inherits_from is node
            and file.detect_zeroes == "off"
        ]  # fmt: skip
        if not names:
            return
        node = graph.find(data.draw(st.sampled_from(names)))
        assert node is not None and node.file_child is not None
        child = node.file_child
        entry = reopen_entry(node, node.read_only, node.auto_read_only)
        child_entry: dict[str, Any] = {"driver": "file", "node-name": child.name, "filename": child.filename}
        child_entry |= {"read-only": child.read_only, "auto-read-only": child.auto_read_only}
        for target in (entry, child_entry):
            cache = data.draw(st.sampled_from(CACHES))
            if cache is not None:
                target["cache"] = cache
        entries = [child_entry, entry] if child_first else [entry, child_entry]
        self._reopen(f"child cache, child {'first' if child_first else 'last'}", entries)
