"""A hypothesis state machine over the block graph: every step on a real QEMU 7.2 and on the oracle.

Rules add images (qcow2 chains, lone qcow2 and raw, on writable and read-only
storage) and lone file nodes, delete nodes, reopen them read-only or read-write
(also naming a node twice, with its file child's own entry, with inline 'file'
options, or with 'file' linked to another file node: iotest 245), send HMP
(info block [-n [NAME]], qemu-io on an unknown device; qsd: CommandNotFound), start an active
commit and complete or cancel it, stream a chain into its top, query the jobs, export nodes over NBD
(writable or read-only), remove exports, and stop or restart the NBD server. The mixins add
options at blockdev-add and reopen (cache.*, detect-zeroes, discard, raw offset/size windows)
and HMP qemu-io reads with -P (stateful/option_rules.py), throttle groups and throttle, quorum,
blkverify, blkdebug and null-co nodes over pool nodes (stateful/driver_rules.py), raw nodes over
qcow2 nodes and compress filters, block-stream's base/backing-file/on-error and a file child's own
cache entry next to its parent's (stateful/format_rules.py), and chains with a named backing
reopened with the backing's own entry or inline options, throttle nodes exported and reopened
read-only (stateful/chain_rules.py). After every step the
reply and its events must match the oracle's prediction, and so must
query-named-block-nodes. At the end, every image no node ever had writable
keeps every byte, and a base a commit reached "ready" for holds the top's data.
Rules only send what the oracle models: an abstention fails the run.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from block.conftest import real_implementation
from block.session import Session, Step
from block.stateful.base import MachineBase, add_command, reached, reopen_entry
from block.stateful.chain_rules import ChainRules
from block.stateful.driver_rules import DriverRules
from block.stateful.format_rules import FormatRules
from block.stateful.option_rules import DATA_DRIVERS, OptionRules
from block.stateful.pool import LAYOUT, make_pool
from conformance.implementations import Implementation
from conformance.storage import checksum, reads_pattern
from reference.block.node import Node

pytestmark = pytest.mark.slow
KINDS = sorted(LAYOUT)
LONE = ["raw", "rraw", "rsolo", "solo"]  # images without a backing file
STEPS = 10


class GraphMachine(OptionRules, DriverRules, FormatRules, ChainRules, MachineBase, RuleBasedStateMachine):
    impl: Implementation  # set by a subclass per implementation (hypothesis builds the machine)

    def __init__(self) -> None:
        super().__init__()
        impl = self.impl
        self.cleanup = contextlib.ExitStack()
        self.pool = make_pool(self.cleanup)
        try:
            self.session = Session(impl, self.pool.facts)
        except BaseException:
            self.cleanup.close()
            raise
        self.kinds: dict[str, str] = {}  # root node name -> image kind
        self.written: set[str] = set()  # paths some node had writable
        self.committed: set[str] = set()  # top kinds a commit reached "ready" for
        self.counter = 0
        folder = Path(tempfile.mkdtemp(prefix="qcf-nbd-"))
        self.cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
        self.socket = str(folder / "nbd.sock")
        self.server(running=False)

    def _exported(self, node: Node) -> bool:
        return any(export.node is node for export in self.session.graph.exports)

    def _writable_export(self, node: Node) -> bool:
        return any(e.node is node and e.writable for e in self.session.graph.exports)

    def _subtree(self, node: Node) -> list[Node]:
        return [node, *(n for child in node.children() for n in self._subtree(child))]

    @property
    def graph_jobs(self) -> bool:
        return bool(self.session.graph.jobs)

    def _check(self, step: Step) -> Step:
        assert step.predicted is not None, f"the oracle abstained: {step.why_not}\n{step.describe()}"
        assert step.agrees, step.describe()
        for node in self.session.graph.nodes:
            if node.driver in ("file", "raw", "qcow2") and not node.read_only:
                self.written.add(node.filename)
        query = self.session.run({"execute": "query-named-block-nodes", "arguments": {"flat": True}})
        assert query.agrees, query.describe()
        return step

    def _in_use(self) -> set[str]:
        return {node.filename for node in self.session.graph.nodes}

    @initialize(kind=st.sampled_from(LONE), aro=st.sampled_from([None, True, False]))
    def add_lone(self, kind: str, aro: bool | None) -> None:
        """Start from a lone qcow2 or raw node (read-only where its storage is): every reopen shape
        needs one, and a random add fails about half the time."""
        self.add(kind, True if kind.startswith("r") else None, aro)

    @precondition(lambda self: not self.graph_jobs)
    @rule(
        kind=st.sampled_from(KINDS),
        read_only=st.sampled_from([None, True, False]),
        aro=st.sampled_from([None, True, False]),
    )
    def add(self, kind: str, read_only: bool | None, aro: bool | None) -> None:
        if self.pool.files_of(kind) & self._in_use():
            return  # one image opened twice (image locking) is not modelled
        self.counter += 1
        name = f"n{self.counter}"
        step = self._check(self.session.run(add_command(self.pool, kind, name, read_only, aro)))
        if "return" in step.reply:
            self.kinds[name] = kind

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        names = sorted(node.name for node in self.session.graph.nodes if not node.auto_named)
        name = data.draw(st.sampled_from([*names, "missing"]))
        blocked = {n.name for job in self.session.graph.jobs.values() for n in getattr(job, "blocked", ())}
        if self.graph_jobs and name not in blocked:
            return  # QEMU drains the job's nodes on other deletions: not modelled
        node = self.session.graph.find(name)
        if node is not None and any(self._exported(n) for n in self._subtree(node)[1:]):
            return  # an exported child outliving its parent: not modelled
        step = self._check(self.session.run({"execute": "blockdev-del", "arguments": {"node-name": name}}))
        if "return" in step.reply:
            self.kinds.pop(name, None)

    @precondition(lambda self: not self.graph_jobs)
    @rule(kind=st.sampled_from(KINDS), read_only=st.sampled_from([None, True, False]))
    def add_file(self, kind: str, read_only: bool | None) -> None:
        """A lone file node: what a reopen may link a format node's 'file' to."""
        path = self.pool.images[kind].path
        if path in self._in_use():
            return  # one image opened twice (image locking) is not modelled
        self.counter += 1
        args: dict[str, Any] = {"driver": "file", "node-name": f"n{self.counter}", "filename": path}
        if read_only is not None:
            args["read-only"] = read_only
        self._check(self.session.run({"execute": "blockdev-add", "arguments": args}))

    def _reopenable(self) -> list[str]:
        """Roots the monitor added whose entry can name every link (no auto-named backing)."""
        graph = self.session.graph
        return sorted(
            name for name, kind in self.kinds.items()
            if (node := graph.find(name)) is not None and node.backing is None and not node.parents
            and self.pool.images[kind].backing is None and node.file_child is not None
        )  # fmt: skip

    def _reopen(self, shape: str, entries: list[dict[str, Any]]) -> None:
        step = self._check(
            self.session.run({"execute": "blockdev-reopen", "arguments": {"options": entries}})
        )
        reached(shape, step)

    @precondition(lambda self: not self.graph_jobs)
    @rule(data=st.data(), read_only=st.booleans())
    def reopen(self, data: st.DataObject, read_only: bool) -> None:
        names = self._reopenable()
        if names:
            node = self.session.graph.find(data.draw(st.sampled_from(names)))
            assert node is not None
            self._reopen("reopen", [reopen_entry(node, read_only)])

    @precondition(lambda self: not self.graph_jobs)
    @rule(data=st.data(), first=st.booleans(), second=st.sampled_from([None, True, False]))
    def reopen_twice(self, data: st.DataObject, first: bool, second: bool | None) -> None:
        """A node named twice (QEMU merges the entries, the later winning), maybe its file child too."""
        names = self._reopenable()
        if not names:
            return
        node = self.session.graph.find(data.draw(st.sampled_from(names)))
        assert node is not None and node.file_child is not None
        entries = [reopen_entry(node, first), reopen_entry(node, second)]
        child = node.file_child
        where = data.draw(st.sampled_from([None, 0, 1, 2]))  # where the child's own entry goes
        if where is not None and (child.cache_direct or child.cache_no_flush or child.cache_given):
            return  # which entry's cache modes win for the child is not modelled
        if where is not None:
            child_entry: dict[str, Any] = {"driver": "file", "node-name": child.name}
            child_entry |= {"filename": child.filename, "read-only": data.draw(st.booleans())}
            if data.draw(st.booleans()):
                child_entry["auto-read-only"] = data.draw(st.booleans())
            entries.insert(where, child_entry)
        self._reopen("named twice" if where is None else f"named twice, child at {where}", entries)

    @precondition(lambda self: not self.graph_jobs)
    @rule(
        data=st.data(),
        read_only=st.booleans(),
        change=st.sampled_from(["none", "no-name", "node-name", "filename"]),
        child_ro=st.sampled_from([None, True, False]),
    )
    def reopen_inline(self, data: st.DataObject, read_only: bool, change: str, child_ro: bool | None) -> None:
        """Inline 'file' options for the child the node opened inline (iotest 245)."""
        graph = self.session.graph
        names = [n for n in self._reopenable() if (node := graph.find(n)) and node.file_child
                 and node.file_child.inherits_from is node]  # fmt: skip
        if not names:
            return
        node = graph.find(data.draw(st.sampled_from(names)))
        assert node is not None and node.file_child is not None
        child = node.file_child
        options: dict[str, Any] = {"driver": "file", "node-name": child.name, "filename": child.filename}
        if change == "no-name":
            del options["node-name"]
        elif change == "node-name":
            options["node-name"] = "other"
        elif change == "filename":
            options["filename"] = self.pool.images["solo"].path + ".other"
        if child_ro is not None:
            options["read-only"] = child_ro
        self._reopen(f"inline file, {change}", [reopen_entry(node, read_only) | {"file": options}])

    @precondition(lambda self: not self.graph_jobs)
    @rule(data=st.data())
    def reopen_file_link(self, data: st.DataObject) -> None:
        """A format node's 'file' set to another node (iotest 245): a free file node, an unknown
        name, the node itself (a cycle); its flags as they are (other changes are not modelled)."""
        graph = self.session.graph
        names = self._reopenable()
        if not names:
            return
        node = graph.find(data.draw(st.sampled_from(names)))
        assert node is not None
        free = [n.name for n in graph.nodes if self._free_file(node, n)]
        target = data.draw(st.sampled_from([*sorted(free), "missing", node.name]))
        entry = reopen_entry(node, node.read_only, node.auto_read_only) | {"file": target}
        self._reopen("file link", [entry])

    def _free_file(self, node: Node, file: Node) -> bool:
        """A file node the oracle can link under node: no export, no BlockBackend, no parent
        unless raw nodes share it under a raw node nobody writes through, or qcow2 nodes over it
        conflict with a qcow2 node (reference/block/reopen_shared_file.py)."""
        graph = self.session.graph
        if file.driver != "file" or file.auto_named or graph.exported(file) or file.backend is not None:
            return False
        if file is node.file_child or not file.parents:
            return True
        raws = node.driver == "raw" and all(p.driver == "raw" for p in file.parents)
        # a qcow2 node joining qcow2 nodes where one of them writes: a permission conflict
        qcow2s = node.driver == "qcow2" and all(p.driver == "qcow2" for p in file.parents)
        writers = not node.read_only or any(not p.read_only for p in file.parents)
        return (raws and not graph.has_writer(node)) or (qcow2s and writers)

    @precondition(lambda self: not self.graph_jobs)
    @rule(
        data=st.data(),
        command=st.sampled_from(["info block -n", "info block -n NAME", "info block", "qemu-io"]),
    )
    def hmp(self, data: st.DataObject, command: str) -> None:
        """HMP through human-monitor-command (qsd: CommandNotFound, predicted too)."""
        graph = self.session.graph
        if command.startswith("info block") and any(n.auto_named for n in graph.nodes):
            return  # a backing opened from a header: QEMU's made-up name is not told to the oracle
        if command.startswith("info block") and any(
            n.driver not in DATA_DRIVERS or n.detect_zeroes != "off" for n in graph.nodes
        ):
            return  # the oracle's info block abstains on detect-zeroes and the other drivers
        if command == "info block -n NAME":
            names = sorted(n.name for n in graph.nodes)
            command = f"info block -n {data.draw(st.sampled_from([*names, 'missing']))}"
        elif command == "qemu-io":
            # Only an unknown device is modelled here: qemu-io on a node name makes a temporary
            # BlockBackend (abstains), and this graph has no -drive BlockBackend.
            command = 'qemu-io nosuch "write 0 512"'
        args = {"command-line": command}
        step = self._check(self.session.run({"execute": "human-monitor-command", "arguments": args}))
        reached(f"hmp {command.split(' -n ')[0].split(' ')[0]}", step)

    @rule(data=st.data())
    def commit(self, data: st.DataObject) -> None:
        names = sorted(self.kinds)
        if not names:
            return
        name = data.draw(st.sampled_from(names))
        node = self.session.graph.find(name)
        if node is not None and node.parents:
            return  # under a throttle, quorum, blkverify or blkdebug node: jobs there are not modelled
        if node is not None and node.backing is not None and any(map(self._exported, self._subtree(node))):
            return  # a commit over an exported chain is not modelled
        self.counter += 1
        args = {"job-id": f"j{self.counter}", "device": name}
        step = self._check(self.session.run({"execute": "block-commit", "arguments": args}))
        if "return" in step.reply:
            self.committed.add(self.kinds[name])

    @precondition(lambda self: not self.graph_jobs)
    @rule(data=st.data(), base=st.sampled_from([None, "missing"]))
    def stream(self, data: st.DataObject, base: str | None) -> None:
        """block-stream of a read-write qcow2 root (no export in its chain): it runs to the end."""
        names = sorted(self.kinds)
        if not names:
            return
        name = data.draw(st.sampled_from(names))
        if not self._streamable(self.session.graph.find(name)):
            return
        self.counter += 1
        args = {"job-id": f"s{self.counter}", "device": name} | ({"base-node": base} if base else {})
        step = self._check(self.session.run({"execute": "block-stream", "arguments": args}))
        reached(f"stream {'base' if base else 'all'}", step)

    def _streamable(self, node: Node | None) -> bool:
        """A read-write qcow2 root, nothing in its chain exported."""
        if node is None or node.driver != "qcow2" or node.read_only:
            return False  # a read-only device goes read-write for the job: the data check would not know
        if node.parents:
            return False  # under another node (throttle, raw, compress...): jobs there are not modelled
        return not any(self._exported(n) for layer in self._subtree(node) for n in (layer, *layer.children()))

    @precondition(lambda self: self.graph_jobs)
    @rule(
        verb=st.sampled_from(
            ["job-complete", "block-job-complete", "block-job-cancel", "force", "job-cancel"]
        )
    )
    def finish(self, verb: str) -> None:
        job_id = next(iter(self.session.graph.jobs))
        if verb in ("force", "job-cancel") and getattr(self.session.graph.jobs[job_id], "restore", None):
            return  # the oracle abstains on aborting an active commit under a read-only top
        if verb.startswith("job-"):
            command: dict[str, Any] = {"execute": verb, "arguments": {"id": job_id}}
        else:
            args: dict[str, Any] = {"device": job_id} | ({"force": True} if verb == "force" else {})
            command = {"execute": "block-job-cancel" if verb == "force" else verb, "arguments": args}
        self._check(self.session.run(command))

    @rule(
        verb=st.sampled_from(["block-job-complete", "job-complete", "block-job-cancel", "query-block-jobs"])
    )
    def job_query_or_unknown(self, verb: str) -> None:
        key = "id" if verb.startswith("job-") else "device"
        args = {} if verb == "query-block-jobs" else {key: "nojob"}
        self._check(self.session.run({"execute": verb, "arguments": args}))

    @precondition(lambda self: not self.graph_jobs)
    @rule(data=st.data(), writable=st.booleans())
    def export(self, data: st.DataObject, writable: bool) -> None:
        names = sorted(node.name for node in self.session.graph.nodes if not node.auto_named)
        name = data.draw(st.sampled_from([*names, "missing"]))
        node = self.session.graph.find(name)
        if node is not None and node.driver not in DATA_DRIVERS:
            return  # exports of quorum, blkverify, blkdebug, throttle, null-co nodes are not modelled
        if node is not None and node.parents:
            return  # an export unshares resize, a writable qcow2 needs it: permission conflicts not modelled
        child = node.file_child if node is not None else None
        raw = writable and node is not None and node.driver == "raw" and child is not None
        if raw and child is not None and (child.read_only or child.parents != [node]):
            return  # the oracle abstains: a writable raw node over a read-only or shared file
        self.counter += 1
        args = {"type": "nbd", "id": f"e{self.counter}", "node-name": name, "writable": writable}
        self._check(self.session.run({"execute": "block-export-add", "arguments": args}))
        self._check(self.session.run({"execute": "query-block-exports"}))

    @rule(data=st.data())
    def unexport(self, data: st.DataObject) -> None:
        ids = [export.id for export in self.session.graph.exports]
        ident = data.draw(st.sampled_from([*ids, "missing"]))
        self._check(self.session.run({"execute": "block-export-del", "arguments": {"id": ident}}))
        self._check(self.session.run({"execute": "query-block-exports"}))

    @rule(running=st.booleans())
    def server(self, running: bool) -> None:
        """Stop the NBD server (its exports go with it) or start it; either again gives an error."""
        if running:
            self._check(self.session.run({"execute": "nbd-server-stop"}))
            return
        address = {"type": "unix", "data": {"path": self.socket}}
        self._check(self.session.run({"execute": "nbd-server-start", "arguments": {"addr": address}}))

    def teardown(self) -> None:
        with self.cleanup:  # the images and the mount go last, whatever the checks say
            self.session.close()  # QEMU goes first: it may hold locks
            self._check_data()

    def _check_data(self) -> None:
        for image in self.pool.images.values():
            if image.path not in self.written:
                assert checksum(image.source) == self.pool.initial[image.source], f"{image.kind} changed"
        for kind in self.committed:
            top = self.pool.images[kind]
            base = self.pool.images[top.backing or kind]
            assert top.data is not None
            assert reads_pattern(base.source, "qcow2", *top.data), f"{base.kind} lacks the top's data"


@pytest.mark.parametrize("impl_name", ["qsd", "qemu-system"])
def test_stateful_graph(impl_name: str) -> None:
    impl = real_implementation(impl_name)
    # ci: six runs (derandomized); nightly (5000 examples: 250 runs) goes deep.
    current = settings()
    examples = max(6, current.max_examples // 20)
    config = settings(current, max_examples=examples, stateful_step_count=STEPS)
    machine = type(f"GraphMachine_{impl_name}", (GraphMachine,), {"impl": impl})
    run_state_machine_as_test(machine, settings=config)
