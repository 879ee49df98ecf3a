"""The click group every command module registers on."""

from __future__ import annotations

from collections.abc import Sequence

from weightcast._imports import require

click = require("click", "cli")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="weightcast")
def main() -> None:
    """weightcast: predict eventual accuracy from early weights, prune bad runs."""


def name_list(values: str | Sequence[str] | None) -> list[str]:
    """Comma-separated names from one option value or several, stripped, empty ones dropped.

    >>> name_list(("lc, weights", "all,"))
    ['lc', 'weights', 'all']
    """
    items = [values] if isinstance(values, str) else list(values or ())
    return [v.strip() for item in items for v in str(item).split(",") if v.strip()]


def int_list(values: str | Sequence[str] | None, hint: str) -> list[int] | None:
    """Comma-separated integers from one option value or several (None when there are none).

    >>> int_list(("10,20", "50"), "--t")
    [10, 20, 50]
    """
    texts = name_list(values)
    try:
        out = [int(v) for v in texts]
    except ValueError as exc:
        raise click.BadParameter(f"not integers: {', '.join(texts)}", param_hint=hint) from exc
    return out or None
