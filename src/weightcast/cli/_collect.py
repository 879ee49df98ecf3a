"""``weightcast collect`` and ``weightcast corpus-info``: thin commands over weightcast.corpus."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from weightcast.cli._app import click, main


@main.command("collect")
@click.option("--preset", required=True, help="Search preset: digits, fashion14, paper-mnist.")
@click.option(
    "--runs", "n_runs", type=click.IntRange(min=1), required=True, help="Runs in the corpus."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Corpus folder (created, or resumed if it exists).",
)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option(
    "--design",
    type=click.Choice(["random", "one-at-a-time"]),
    default="random",
    show_default=True,
    help="How configurations are drawn (one-at-a-time: the paper's design).",
)
@click.option(
    "--data",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Data folder, for presets that read IDX files.",
)
def collect_command(
    preset: str, n_runs: int, out: Path, workers: int, seed: int, design: str, data: Path | None
) -> None:
    """Train a preset's seeded sample of runs into a corpus, resumably.

    Rerunning the same command skips finished runs; several commands (also on several machines
    sharing the folder) can fill one corpus side by side.
    """
    from weightcast.corpus import CorpusError, collect
    from weightcast.search import get_preset

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        chosen = get_preset(preset)
    except (KeyError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--preset") from exc
    try:
        summary = collect(chosen, n_runs, out, workers=workers, seed=seed, design=design, data=data)
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from exc
    if summary.interrupted:
        again = f"weightcast collect --preset {preset} --runs {n_runs} --out {out}"
        again += f" --workers {workers} --seed {seed} --design {design}"
        again += f" --data {data}" if data is not None else ""
        click.echo(f"resume with: {again}", err=True)
        sys.exit(130)
    if summary.failed:
        sys.exit(1)


@main.command("corpus-info")
@click.argument("corpus", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def corpus_info_command(corpus: Path, as_json: bool) -> None:
    """Summarise the corpus at CORPUS: runs, statuses, accuracy spread, grid, size."""
    from weightcast.corpus import Corpus, CorpusError

    try:
        summary = Corpus(corpus).summary()
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(summary, indent=2) if as_json else _format(summary))


def _format(s: dict[str, Any]) -> str:
    status = ", ".join(f"{n} {k}" for k, n in s["status"].items()) or "none"
    lines = [
        f"corpus    {s['path']} (schema {s['schema_version']}, {_size(s['size_bytes'])})",
        f"preset    {s['preset']}, design {s['design']}, seed {s['seed']}",
        f"grid      T={s['T']}, eval_every={s['eval_every']}, steps {s['steps']}, taus {s['taus']}",
        f"runs      {s['runs']} ({status})"
        + (f", {s['in_progress']} being written" if s["in_progress"] else ""),
    ]
    acc = s["final_acc"]
    if acc is not None:
        lines.append(
            f"final_acc min {acc['min']:.4f}  q25 {acc['q25']:.4f}  median {acc['median']:.4f}  "
            f"q75 {acc['q75']:.4f}  max {acc['max']:.4f}  mean {acc['mean']:.4f}  "
            f"under 0.3: {100 * acc['share_under_0_3']:.1f} %"
        )
    return "\n".join(lines)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover
