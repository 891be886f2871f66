"""Workbench: a time-series research workbench."""

__version__ = "0.1.0"
