"""Fuzz targets (atheris) for the oracle's entry points and the wire protocols."""
