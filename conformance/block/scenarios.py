"""Command-line scenarios (fixtures/block/scenarios.json): QEMU's iotests as qconform cases.

A scenario starts qemu-system-x86_64 or qemu-storage-daemon with block
options on its command line, builds the oracle's graph from the same options
(reference/block/drive.py), then runs its QMP steps through a Session, each
reply and event judged to the letter. The names QEMU makes up for -drive's
nodes are learnt from the implementation before the first step (they hold
random digits). After the process is gone, the images must read back the
scenario's "data".

QEMU does not apply the options in the order written: qemu-system creates every
-blockdev node (in order) before any -drive (in order), so a -drive may name a
-blockdev given after it, a -blockdev's error wins over an earlier -drive's, and
the nodes' creation order (query-named-block-nodes lists the newest first, the
#blockNNN counter) is that one; qemu-storage-daemon has no -drive. A scenario
with "exit": true expects the program to refuse its options: its one stderr line
must be the oracle's (reference/block/drive.py command_line_error).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.block.command_line import (
    CommandLineInstance,
    ContainerCommandLine,
    Exited,
    start,
    start_in_container,
)
from conformance.block.fixture import BLOCK_DIR, BlockFixture, with_paths
from conformance.block.session import ConnectionClosed, Session, Step
from conformance.block.views import StorageView
from conformance.errors import QconformError
from conformance.implementations import Implementation
from conformance.jsonfile import read_validated_json
from conformance.snapshots import model_from_file
from conformance.storage import reads_pattern
from reference.block.devices import machine_option
from reference.block.drive import (
    EXIT_STATUS,
    adopt_names,
    command_line_error,
    open_blockdev,
    open_drive,
    parse_drive,
)
from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.profiles import Flavour

SCENARIOS = BLOCK_DIR / "scenarios.json"
SCHEMA = BLOCK_DIR / "scenarios.schema.json"
PATH_TOKEN = re.compile(r"@((?:scratch/)?[a-z0-9-]+)")  # "@NAME" inside an option's value
Started = CommandLineInstance | ContainerCommandLine
QSD_OPTIONS = {"-blockdev": "--blockdev"}  # -drive has no qemu-storage-daemon form
MACHINE_OPTIONS = ("-machine", "-incoming")  # qemu-system only; they make no block node


@dataclass(frozen=True)
class Scenario:
    id: str
    description: str
    storage: str
    images: tuple[dict[str, Any], ...]
    programs: tuple[str, ...]
    options: tuple[tuple[str, str], ...]
    steps: tuple[dict[str, Any], ...]
    data: tuple[dict[str, Any], ...]
    containers: tuple[str, ...] | None = None  # FAMILY@SUITE it is pinned on (None: the test's list)
    exit: bool = False  # the program refuses its options (then there are no steps)

    def fixture(self) -> BlockFixture:
        """The images as the storage views take them."""
        return BlockFixture(self.images, {}, ())


@dataclass
class Outcome:
    scenario: str
    program: str
    exited: Exited | None = None  # the program refused its options
    oracle: str | None = None  # the oracle could not build the graph from the options (why)
    steps: tuple[Step, ...] = ()
    bad_data: tuple[str, ...] = ()  # "data" entries the images do not read back
    bad_exit: str | None = None  # the oracle said the process leaves (quit) and it did not, or not cleanly
    predicted_exit: str | None = None  # the stderr line the oracle predicts when the program refuses
    crash: str | None = None  # the crash check's report: the process went away during a step

    @property
    def agrees(self) -> bool:
        if self.predicted_exit is not None:
            return self.oracle is None and self.bad_exit is None and self._exit_agrees()
        ok = self.exited is None and self.oracle is None and self.crash is None
        return ok and all(s.agrees for s in self.steps) and not self.bad_data and self.bad_exit is None

    def _exit_agrees(self) -> bool:
        """Exit status 1 (a container's is lost: None), no crash, the predicted line."""
        ended = self.exited
        if ended is None or ended.crash is not None or ended.code not in (EXIT_STATUS, None):
            return False
        return ended.stderr == self.predicted_exit

    def describe(self) -> str:
        if self.predicted_exit is not None and self.oracle is None and self.bad_exit is None:
            ended = self.exited
            observed = "it kept running" if ended is None else f"exit {ended.code}: {ended.stderr}"
            expected = f"expected exit {EXIT_STATUS}: {self.predicted_exit}"
            return f"{self.scenario} on {self.program}: {expected}; {observed}"
        if self.exited is not None:
            return f"{self.scenario} on {self.program}: exited {self.exited.code}: {self.exited.stderr}"
        if self.oracle is not None:
            return f"{self.scenario} on {self.program}: the oracle refuses the options: {self.oracle}"
        lines = [step.describe() for step in self.steps if not step.agrees]
        lines += [f"crashed: {self.crash}"] if self.crash is not None else []
        lines += [f"the image does not read back {entry}" for entry in self.bad_data]
        lines += [self.bad_exit] if self.bad_exit is not None else []
        return f"{self.scenario} on {self.program}:\n" + "\n".join(lines)


def load(path: Path = SCENARIOS) -> tuple[Scenario, ...]:
    data = read_validated_json(path, SCHEMA)
    scenarios = tuple(_scenario(raw) for raw in data["scenarios"])
    for scenario in scenarios:
        _check(path, scenario)
    return scenarios


def _scenario(raw: dict[str, Any]) -> Scenario:
    return Scenario(
        raw["id"], raw["description"], raw["storage"], tuple(raw["images"]), tuple(raw["programs"]),
        tuple((option, value) for option, value in raw["options"]), tuple(raw["steps"]),
        tuple(raw.get("data", ())), tuple(raw["containers"]) if "containers" in raw else None,
        raw.get("exit", False),
    )  # fmt: skip


def _check(path: Path, scenario: Scenario) -> None:
    """What the schema cannot say: names refer to the scenario's images, qsd has each option."""
    names = {image["name"] for image in scenario.images}
    known = names | {f"scratch/{i['name']}" for i in scenario.images if i.get("place") == "scratch"}
    for option, value in scenario.options:
        for name in PATH_TOKEN.findall(value):
            if name not in known:
                raise QconformError(f"{path}: {scenario.id}: {option} {value}: no image {name!r}")
        if "qsd" in scenario.programs and option not in QSD_OPTIONS:
            raise QconformError(f"{path}: {scenario.id}: qemu-storage-daemon has no {option}")
    if scenario.exit and (scenario.steps or scenario.data):
        raise QconformError(f"{path}: {scenario.id}: a scenario whose program exits has no steps or data")
    for entry in scenario.data:
        if entry["image"] not in names:
            raise QconformError(f"{path}: {scenario.id}: data names no image {entry['image']!r}")


def command_line(scenario: Scenario, impl: Implementation, paths: dict[str, str]) -> list[tuple[str, str]]:
    """The options with image paths filled in, spelt as the program takes them."""
    qsd = impl.flavour is Flavour.STORAGE_DAEMON
    return [
        (QSD_OPTIONS[option] if qsd else option, PATH_TOKEN.sub(lambda m: paths[m.group(1)], value))
        for option, value in scenario.options
    ]


def creation_order(options: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The options in the order QEMU applies them: the machine's, every -blockdev, then every -drive
    (seen on qemu-system 7.2; --blockdev alone on qemu-storage-daemon keeps its order)."""
    machine = [pair for pair in options if pair[0] in MACHINE_OPTIONS]
    drives = [pair for pair in options if pair[0] == "-drive"]
    return machine + [pair for pair in options if pair not in machine and pair not in drives] + drives


def apply_options(graph: BlockGraph, options: list[tuple[str, str]]) -> None:
    """The options' nodes and devices on the oracle's graph; the first failing option's BlockError
    (the program's exit) or NotModelled propagates, with the option on the error's .option."""
    drives = 0
    for option, value in creation_order(options):
        try:
            if option == "-drive":
                open_drive(graph, parse_drive(value, drives))
                drives += 1
            elif option in MACHINE_OPTIONS:
                machine_option(graph.devices, option, value)
            else:
                open_blockdev(graph, value)
        except BlockError as err:
            raise OptionError(option, value, err.desc) from None


class OptionError(Exception):
    """An option the program refuses (it exits): which one, and QEMU's message."""

    def __init__(self, option: str, value: str, desc: str) -> None:
        super().__init__(desc)
        self.option, self.value, self.desc = option, value, desc


def prepare(options: list[tuple[str, str]], refused: list[str]) -> Any:
    """The oracle's graph before the first command. An option the oracle refuses or cannot model
    goes to refused (the scenario then fails)."""

    def apply(graph: BlockGraph) -> None:
        try:
            apply_options(graph, options)
        except OptionError as err:
            refused.append(f"predicts an exit: {err.desc}")
        except NotModelled as err:
            refused.append(f"not modelled: {err.reason}")

    return apply


def predict_exit(impl: Implementation, view: StorageView, options: list[tuple[str, str]]) -> str:
    """The line the program writes as it refuses the options (QconformError: the oracle
    predicts no exit, or cannot say)."""
    graph = model_from_file(impl.snapshot_path, impl.profile, exact_identity=False).attach_storage(view.facts)
    try:
        apply_options(graph, options)
    except OptionError as err:
        assert impl.binary is not None
        # A container's binary is "IMAGE:TAG:PROGRAM"; its program runs by name.
        program = impl.binary.rsplit(":", 1)[-1] if impl.backend == "container" else impl.binary
        return command_line_error(program, err.option, err.value, err.desc)
    except NotModelled as err:
        raise QconformError(f"not modelled: {err.reason}") from None
    raise QconformError("the oracle predicts the program starts")


def run(scenario: Scenario, impl: Implementation, view: StorageView) -> Outcome:
    outcome = Outcome(scenario.id, impl.name)
    options = command_line(scenario, impl, view.paths)
    if scenario.exit:
        return _run_exit(outcome, impl, view, options)
    started = _start(impl, [word for pair in options for word in pair], view)
    if isinstance(started, Exited):
        outcome.exited = started
        return outcome
    refused: list[str] = []
    try:
        session = Session(impl, view.facts, prepare(options, refused), lambda: started)
    except BaseException:
        started.stop()
        raise
    try:
        if refused:
            outcome.oracle = refused[0]
            return outcome
        _learn_names(session)
        done: list[Step] = []
        try:
            for step in scenario.steps:
                done.append(session.run(with_paths(step, view.paths)))
        except ConnectionClosed as gone:  # the crash check: the scenario's crash
            if gone.crash is None:  # it left without crashing: nothing to judge
                raise
            outcome.crash = gone.crash
        outcome.steps = tuple(done)
        if session.closing and outcome.crash is None:
            outcome.bad_exit = _left(started)
    finally:
        session.close()
    outcome.bad_data = tuple(
        str(entry) for entry in scenario.data if not _reads(view, scenario, entry)
    )  # fmt: skip
    return outcome


def _run_exit(
    outcome: Outcome, impl: Implementation, view: StorageView, options: list[tuple[str, str]]
) -> Outcome:
    try:
        outcome.predicted_exit = predict_exit(impl, view, options)
    except QconformError as err:
        outcome.oracle = str(err)
        return outcome
    started = _start(impl, [word for pair in options for word in pair], view)
    if isinstance(started, Exited):
        outcome.exited = started
        return outcome
    try:  # its monitor may listen before the options are applied: wait for the exit
        outcome.exited = started.exited()
    finally:
        started.stop()
    return outcome


def _start(impl: Implementation, extra: list[str], view: StorageView) -> Started | Exited:
    """A host binary, or FAMILY@SUITE with the view's folder at the same path (read-only
    storage through a read-only bind mount of its own), as StorageView.implementation maps it."""
    if impl.backend != "container":
        return start(impl, extra, view.uid)
    assert view.base is not None
    read_only = {view.base / "images": str(view.folder)} if view.kind == "read-only-mount" else {}
    return start_in_container(impl, extra, view.uid, {view.base: str(view.base)}, read_only)


def _left(started: Started) -> str | None:
    """Why the process did not leave cleanly after a quit (None: it exited with status 0)."""
    ended = started.exited()
    if ended is None:
        return "the oracle predicts the process leaves (quit): it is still running"
    if ended.code != 0 or ended.crash is not None:
        return f"after quit the process exited {ended.code}: {ended.crash or ended.stderr}"
    return None


def _learn_names(session: Session) -> None:
    """Give the oracle's self-named nodes QEMU's names, matched by driver and file."""
    reply = session.ask({"execute": "query-named-block-nodes", "arguments": {"flat": True}})
    observed: dict[tuple[str, str], list[str]] = {}
    for node in reply.get("return", []):
        observed.setdefault((node["drv"], node["file"]), []).append(node["node-name"])
    names: dict[str, str] = {}
    for node in session.graph.nodes:
        found = observed.get((node.driver, node.filename), [])
        if node.auto_named and len(found) == 1:
            names[node.name] = found[0]
    adopt_names(session.graph, names)


def _reads(view: StorageView, scenario: Scenario, entry: dict[str, Any]) -> bool:
    image = next(i for i in scenario.images if i["name"] == entry["image"])
    path = view.sources[entry["image"]]
    return reads_pattern(path, image["format"], entry["pattern"], entry["offset"], entry["length"])
