"""Command-line interface: thin commands over the library (``weightcast --help``)."""

from __future__ import annotations

from weightcast.cli import _collect, _evaluate, _features, _replay, _tune  # noqa: F401  (register)
from weightcast.cli._app import main

__all__ = ["main"]
