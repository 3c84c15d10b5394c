"""A hypothesis state machine over the block graph: every step on a real QEMU 7.2 and on the oracle.

Rules add images (qcow2 chains, lone qcow2 and raw, on writable and read-only
storage), delete nodes, reopen them read-only or read-write, start an active
commit and complete or cancel it, query the jobs, export nodes over NBD
(writable or read-only), remove exports, and stop or restart the NBD server. After every step the
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
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from block.conftest import real_implementation
from block.session import Session, Step
from block.stateful.pool import LAYOUT, Pool, make_pool
from conformance.implementations import Implementation
from conformance.storage import checksum, reads_pattern
from reference.block.node import Node

pytestmark = pytest.mark.slow
KINDS = sorted(LAYOUT)
STEPS = 10


def _add_command(
    pool: Pool, kind: str, name: str, read_only: bool | None, aro: bool | None
) -> dict[str, Any]:
    image = pool.images[kind]
    file: dict[str, Any] = {"driver": "file", "node-name": f"{name}f", "filename": image.path}
    if aro is not None:
        file["auto-read-only"] = aro
    args: dict[str, Any] = {"driver": image.driver, "node-name": name, "file": file}
    if read_only is not None:
        args["read-only"] = read_only
    return {"execute": "blockdev-add", "arguments": args}


class GraphMachine(RuleBasedStateMachine):
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
        step = self._check(self.session.run(_add_command(self.pool, kind, name, read_only, aro)))
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
    @rule(data=st.data(), read_only=st.booleans())
    def reopen(self, data: st.DataObject, read_only: bool) -> None:
        graph = self.session.graph
        names = sorted(n for n in self.kinds if (node := graph.find(n)) is not None and node.backing is None)
        if not names:
            return
        name = data.draw(st.sampled_from(names))
        image = self.pool.images[self.kinds[name]]
        if image.backing is not None:
            return  # its backing node is auto-named: the entry cannot name it
        node = graph.find(name)
        if image.driver == "raw" and node is not None and self._writable_export(node):
            return  # a raw node passes its export's writes on: not modelled under a reopen
        entry = {"driver": image.driver, "node-name": name, "file": f"{name}f", "read-only": read_only}
        if image.driver == "qcow2":
            entry["backing"] = None
        self._check(self.session.run({"execute": "blockdev-reopen", "arguments": {"options": [entry]}}))

    @rule(data=st.data())
    def commit(self, data: st.DataObject) -> None:
        names = sorted(self.kinds)
        if not names:
            return
        name = data.draw(st.sampled_from(names))
        node = self.session.graph.find(name)
        if node is not None and node.backing is not None and any(map(self._exported, self._subtree(node))):
            return  # a commit over an exported chain is not modelled
        self.counter += 1
        args = {"job-id": f"j{self.counter}", "device": name}
        step = self._check(self.session.run({"execute": "block-commit", "arguments": args}))
        if "return" in step.reply:
            self.committed.add(self.kinds[name])

    @precondition(lambda self: self.graph_jobs)
    @rule(
        verb=st.sampled_from(
            ["job-complete", "block-job-complete", "block-job-cancel", "force", "job-cancel"]
        )
    )
    def finish(self, verb: str) -> None:
        job_id = next(iter(self.session.graph.jobs))
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
        if node is not None and node.parents:
            return  # an export unshares resize, a writable qcow2 needs it: permission conflicts not modelled
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
    # ci: a handful of runs; nightly (5000 examples) goes deep.
    current = settings()
    examples = max(3, current.max_examples // 20)
    config = settings(current, max_examples=examples, stateful_step_count=STEPS)
    machine = type(f"GraphMachine_{impl_name}", (GraphMachine,), {"impl": impl})
    run_state_machine_as_test(machine, settings=config)
