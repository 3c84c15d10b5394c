"""Stateful rules for quorum, blkverify, blkdebug, null-co and throttle nodes over pool nodes.

throttle-group objects come and go (object-add, valid or refused; object-del, of a group in
use too); throttle, quorum, blkverify and blkdebug nodes are added over the graph's root
nodes (by name; a missing name, a threshold past the children and an unknown group are
refused), null-co nodes with or without a size; and every such node is reopened with its
options as they are or changed (quorum and blkverify cannot be reopened, a kept option
cannot change or be left out, a throttle node may switch groups). blockdev-del (the
machine's own rule) removes them and their children in any order.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from block.stateful.base import MachineBase, add_command, reached
from block.stateful.option_rules import DATA_DRIVERS, KINDS
from reference.block.filenames import display_filename
from reference.block.node import Node

GROUPS = ["g0", "g1", "1x"]  # "1x" is no identifier
LIMITS: list[dict[str, int] | None] = [None, {"iops-total": 1000}, {"bps-read": 4096, "iops-write": 10},
                                      {"iops-total": -1}, {"bps-total": 1 << 60}]  # fmt: skip
OTHER = {"quorum", "blkverify", "blkdebug", "throttle", "null-co"}
NULL_SIZES = [None, 1024, 4 << 20]


class DriverRules(MachineBase):
    def _roots(self, plain: bool = False) -> list[str]:
        """Named file, raw and qcow2 nodes nobody uses (no parent, no export): what these drivers
        may take as children (query-named-block-nodes of one over another is not modelled);
        plain: only those whose filename is no json:{...} (blkverify's own name holds theirs)."""
        graph = self.session.graph
        return [
            name for name in self._named()
            if (node := graph.find(name)) is not None and node.driver in DATA_DRIVERS
            and not node.parents and not graph.exported(node)
            and not (plain and display_filename(node).startswith("json:"))
        ]  # fmt: skip

    def _child(self, data: st.DataObject, taken: set[str]) -> str | dict[str, Any]:
        """A root by name, a missing name, or a pool image opened inline (its files not in use)."""
        free = [kind for kind in KINDS if not (self.pool.files_of(kind) & (self._in_use() | taken))]
        choice = data.draw(st.sampled_from([*self._roots(), "missing", *(f"inline {kind}" for kind in free)]))
        if not choice.startswith("inline "):
            return choice
        kind = choice.removeprefix("inline ")
        taken |= self.pool.files_of(kind)
        read_only = True if kind.startswith("r") else None
        args: dict[str, Any] = add_command(self.pool, kind, self._fresh_name(), read_only, None)["arguments"]
        return args

    def _add(self, shape: str, args: dict[str, Any]) -> None:
        step = self._check(self.session.run({"execute": "blockdev-add", "arguments": args}))
        reached(shape, step)

    @rule(ident=st.sampled_from(GROUPS), limits=st.sampled_from(LIMITS))
    def object_add_group(self, ident: str, limits: dict[str, int] | None) -> None:
        args: dict[str, Any] = {"qom-type": "throttle-group", "id": ident}
        if limits is not None:
            args["limits"] = limits
        step = self._check(self.session.run({"execute": "object-add", "arguments": args}))
        reached("object-add", step)

    @rule(ident=st.sampled_from([*GROUPS, "nope"]))
    def object_del_group(self, ident: str) -> None:
        step = self._check(self.session.run({"execute": "object-del", "arguments": {"id": ident}}))
        reached("object-del", step)

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(data=st.data(), group=st.sampled_from(["g0", "g1", "notfound"]))
    def add_throttle(self, data: st.DataObject, group: str) -> None:
        child = self._child(data, set())
        self._add("throttle", {"driver": "throttle", "node-name": self._fresh_name(), "throttle-group": group,
                               "file": child})  # fmt: skip

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(data=st.data(), threshold=st.integers(1, 3))
    def add_quorum(self, data: st.DataObject, threshold: int) -> None:
        taken: set[str] = set()
        count = data.draw(st.integers(1, 3))
        children = [self._child(data, taken) for _ in range(count)]
        if len({json.dumps(child) for child in children}) < count:
            return  # a node twice among the children is not modelled
        args = {"driver": "quorum", "node-name": self._fresh_name(), "vote-threshold": threshold,
                "children": children}  # fmt: skip
        self._add("quorum", args)

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(data=st.data())
    def add_blkverify(self, data: st.DataObject) -> None:
        choices = st.sampled_from([*self._roots(plain=True), "missing"])
        test, raw = data.draw(choices), data.draw(choices)
        if test == raw != "missing":
            return  # a node twice among the children is not modelled
        self._add(
            "blkverify", {"driver": "blkverify", "node-name": self._fresh_name(), "test": test, "raw": raw}
        )

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(data=st.data(), align=st.sampled_from([None, 512, 4096]))
    def add_blkdebug(self, data: st.DataObject, align: int | None) -> None:
        """With a config (/dev/null) or an align: the filename of both or neither is not modelled."""
        image = data.draw(st.sampled_from([*self._roots(), "missing"]))
        args: dict[str, Any] = {"driver": "blkdebug", "node-name": self._fresh_name(), "image": image}
        if align is None:
            args["config"] = "/dev/null"
        else:
            args["align"] = align
        self._add("blkdebug", args)

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(size=st.sampled_from(NULL_SIZES))
    def add_null(self, size: int | None) -> None:
        args: dict[str, Any] = {"driver": "null-co", "node-name": self._fresh_name()}
        if size is not None:
            args["size"] = size
        self._add("null-co", args)

    @precondition(lambda self: not self.session.graph.jobs)
    @rule(data=st.data(), change=st.sampled_from(["none", "sticky", "group", "child", "inline"]))
    def reopen_driver(self, data: st.DataObject, change: str) -> None:
        """A quorum, blkverify, blkdebug, throttle or null-co node reopened as it is or changed."""
        graph = self.session.graph
        names = [name for name in self._named() if (n := graph.find(name)) and n.driver in OTHER]
        if not names:
            return
        node = graph.find(data.draw(st.sampled_from(names)))
        assert node is not None
        entry = self._driver_entry(node)
        if change == "sticky":  # a kept option left out or given another value
            key = {"null-co": "size", "blkdebug": "align"}.get(node.driver)
            if key is not None:
                value = data.draw(st.sampled_from([None, 512, 1024, 4096]))
                entry.pop(key, None) if value is None else entry.__setitem__(key, value)
        elif change == "group" and node.driver == "throttle":
            entry["throttle-group"] = data.draw(st.sampled_from(["g0", "g1", "notfound"]))
        elif change == "child" and node.driver == "blkdebug":
            entry["image"] = data.draw(st.sampled_from([*self._roots(), node.name]))
        elif change == "inline" and node.driver in ("throttle", "blkdebug"):
            key = "file" if node.driver == "throttle" else "image"
            child = node.file_child if node.driver == "throttle" else node.extra_children[0]
            assert child is not None
            inline = _as_it_is(child, data.draw(st.booleans()))
            if child.inherits_from is not node or inline is None:
                return  # only a child opened inline, reopened as it is, is modelled
            if node.read_only or node.auto_read_only or child.read_only or child.auto_read_only:
                return  # the entry resets the flags of the node and of its inline child: not modelled
            entry[key] = inline
        self._reopen(f"reopen {node.driver}, {change}", [entry])

    @staticmethod
    def _driver_entry(node: Node) -> dict[str, Any]:
        """The node's options as it was opened with them (children by name)."""
        entry: dict[str, Any] = {"driver": node.driver, "node-name": node.name}
        entry |= {key: value for key, value in node.sticky_options.items() if value is not None}
        if node.driver == "throttle":
            assert node.file_child is not None
            entry |= {"throttle-group": node.throttle_group, "file": node.file_child.name}
        elif node.driver == "blkdebug":
            entry["image"] = node.extra_children[0].name
        elif node.driver == "quorum":
            entry |= {"vote-threshold": 1, "children": [child.name for child in node.extra_children]}
        elif node.driver == "blkverify":
            test, raw = node.extra_children
            entry |= {"test": test.name, "raw": raw.name}
        return entry


def _as_it_is(node: Node, nested: bool) -> dict[str, Any] | None:
    """A file, raw or qcow2 node's inline reopen options, unchanged (its file by name, or nested:
    inline too); None for a qcow2 node with a backing chain (not modelled)."""
    if node.driver == "file":
        return {"driver": "file", "node-name": node.name, "filename": node.filename}
    file = node.file_child
    if node.driver not in ("raw", "qcow2") or file is None or node.backing is not None:
        return None
    if node.image is not None and node.image.backing_file:
        return None
    options: dict[str, Any] = {"driver": node.driver, "node-name": node.name}
    options["file"] = _as_it_is(file, False) if nested else file.name
    if node.driver == "qcow2":
        options["backing"] = None
    return options
