"""`qconform capture`: record a real binary's identity and schema as a snapshot file."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from qemu.qmp import QMPClient

from conformance.implementations import Implementation
from conformance.process import StartError
from reference.qmp.snapshot import SNAPSHOT_FORMAT


async def _query(socket: str) -> dict[str, Any]:
    client = QMPClient("qconform-capture")
    await client.connect(socket)
    try:
        greeting = client.greeting._asdict() if client.greeting else {}
        return {
            "greeting": greeting,
            "query-version": await client.execute("query-version"),
            "query-commands": await client.execute("query-commands"),
            "query-qmp-schema": await client.execute("query-qmp-schema"),
        }
    finally:
        await client.disconnect()


def capture(impl: Implementation) -> dict[str, Any]:
    instance = impl.launch()
    try:
        socket = getattr(instance, "socket", None)
        if socket is None:
            raise StartError(f"{impl.name} has no socket to capture from")
        answers = asyncio.run(asyncio.wait_for(_query(str(socket)), timeout=30))
    finally:
        instance.stop()
    return {
        "format": SNAPSHOT_FORMAT,
        "implementation": impl.name,
        "flavour": impl.flavour.value,
        "version": impl.version,
        "binary": impl.binary,
        "captured": datetime.date.today().isoformat(),
        **answers,
    }
