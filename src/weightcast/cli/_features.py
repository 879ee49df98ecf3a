"""``weightcast features``: the paper's weight features of a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from weightcast._imports import require
from weightcast.cli._app import main

click = require("click", "cli")


def _load_layers(path: str) -> dict[str, Any]:
    """Layer weights of an .npz (numpy only) or a PyTorch state_dict file (torch)."""
    if Path(path).suffix.lower() == ".npz":
        from weightcast.features import load_npz_weights

        return load_npz_weights(path)
    from weightcast.torch import load_state_dict_weights

    return load_state_dict_weights(path)


@main.command("features")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--previous",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="The same model tau steps earlier: adds the <layer>.delta.* features.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="csv: two columns feature,value; json: one object.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write to this file instead of standard output.",
)
def features(checkpoint: str, previous: str | None, fmt: str, out: str | None) -> None:
    """Weight features of CHECKPOINT: a PyTorch state_dict (.pt, .pth) or an .npz of arrays.

    Prints <layer>.raw.<feature> for the first, second and last convolution and every
    fully connected layer (4-D and 2-D weights, in file order).
    """
    from weightcast.features import network_features

    try:
        layers = _load_layers(checkpoint)
        before = _load_layers(previous) if previous is not None else None
        values = network_features(layers, before)
    except (ValueError, ImportError) as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        text = json.dumps(values, indent=1) + "\n"
    else:
        text = "feature,value\n" + "".join(f"{k},{v!r}\n" for k, v in values.items())
    if out is None:
        click.echo(text, nl=False)
    else:
        Path(out).write_text(text, encoding="utf-8")
