"""The block session lives in the harness now (conformance/block/session.py); re-exported for tests."""

from conformance.block.session import JOB_TIMEOUT, READ_TIMEOUT, Session, Step

__all__ = ["JOB_TIMEOUT", "READ_TIMEOUT", "Session", "Step"]
