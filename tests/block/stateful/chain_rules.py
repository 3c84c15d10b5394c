"""Stateful rules for a qcow2 node's backing child in a reopen, and for throttle nodes' users.

A chain opened with a named inline backing (top over base, rtop over rbase); a blockdev-reopen
giving the top and its backing child each an entry, in either order, with read-only /
auto-read-only, maybe the backing's file too (reference/block/reopen_backing_entry.py); a
reopen of the top with inline options for its current backing child (read-only,
auto-read-only, cache.*, detect-zeroes, discard; its file by name or inline; without a
node-name for a child QEMU opened from the header: reference/block/reopen_inline_backing.py);
NBD exports of a throttle node and of a node only throttle nodes use; a throttle node or its
child reopened read-only or read-write (reference/block/throttle_users.py).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from block.stateful.base import MachineBase, add_command, reached, reopen_entry
from block.stateful.option_rules import KINDS, _cache_options
from reference.block.node import Node

FLAGS = [None, True, False]
CHAINS = {"top": "base", "rtop": "rbase"}  # a top kind and the kind of the backing its header names


def _flags(entry: dict[str, Any], read_only: bool | None, aro: bool | None) -> dict[str, Any]:
    if read_only is not None:
        entry["read-only"] = read_only
    if aro is not None:
        entry["auto-read-only"] = aro
    return entry


def _cache_members(data: st.DataObject) -> dict[str, Any]:
    """Maybe a cache, detect-zeroes and discard (values the inline backing model knows)."""
    return _cache_options(data, empty=False, zeroes_from=(None, "off", "on"))


def _has_options(node: Node) -> bool:
    return node.detect_zeroes != "off" or node.discard != "ignore" or bool(node.cache_given)


class ChainRules(MachineBase):
    def _plain_chain(self, top: Node) -> bool:
        """A qcow2 root over its own file, its backing a qcow2 node opened with it over its own
        file, nothing below: what both reopen models take."""
        below = top.backing
        if top.driver != "qcow2" or top.parents or top.auto_named or below is None:
            return False
        if self.session.graph.exported(top) or below.inherits_from is not top or below.driver != "qcow2":
            return False
        own_files = ((top, top.file_child), (below, below.file_child))
        plain = all(f is not None and f.driver == "file" and f.inherits_from is n for n, f in own_files)
        # another parent (a compress filter, a raw node) over a chain node: abstains on read-only changes
        alone = below.parents == [top] and all(f is not None and len(f.parents) == 1 for _, f in own_files)
        bare = not below.extra_children and not top.extra_children
        return plain and alone and bare and below.backing is None

    def _chains(self, data: st.DataObject, named: bool) -> list[Node]:
        """The chains a reopen can take; none yet: open one (a rule drawn seldom in a short run
        would rarely find one)."""
        found = self._find_chains(named)
        if not found:
            kind = data.draw(st.sampled_from(sorted(CHAINS)))
            if named:
                self.add_named_chain(kind, data.draw(st.sampled_from(FLAGS)))
            elif not self.pool.files_of(kind) & self._in_use():
                name = self._fresh_name()
                step = self._check(self.session.run(add_command(self.pool, kind, name, None, None)))
                if "return" in step.reply:
                    self.kinds[name] = kind
            found = self._find_chains(named)
        return sorted(found, key=lambda n: n.name)

    def _find_chains(self, named: bool) -> list[Node]:
        graph = self.session.graph
        return [
            node for node in graph.nodes
            if self._plain_chain(node) and node.backing is not None and node.backing.auto_named != named
        ]  # fmt: skip

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(kind=st.sampled_from(sorted(CHAINS)), read_only=st.sampled_from(FLAGS))
    def add_named_chain(self, kind: str, read_only: bool | None) -> None:
        """A chain whose backing is opened inline, with names: a reopen entry can name it."""
        below = CHAINS[kind]
        if (self.pool.files_of(kind) | self.pool.files_of(below)) & self._in_use():
            return  # one image opened twice (image locking) is not modelled
        name = self._fresh_name()
        backing = {
            "driver": "qcow2",
            "node-name": f"{name}b",
            "file": {"driver": "file", "node-name": f"{name}bf", "filename": self.pool.images[below].path},
        }
        args: dict[str, Any] = {"driver": "qcow2", "node-name": name, "backing": backing,
                                "file": {"driver": "file", "node-name": f"{name}f",
                                         "filename": self.pool.images[kind].path}}  # fmt: skip
        if read_only is not None:
            args["read-only"] = read_only
        step = self._check(self.session.run({"execute": "blockdev-add", "arguments": args}))
        reached("named chain", step)

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(data=st.data(), backing_first=st.booleans())
    def reopen_backing_entry(self, data: st.DataObject, backing_first: bool) -> None:
        """The top and its named backing child, each with an entry (iotest 245), maybe the
        backing's file too, anywhere in the queue."""
        chains = self._chains(data, named=True)
        if not chains:
            return
        top = data.draw(st.sampled_from(chains))
        below = top.backing
        assert below is not None and top.file_child is not None and below.file_child is not None
        if any(_has_options(n) for n in (top, below, top.file_child, below.file_child)):
            return  # cache / detect-zeroes an earlier reopen gave: kept or reset in this queue? (qemu-system
            # 7.2 kept a backing's detect-zeroes on that the oracle reset: not pinned, left out)
        flags = st.sampled_from(FLAGS)
        entry = _flags({"driver": "qcow2", "node-name": top.name, "file": top.file_child.name,
                        "backing": below.name}, data.draw(flags), data.draw(flags))  # fmt: skip
        below_entry = _flags({"driver": "qcow2", "node-name": below.name, "file": below.file_child.name,
                              "backing": None}, data.draw(flags), data.draw(flags))  # fmt: skip
        entries = [below_entry, entry] if backing_first else [entry, below_entry]
        file = below.file_child
        where = data.draw(st.sampled_from([None, 0, 1, 2]))
        if where is not None:
            if file.cache_direct or file.cache_no_flush or file.cache_given:
                return  # which entry's cache modes win for the file is not modelled
            file_entry = {"driver": "file", "node-name": file.name, "filename": file.filename}
            entries.insert(where, _flags(file_entry, data.draw(flags), None))
        order = "backing first" if backing_first else "top first"
        self._reopen(f"backing entry, {order}{'' if where is None else ', its file'}", entries)

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(
        data=st.data(),
        named=st.booleans(),
        inline_file=st.booleans(),
        read_only=st.sampled_from(FLAGS),
        aro=st.sampled_from(FLAGS),
    )
    def reopen_inline_backing(
        self, data: st.DataObject, named: bool, inline_file: bool, read_only: bool | None, aro: bool | None
    ) -> None:
        """Inline options for the top's current backing child: named, or (opened from the
        header) without a node-name; its file by name or inline."""
        chains = self._chains(data, named)
        if not chains:
            return
        top = data.draw(st.sampled_from(chains))
        below = top.backing
        assert below is not None and top.file_child is not None and below.file_child is not None
        file = below.file_child
        options: dict[str, Any] = {"driver": "qcow2"}
        if named:
            options["node-name"] = below.name
        if inline_file or not named:  # a made-up file name is not told to the oracle
            options["file"] = {"driver": "file", "filename": file.filename}
            if named and file.name_in_options:
                options["file"]["node-name"] = file.name
            if named:
                options["file"] |= _cache_members(data)
        else:
            options["file"] = file.name
        options = _flags(options, read_only, aro) | _cache_members(data)
        entry = reopen_entry(top, data.draw(st.sampled_from(FLAGS))) | {"backing": options}
        self._reopen(f"inline backing, {'named' if named else 'header'}", [entry])

    def _throttles(self, data: st.DataObject) -> list[Node]:
        """Named throttle nodes; none yet: open one over a free image (its file or a qcow2 node)."""
        graph = self.session.graph
        if not any(n.driver == "throttle" for n in graph.nodes):
            free = [kind for kind in KINDS if not self.pool.files_of(kind) & self._in_use()]
            if free:
                self._add_throttle(data, data.draw(st.sampled_from(free)))
        found = [n for n in graph.nodes if n.driver == "throttle" and not n.auto_named and n.file_child]
        return sorted(found, key=lambda n: n.name)

    def _add_throttle(self, data: st.DataObject, kind: str) -> None:
        graph = self.session.graph
        if "g0" not in graph.throttle_groups:
            self._check(
                self.session.run(
                    {"execute": "object-add", "arguments": {"qom-type": "throttle-group", "id": "g0"}}
                )
            )
        image = self.pool.images[kind]
        read_only = data.draw(st.sampled_from(FLAGS))
        if data.draw(st.booleans()) or image.backing is not None:
            child = {"driver": "file", "node-name": self._fresh_name(), "filename": image.path}
            child = _flags(child, read_only, data.draw(st.sampled_from(FLAGS)))
        else:
            child = add_command(self.pool, kind, self._fresh_name(), read_only, None)["arguments"]
        args = {"driver": "throttle", "node-name": self._fresh_name(), "throttle-group": "g0", "file": child}
        step = self._check(
            self.session.run(
                {
                    "execute": "blockdev-add",
                    "arguments": _flags(args, data.draw(st.sampled_from(FLAGS)), None),
                }
            )
        )
        reached(f"throttle over {child['driver']}", step)

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(data=st.data(), writable=st.booleans(), below=st.booleans())
    def export_throttle(self, data: st.DataObject, writable: bool, below: bool) -> None:
        """An export of a throttle node, or of the node below it (only throttle nodes use it)."""
        throttles = self._throttles(data)
        if not throttles:
            return
        node = data.draw(st.sampled_from(throttles))
        child = node.file_child
        assert child is not None
        if child.driver not in ("file", "qcow2") or any(p.driver != "throttle" for p in child.parents):
            return  # raw (a shared file) and the other drivers below: their permissions are not modelled
        target = child if below else node
        if target.auto_named:
            return
        ident = f"e{self._fresh_name()}"
        args = {"type": "nbd", "id": ident, "node-name": target.name, "writable": writable}
        step = self._check(self.session.run({"execute": "block-export-add", "arguments": args}))
        reached(f"export {target.driver} under throttle" if below else "export throttle", step)
        self._check(self.session.run({"execute": "query-block-exports"}))

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(data=st.data(), read_only=st.booleans(), below=st.booleans())
    def reopen_throttle_read_only(self, data: st.DataObject, read_only: bool, below: bool) -> None:
        """A throttle node, or its file node / qcow2 node over its own file, going read-only or back."""
        throttles = self._throttles(data)
        if not throttles:
            return
        node = data.draw(st.sampled_from(throttles))
        child = node.file_child
        assert child is not None and node.throttle_group is not None
        if not below:
            entry: dict[str, Any] = {"driver": "throttle", "node-name": node.name,
                                     "throttle-group": node.throttle_group, "file": child.name}  # fmt: skip
            entry |= {key: value for key, value in node.sticky_options.items() if value is not None}
            self._reopen("throttle read-only", [entry | {"read-only": read_only}])
            return
        if child.auto_named or any(p.driver != "throttle" for p in child.parents):
            return
        if child.driver == "file":
            entry = {"driver": "file", "node-name": child.name, "filename": child.filename}
        elif child.driver == "qcow2" and child.backing is None and child.file_child is not None:
            if child.image is not None and child.image.backing_file:
                return  # a header's backing left out would detach it
            entry = reopen_entry(child, None)
        else:
            return
        self._reopen(f"{child.driver} under throttle read-only", [entry | {"read-only": read_only}])
