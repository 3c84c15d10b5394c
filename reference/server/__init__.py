"""Thin asyncio adapters that put the oracle's state machines on real sockets."""
