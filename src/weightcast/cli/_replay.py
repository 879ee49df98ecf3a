"""``weightcast replay``: the replay benchmark of pruning policies on a recorded corpus."""

from __future__ import annotations

import json
from pathlib import Path

from weightcast.cli._app import click, int_list, main, name_list
from weightcast.integrations._names import DEFAULT_POLICIES, GRIDS, POLICIES


@main.command("replay")
@click.argument("corpus", type=click.Path(path_type=Path))
@click.option(
    "--orders",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Seeded random orders of the runs to replay (5: about 8 minutes for 300 runs on "
    "2 cores; more for tighter error bars).",
)
@click.option(
    "--policies",
    default=",".join(DEFAULT_POLICIES),
    show_default=True,
    help="Comma-separated policies (no pruning is always included as the baseline; wc-prior "
    "is added when --prior is given).",
)
@click.option(
    "--prior",
    type=click.Path(path_type=Path),
    multiple=True,
    help="A corpus of another search with the same T: the wc-prior policy learns from its "
    "finished runs. Repeat it for several.",
)
@click.option(
    "--grids",
    default="dense,epoch",
    show_default=True,
    help="Curve grids: dense (as recorded), epoch (once per epoch).",
)
@click.option(
    "--n-train",
    type=float,
    default=None,
    help="Training examples per epoch, for the epoch grid (default: the corpus meta n_train, else its preset's data).",
)
@click.option(
    "--batch-size",
    type=float,
    default=None,
    help="Batch size for the epoch grid (default: each run's batch_size hyperparameter).",
)
@click.option(
    "--steps",
    default=None,
    help="Comma-separated decision steps of weightcast's pruner (feature steps of the corpus; "
    "default: 2, 5, 10, 20 and 40 % of T, snapped to them; for wc-prior 1 and 2 % of T, with "
    "the rung rule at 5, 10, 20 and 40 % and --model-until-rung).",
)
@click.option(
    "--rung-steps",
    default=None,
    help="Comma-separated rungs of the rung rule of weightcast's pruner (default: the decision "
    "steps and 60 and 80 % of T; for wc-prior without --steps 5, 10, 20 and 40 % of T).",
)
@click.option(
    "--model-until-rung",
    is_flag=True,
    help="weightcast's model decides only until a rung after its last decision step is due; "
    "the rung rule decides from there (e.g. --steps 10,20 --rung-steps 10,20,50,100,...).",
)
@click.option(
    "--model-veto",
    type=click.FloatRange(0, 1, max_open=True),
    default=None,
    help="With --model-until-rung: the rung rule does not stop a run that weightcast's model "
    "ranks in this top share at its last decision step (e.g. 0.2; 0: no veto).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the orders.")
@click.option(
    "--trees",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Trees of weightcast's forests in the replay (the live pruner uses 400).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
def replay_command(
    corpus: Path,
    orders: int,
    policies: str,
    prior: tuple[Path, ...],
    grids: str,
    n_train: float | None,
    batch_size: float | None,
    steps: str | None,
    rung_steps: str | None,
    model_until_rung: bool,
    model_veto: float | None,
    seed: int,
    trees: int,
    as_json: bool,
    quiet: bool,
) -> None:
    """Replay seeded random orders of CORPUS's runs as a search with each pruning policy.

    Drives real Optuna studies with the recorded curves (and weight features for weightcast's
    pruner) and prints, per policy, the compute used, the regret of the best kept run, the
    speed-up over no pruning and the speed-up to get within 0.5 points of the best run. Optuna's
    pruners are shown with the best setting of a small grid (listed under the table).
    """
    from weightcast.corpus import CorpusError
    from weightcast.integrations.optuna import format_replay, jsonable, replay

    names = tuple(name_list(policies))
    if prior and "wc-prior" not in names:
        names = (*names, "wc-prior")
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise click.BadParameter(
            f"unknown {unknown}; choose from {', '.join(POLICIES)}", param_hint="--policies"
        )
    grid_names = tuple(name_list(grids))
    bad = [g for g in grid_names if g not in GRIDS]
    if bad or not grid_names:
        raise click.BadParameter(f"unknown {bad}; choose from dense, epoch", param_hint="--grids")
    decision_steps = int_list(steps, "--steps")
    pruner_kwargs: dict[str, object] = {}
    rungs = int_list(rung_steps, "--rung-steps")
    if rungs is not None:
        pruner_kwargs["rung_steps"] = tuple(rungs)
    if model_until_rung:
        pruner_kwargs["model_until_rung"] = True
    if model_veto is not None:
        pruner_kwargs["model_veto"] = model_veto
    say = None if quiet else (lambda msg: click.echo(msg, err=True))
    try:
        result = replay(
            corpus,
            names,
            orders=orders,
            seed=seed,
            grids=grid_names,
            n_train=n_train,
            batch_size=batch_size,
            steps=decision_steps,
            n_estimators=trees,
            prior=list(prior) or None,
            pruner_kwargs=pruner_kwargs or None,
            progress=say,
        )
    except (CorpusError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(jsonable(result), indent=2, allow_nan=False))
    else:
        click.echo(format_replay(result))
