"""QAPI: the schema model (from introspection) and QEMU's input visitors."""
