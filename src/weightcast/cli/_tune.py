"""``weightcast tune`` (a live search with the pruner) and ``weightcast demo`` (the main job)."""

from __future__ import annotations

from pathlib import Path

from weightcast._imports import require
from weightcast.cli._app import main
from weightcast.integrations._names import REPORT_MODES

click = require("click", "cli")

_FEATURES = click.Choice(["all", "weights", "weights+lc", "lc", "none"])


@main.command("tune")
@click.option("--preset", default="digits", show_default=True, help="Search preset.")
@click.option("--trials", "n_trials", default=100, show_default=True, type=click.IntRange(0))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1))
@click.option(
    "--storage",
    default=None,
    help="Optuna storage shared by the workers: an RDB URL (sqlite:///study.db) or "
    "journal:PATH (default: a journal file in a temporary folder).",
)
@click.option("--study-name", default=None, help="Study name (join an existing study).")
@click.option(
    "--features",
    default="all",
    show_default=True,
    type=_FEATURES,
    help="The pruner's features; none = no pruning.",
)
@click.option(
    "--report",
    default="val",
    show_default=True,
    type=click.Choice(REPORT_MODES),
    help="What trials report while training: the validation accuracy every eval_every steps "
    "(val), or nothing but weights and training loss, with one evaluation at the end (loss: "
    "no validation passes to pay for).",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--data", "data_path", default=None, help="Data folder for IDX presets.")
@click.option(
    "--reference",
    default=None,
    type=click.Path(),
    help="A corpus of the same preset and seed, to report the unpruned best.",
)
@click.option(
    "--prior",
    multiple=True,
    type=click.Path(),
    help="A corpus of an earlier search of the same preset: the pruner learns from its finished "
    "runs from the first trial on (features weights or weights+lc). Repeat it for several.",
)
def tune_command(
    preset: str,
    n_trials: int,
    workers: int,
    storage: str | None,
    study_name: str | None,
    features: str,
    report: str,
    seed: int,
    data_path: str | None,
    reference: str | None,
    prior: tuple[str, ...],
) -> None:
    """A live search over PRESET with weightcast's pruner; several workers share one storage."""
    from weightcast.corpus import CorpusError
    from weightcast.tuning import tune

    try:
        summary = tune(
            preset,
            n_trials,
            workers=workers,
            storage=storage,
            study_name=study_name,
            features=features,
            report=report,
            seed=seed,
            data_path=data_path,
            reference=reference,
            prior=prior,
        )
    except (ValueError, FileNotFoundError, CorpusError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(summary.format())


def default_corpus() -> Path:
    """The digits corpus committed with weightcast (``corpora/digits`` of the source tree)."""
    return Path(__file__).resolve().parents[3] / "corpora" / "digits"


def default_priors() -> list[Path]:
    """The other digits searches committed with weightcast (seeds 1-3: not the demo's seed 0)."""
    return [default_corpus().parent / f"digits-seed{i}" for i in (1, 2, 3)]


@main.command("demo")
@click.option("--trials", "n_trials", default=60, show_default=True, type=click.IntRange(1))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1))
@click.option(
    "--out",
    default="weightcast-demo",
    show_default=True,
    type=click.Path(),
    help="Folder for the report.",
)
@click.option(
    "--corpus",
    default=None,
    type=click.Path(),
    help="Recorded digits corpus (default: the one shipped in corpora/digits).",
)
@click.option(
    "--report",
    "report_mode",
    default="loss",
    show_default=True,
    type=click.Choice(REPORT_MODES),
    help="What trials report: nothing but weights and training loss, one evaluation at the end "
    "(loss), or the validation accuracy every eval_every steps (val).",
)
@click.option(
    "--prior/--no-prior",
    "use_prior",
    default=True,
    show_default=True,
    help="Let the pruner learn from the finished runs of the other digits searches shipped in "
    "corpora/ (digits-seed1, -seed2, -seed3) from the first trial on; without them it learns "
    "from the search's own finished trials only.",
)
@click.option("--no-report", is_flag=True, help="Skip the report.")
def demo_command(
    n_trials: int,
    workers: int,
    out: str,
    corpus: str | None,
    report_mode: str,
    use_prior: bool,
    no_report: bool,
) -> None:
    """The main job: a pruned search on the embedded digits data, then the corpus report."""
    from weightcast.tuning import tune

    corpus_path = Path(corpus) if corpus else default_corpus()
    has_corpus = (corpus_path / "corpus.json").is_file()
    prior = [p for p in default_priors() if (p / "corpus.json").is_file()] if use_prior else []
    click.echo(
        f"1/2 a live search of {n_trials} digits configurations with weightcast's pruner"
        + (f" (prior: {len(prior)} earlier searches)" if prior else "")
    )
    summary = tune(
        "digits",
        n_trials,
        workers=workers,
        features="weights+lc" if prior else "all",
        report=report_mode,
        reference=corpus_path if has_corpus else None,
        prior=prior,
    )
    click.echo(summary.format())
    if no_report:
        return
    if not has_corpus:
        click.echo(
            f"2/2 no recorded corpus at {corpus_path}: make one with "
            "`weightcast collect --preset digits --runs 300 --out corpora/digits` and run "
            "`weightcast report corpora/digits --out REPORT`"
        )
        return
    from weightcast.analysis import ReportConfig, build_report
    from weightcast.corpus import Corpus

    tqdm = require("tqdm", "cli").tqdm
    click.echo(f"2/2 the report of the recorded digits corpus ({corpus_path}), quick settings")
    report_dir = Path(out) / "report"
    build_report(
        Corpus(corpus_path),
        report_dir,
        ReportConfig.quick_config(),
        progress=lambda tasks: tqdm(tasks, desc="report", unit="analysis"),
    )
    click.echo(f"report: {report_dir / 'index.html'}")
