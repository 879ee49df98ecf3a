"""``weightcast evaluate`` (the RMSE table) and ``weightcast report`` (the HTML report)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from weightcast._imports import require
from weightcast.cli._app import int_list, main, name_list

click = require("click", "cli")


def _number(value: str | None) -> int | float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError as exc:
        msg = f"--n is a number of runs or a share in (0, 1), got {value!r}"
        raise click.BadParameter(msg) from exc
    return int(number) if number >= 1 and number == int(number) else number


def _experiment(corpus: str, **kwargs: Any) -> Any:
    from weightcast.analysis import Experiment
    from weightcast.corpus import Corpus, CorpusError

    try:
        return Experiment(Corpus(corpus), **kwargs)
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from exc


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@main.command("evaluate")
@click.argument("corpus", type=click.Path())
@click.option(
    "--t",
    "steps",
    multiple=True,
    help="Step(s) t, e.g. --t 10 --t 50 or --t 10,50 (default: all recorded).",
)
@click.option(
    "--tau", type=int, default=None, help="Weight-change gap (default: the corpus' first)."
)
@click.option(
    "--sets",
    "sets",
    multiple=True,
    help="Feature sets, comma-separated (default: lc,weights,weights+lc); see --list-sets.",
)
@click.option(
    "--n",
    "n",
    default=None,
    help="Training runs per split: a count, or a share in (0, 1) (default: 2/3).",
)
@click.option("--repeats", type=int, default=5, show_default=True, help="Seeded random splits.")
@click.option(
    "--trees", type=int, default=400, show_default=True, help="Trees of the random forest."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the splits.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--list-sets", is_flag=True, help="List the feature sets and exit.")
def evaluate_command(
    corpus: str,
    steps: tuple[str, ...],
    tau: int | None,
    sets: tuple[str, ...],
    n: str | None,
    repeats: int,
    trees: int,
    seed: int,
    as_json: bool,
    list_sets: bool,
) -> None:
    """Held-out RMSE, R^2 and Spearman's rho of feature sets at steps t (the paper's Fig. 3A).

    For each set and t: repeated seeded splits of the usable runs, n to train a random
    forest, the rest to test; mean and std over the repeats.
    """
    from weightcast.analysis import rmse_vs_t
    from weightcast.predict import FEATURE_SETS

    if list_sets:
        for name, desc in FEATURE_SETS.items():
            click.echo(f"{name:16s} {desc}")
        return
    tqdm = require("tqdm", "cli").tqdm
    exp = _experiment(corpus, n=_number(n), repeats=repeats, seed=seed, n_estimators=trees, tau=tau)
    names = name_list(sets) or ["lc", "weights", "weights+lc"]
    ts = int_list(steps, "--t") or exp.steps
    pd = require("pandas")
    frames, skipped = [], []
    try:
        for t in ts:
            exp.store.check_t(t)
        for t in tqdm(ts, desc="evaluate", unit="step", disable=None):
            frame = rmse_vs_t(exp, names, [t])
            skipped += frame.attrs.get("skipped", [])
            if not frame.empty:
                frames.append(frame)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if not frames:
        raise click.ClickException(f"no feature set of {names} can be assembled at t = {ts}")
    table = pd.concat(frames, ignore_index=True)
    runs = exp.usable_runs(sorted(set(table["t"])))
    missing = {
        str(r.t): {"usable": r.usable, "diverged": r.diverged_by_t, "other": r.other_missing}
        for r in runs.itertuples()
    }
    if as_json:
        cols = ["set", "t", "tau", "n_train", "n_test", "repeats"]
        cols += [f"{m}_{s}" for m in ("rmse", "r2", "rho", "mae") for s in ("mean", "std")]
        records = [{k: _clean(v) for k, v in row.items()} for row in table[cols].to_dict("records")]
        payload = {
            "corpus": str(exp.corpus.path),
            "settings": exp.describe(),
            "results": records,
            "runs": missing,
            "skipped": [{"set": s, "t": t, "reason": why} for s, t, why in skipped],
        }
        click.echo(json.dumps(payload, indent=2, default=_clean))
        return
    wide = table.pivot_table(index="set", columns="t", values="rmse_mean", sort=False)
    click.echo(f"held-out RMSE (mean over {repeats} splits; tau = {exp.tau}) of {exp.corpus.path}")
    click.echo(wide.to_string(float_format=lambda x: f"{x:.4f}"))
    click.echo("")
    show = table[["set", "t", "n_train", "n_test", "rmse_mean", "rmse_std", "r2_mean", "rho_mean"]]
    click.echo(show.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    left_out = {t: m for t, m in missing.items() if m["diverged"] or m["other"]}
    if left_out:
        click.echo(
            "runs left out (diverged at or before t / other): "
            + ", ".join(f"t={t}: {m['diverged']}/{m['other']}" for t, m in left_out.items())
        )
    for name, t, why in skipped:
        click.echo(f"skipped {name} at t={t}: {why}")


@main.command("report")
@click.argument("corpus", type=click.Path())
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for index.html, the PNGs and summary.json.",
)
@click.option(
    "--quick",
    is_flag=True,
    help="A small, fast report (few trees and repeats): for tests and a first look.",
)
@click.option(
    "--trees", type=int, default=None, help="Trees of the forest (default: 100; quick: 30)."
)
@click.option(
    "--repeats", type=int, default=None, help="Seeded splits per point (default: 3; quick: 2)."
)
@click.option(
    "--n", "n", default=None, help="Training runs per split: a count or a share (default: 2/3)."
)
@click.option(
    "--t-ref",
    type=int,
    default=None,
    help="Step of the single-step analyses (default: the median step).",
)
@click.option(
    "--tau", type=int, default=None, help="Weight-change gap (default: the corpus' first)."
)
def report_command(
    corpus: str,
    out: str,
    quick: bool,
    trees: int | None,
    repeats: int | None,
    n: str | None,
    t_ref: int | None,
    tau: int | None,
) -> None:
    """Every analysis of the paper and beyond, as OUT/index.html, PNGs and summary.json."""
    from weightcast.analysis import ReportConfig, build_report
    from weightcast.corpus import Corpus, CorpusError

    tqdm = require("tqdm", "cli").tqdm
    overrides: dict[str, Any] = {"n": _number(n), "t_ref": t_ref, "tau": tau}
    if trees is not None:
        overrides["n_estimators"] = trees
    if repeats is not None:
        overrides["repeats"] = repeats
    cfg = ReportConfig.quick_config(**overrides) if quick else ReportConfig(**overrides)

    def progress(tasks: Sequence[tuple[str, Any]]) -> Any:
        bar = tqdm(tasks, desc="report", unit="analysis", disable=None)
        for name, run in bar:
            bar.set_postfix_str(name)
            yield name, run

    try:
        summary = build_report(Corpus(corpus), out, cfg, progress=progress)
    except (CorpusError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {Path(out) / 'index.html'} in {summary['elapsed_s']} s")
    for name, why in summary["errors"].items():
        click.echo(f"not possible on this corpus: {name}: {why}")
