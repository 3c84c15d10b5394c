"""`qconform serve qmp` as a real server: qemu.qmp and raw sockets, several clients at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from qemu.qmp import ExecuteError, QMPClient

from conformance.implementations import ProcessInstance, reference_server_argv
from conformance.transport import RawQmpStream

pytestmark = pytest.mark.slow


@pytest.fixture
def server() -> Iterator[ProcessInstance]:
    instance = ProcessInstance("reference-server", reference_server_argv, read_timeout=5.0)
    yield instance
    instance.stop()


def test_qemu_qmp_client_negotiates_and_queries(server: ProcessInstance) -> None:
    async def session() -> None:
        client = QMPClient("qconform-test")
        await client.connect(str(server.socket))
        assert client.greeting is not None
        version = await client.execute("query-version")
        assert isinstance(version, dict) and version["qemu"]["major"] == 7
        commands = await client.execute("query-commands")
        assert isinstance(commands, list) and {"name": "blockdev-add"} in commands
        with pytest.raises(ExecuteError) as err:
            await client.execute("no-such-command")
        assert err.value.error_class == "CommandNotFound"
        await client.disconnect()

    asyncio.run(asyncio.wait_for(session(), 10))


def test_clients_have_their_own_negotiation_state(server: ProcessInstance) -> None:
    first, second = RawQmpStream(server.socket), RawQmpStream(server.socket)
    try:
        assert first.read_line() is not None and second.read_line() is not None
        first.send(b'{"execute": "qmp_capabilities"}\n')
        assert first.read_line() == b'{"return": {}}\r\n'
        second.send(b'{"execute": "query-version", "id": 1}\n')
        line = second.read_line()
        assert line is not None and b"Expecting capabilities negotiation" in line
        first.send(b'{"execute": "qmp_capabilities", "id": 2}\n')
        line = first.read_line()
        assert line is not None and b"already complete" in line
    finally:
        first.close()
        second.close()


def test_quit_closes_every_client_and_stops_the_server(server: ProcessInstance) -> None:
    first, second = RawQmpStream(server.socket), RawQmpStream(server.socket)
    try:
        first.read_line(), second.read_line()
        first.send(b'{"execute": "qmp_capabilities"}\n{"execute": "quit"}\n')
        assert first.read_line() == b'{"return": {}}\r\n'
        assert first.read_line() == b'{"return": {}}\r\n'
        assert first.read_line() is None
        assert second.read_line() is None
        server.process.wait(5.0)
        assert not server.alive() and server.process.exit_status().code == 0
    finally:
        first.close()
        second.close()
