"""The QMP monitor as a sans-IO state machine: bytes in, messages out."""
