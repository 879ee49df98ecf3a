"""CLI commands (filled in by the module owner)."""

from __future__ import annotations

from weightcast.cli._app import main  # noqa: F401
