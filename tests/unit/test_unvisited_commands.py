"""Which commands each version's dispatch leaves to their raw-QDict handlers ('gen': false):
the oracle abstains on them there and visits them where the version generates a visitor."""

from __future__ import annotations

import pytest

from conformance.implementations import INTROSPECTION_DIR
from conformance.snapshots import model_from_file
from reference.profiles import get_profile
from reference.qmp.monitor import QmpConnection
from reference.qmp.outputs import Message, NotModelled, Output
from reference.qobject.values import QDict


def answer(snapshot: str, profile: str, request: bytes) -> Output:
    model = model_from_file(INTROSPECTION_DIR / snapshot, get_profile(profile), exact_identity=False)
    conn = QmpConnection(model)
    conn.connect()
    conn.receive(b'{"execute": "qmp_capabilities"}\n')
    (output,) = conn.receive(request)
    return output


@pytest.mark.parametrize("snapshot", ["qsd-5.2.json", "qemu-system-5.2.json"])
@pytest.mark.parametrize(
    "request_line",
    [
        b'{"execute": "object-add", "arguments": {"qom-type": 5, "id": "x"}}\n',
        b'{"execute": "query-qmp-schema", "arguments": {"zz": 1}}\n',
    ],
)
def test_5_2_abstains_on_raw_handlers(snapshot: str, request_line: bytes) -> None:
    output = answer(snapshot, "5.2", request_line)
    assert isinstance(output, NotModelled) and "raw arguments" in output.reason


@pytest.mark.parametrize(
    ("request_line", "desc"),
    [
        (
            b'{"execute": "object-add", "arguments": {"qom-type": 5, "id": "x"}}\n',
            "Invalid parameter type for 'qom-type', expected: string",
        ),
        (b'{"execute": "query-qmp-schema", "arguments": {"zz": 1}}\n', "Parameter 'zz' is unexpected"),
    ],
)
def test_7_2_visits_them(request_line: bytes, desc: str) -> None:
    output = answer("qsd-7.2.json", "7.2", request_line)
    assert isinstance(output, Message)
    error = output.body.get("error")
    assert isinstance(error, QDict) and error.get("desc") == desc


@pytest.mark.parametrize("profile", ["5.2", "7.2", "10.0", "11.1"])
def test_device_add_is_raw_everywhere(profile: str) -> None:
    assert "device_add" in get_profile(profile).unvisited_commands
