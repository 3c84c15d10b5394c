"""The oracle-entry fuzz targets and the live differential one: their checks hold and can fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fuzz.keyval_blockdev as keyval_target
import fuzz.nbd_server as nbd_target
import fuzz.qapi_schema as schema_target
from conformance.errors import QconformError
from conformance.runner import Result
from fuzz.campaign import TARGETS, run_campaign

REPO = Path(__file__).resolve().parents[2]


def test_every_target_has_seeds() -> None:
    for target in TARGETS.values():
        assert sum(1 for _ in target.seeds()) > 50, target.name


def test_keyval_fixture_inputs_pass_the_keyval_target() -> None:
    for _name, data in TARGETS["keyval-blockdev"].seeds():
        keyval_target.one_input(data.decode("utf-8"))


def test_keyval_round_trip_catches_a_wrong_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyval_target, "keyval_text", lambda tree: "driver=other")
    with pytest.raises(keyval_target.Violation):
        keyval_target.one_input("null-co,node-name=n0")


def test_keyval_text_doubles_commas_and_numbers_list_items() -> None:
    from reference.qapi.keyval import parse_no_help

    tree = parse_no_help("a.0=x,,y,a.1=z,b.c=1", None)
    assert keyval_target.keyval_text(tree) in ("a.0=x,,y,a.1=z,b.c=1", "b.c=1,a.0=x,,y,a.1=z")


def test_schema_fixtures_pass_the_schema_target() -> None:
    for _name, data in TARGETS["qapi-schema"].seeds():
        schema_target.one_input(data.decode("utf-8"))


@pytest.mark.parametrize(
    "text",
    ["no location here", "x.json:1: ", "In struct 'X':\nx.json:3: bad", "x.json:3: bad\ntraceback"],
)
def test_schema_error_shape_is_checked(text: str) -> None:
    if text.endswith("traceback"):
        schema_target.check_error(text)  # lines after the message are the message's own
        return
    with pytest.raises(schema_target.Violation):
        schema_target.check_error(text)


def test_differential_refuses_host_backends() -> None:
    from fuzz.qmp_differential import choose_implementation

    with pytest.raises(QconformError, match="use a container implementation"):
        choose_implementation("reference")


def test_campaign_rejects_impl_for_targets_that_run_none(tmp_path: Path) -> None:
    with pytest.raises(QconformError, match="runs no implementation"):
        run_campaign("qapi-schema", tmp_path, 1, implementation="qsd@bookworm")


def _container_or_skip(name: str) -> None:
    from conformance.implementations import discover

    found, missing = discover()
    if any(impl.name == name for impl in found):
        return
    reason = next((m.reason for m in missing if m.name == name), "not found")
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is missing (CI=true): {reason}")
    pytest.skip(f"{name}: {reason}")


@pytest.mark.slow
def test_differential_agrees_and_records_each_finding_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _container_or_skip("qsd@bookworm")
    import fuzz.qmp_differential as differential_target

    differential = differential_target.Differential(
        differential_target.choose_implementation("qsd@bookworm"), tmp_path
    )
    try:
        for data in (b'{"execute": "query-version"}\n', b'{"exec', b"[1, 2\n", b"\x00\x01"):
            assert differential.one_input(data).status == "pass", data
        fake = Result("fuzz-differential", "fuzz", "qsd@bookworm", "7.2", "diverge", detail="line 3 differs")
        monkeypatch.setattr(differential_target, "run_case", lambda *args: fake)
        differential.one_input(b"first")
        fake.detail = "line 4 differs"  # numbers aside, the same disagreement
        differential.one_input(b"second")
    finally:
        differential.close()
    records = sorted(tmp_path.glob("*.json"))
    assert len(records) == 1
    assert (tmp_path / f"{records[0].stem}.bin").read_bytes() == b"first"
    assert json.loads(records[0].read_text())["status"] == "diverge"


@pytest.mark.slow
@pytest.mark.parametrize("target", ["keyval-blockdev", "qapi-schema", "nbd-server", "qmp-differential"])
def test_atheris_campaigns_of_each_target_run(target: str, tmp_path: Path) -> None:
    if target == "qmp-differential":
        _container_or_skip("qsd@bookworm")
    completed = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "fuzz", "--target", target, "--dir", str(tmp_path),
         "--seconds", "3"],
        cwd=REPO, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    output = completed.stdout[-2000:] + completed.stderr[-2000:]
    assert completed.returncode == 0, output
    assert list((tmp_path / "findings").iterdir()) == [], output
    assert len(list((tmp_path / "corpus").iterdir())) > 50
    if target == "qmp-differential":
        assert _orphaned_containers() == [], "the campaign left its container behind"


def _orphaned_containers() -> list[str]:
    """Containers of ours whose owner process is gone (not the orphan the reaping test plants)."""
    from conformance.containers import OWNER_LABEL, _client

    orphans = []
    for container in _client().containers.list(all=True, filters={"label": OWNER_LABEL}, ignore_removed=True):
        try:
            os.kill(int(container.labels[OWNER_LABEL]), 0)
        except ProcessLookupError:
            if not container.name.startswith("qconform-orphan-"):
                orphans.append(container.name)
    return orphans


def test_an_argument_with_a_newline_is_printed_verbatim() -> None:
    # Found by the keyval campaign: qsd echoes the argument as given, newline included.
    outcome = keyval_target.one_input("1a=d\niver=null-co")
    assert outcome is not None and not outcome.accepted


def test_nbd_seed_scripts_hold_the_invariants() -> None:
    for data in nbd_target.seed_inputs():
        nbd_target.one_input(data)


def test_nbd_target_catches_a_reply_to_a_request_never_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    # A server that answers an extra handle must be caught: make the target forget what it sent.
    monkeypatch.setattr(nbd_target.Conversation, "send", _forgetful_send)
    script = bytes([3, 5, 0, 0, 1, 0, 0]) + bytes(60)  # flags, GO "rw", then READs
    with pytest.raises(nbd_target.Violation, match="never sent"):
        nbd_target.one_input(script)


def _forgetful_send(self: nbd_target.Conversation, data: bytes) -> None:
    self.open_handles.clear()
    self.deliver(self.server.receive(data))
