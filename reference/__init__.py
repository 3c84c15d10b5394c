"""The qconform oracle: a sans-IO model of QEMU's QMP, QAPI, block graph and NBD.

Nothing in this package opens a socket, starts a process or reads a clock it is
not handed: messages go in, messages come out.
"""
