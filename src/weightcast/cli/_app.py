"""The click group every command module registers on."""

from __future__ import annotations

from weightcast._imports import require

click = require("click", "cli")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="weightcast")
def main() -> None:
    """weightcast: predict eventual accuracy from early weights, prune bad runs."""
