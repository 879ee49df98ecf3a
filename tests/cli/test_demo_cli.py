"""``weightcast demo`` end to end on two trials (the full demo is the README's first command)."""

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
