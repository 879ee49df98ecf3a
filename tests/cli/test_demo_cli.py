"""``weightcast demo`` end to end on two trials, and ``weightcast tune --prior``'s errors."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("optuna")

from weightcast.cli import main  # noqa: E402
from weightcast.cli._tune import default_corpus, default_priors  # noqa: E402


@pytest.mark.skipif(
    not all((p / "corpus.json").is_file() for p in default_priors()),
    reason="the shipped corpora are not in this checkout",
)
def test_demo_learns_from_the_shipped_searches_and_reports_against_corpus() -> None:
    args = ["demo", "--trials", "2", "--workers", "1", "--no-report"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "(prior: 3 earlier searches)" in res.output
    assert "2 trials of preset 'digits'" in res.output
    assert "corpora/digits): regret" in res.output  # the unpruned reference
    assert default_corpus() not in default_priors()  # the demo's own search is never its prior
    res = CliRunner().invoke(main, [*args, "--no-prior"])
    assert res.exit_code == 0, res.output
    assert "prior:" not in res.output


def test_tune_with_a_missing_prior_fails_with_a_hint(tmp_path) -> None:
    args = ["tune", "--trials", "1", "--features", "weights", "--prior", str(tmp_path / "nope")]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1
    assert "no corpus at" in res.output and "weightcast collect" in res.output
    res = CliRunner().invoke(main, ["tune", "--trials", "1", "--prior", str(tmp_path)])
    assert res.exit_code == 1 and "prior needs features" in res.output  # default features: all
