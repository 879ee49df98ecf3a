"""``weightcast replay`` through click's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from weightcast.cli import main
from weightcast.corpus.testing import make_synthetic_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_corpus(tmp_path_factory.mktemp("cli") / "c", n_runs=12, seed=0)


def test_replay_json(corpus: Path) -> None:
    args = ["replay", str(corpus), "--orders", "2", "--policies", "sha,wc-lc", "--grids", "dense"]
    res = CliRunner().invoke(main, [*args, "--json", "--quiet", "--trees", "10"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    policies = out["grids"]["dense"]["policies"]
    assert list(policies) == ["none", "sha", "wc-lc"]
    assert policies["none"]["speedup_mean"] == 1.0
    assert out["orders"] == 2 and out["n_estimators"] == 10
    assert [c["setting"]["min_resource"] for c in policies["sha"]["candidates"]] == [
        2,
        4,
        10,
        20,
        40,
    ]
    for row in policies.values():
        assert {"compute_mean", "compute_std", "regret_mean", "speedup_to_reach_mean"} <= set(row)


def test_replay_table(corpus: Path) -> None:
    res = CliRunner().invoke(
        main,
        [
            "replay",
            str(corpus),
            "--orders",
            "1",
            "--policies",
            "median",
            "--grids",
            "epoch",
            "--n-train",
            "1000",
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "once per epoch (n_train=1000.0)" in res.output
    assert "median grid:" in res.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--policies", "asha"], "unknown ['asha']"),
        (["--grids", "hourly"], "unknown ['hourly']"),
        (["--grids", "epoch"], "n_train"),
        (["--orders", "0"], "--orders"),
    ],
)
def test_replay_errors(corpus: Path, args: list[str], needle: str) -> None:
    res = CliRunner().invoke(main, ["replay", str(corpus), "--quiet", *args])
    assert res.exit_code != 0
    assert needle in res.output


def test_replay_missing_corpus(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["replay", str(tmp_path / "nope"), "--quiet"])
    assert res.exit_code == 1
    assert "Error" in res.output


def test_replay_with_a_prior_adds_wc_prior(corpus: Path, tmp_path: Path) -> None:
    prior = make_synthetic_corpus(tmp_path / "prior", n_runs=8, seed=1)
    args = ["replay", str(corpus), "--orders", "1", "--policies", "sha-loss,wc-free"]
    res = CliRunner().invoke(
        main, [*args, "--grids", "dense", "--prior", str(prior), "--trees", "10", "--quiet"]
    )
    assert res.exit_code == 0, res.output
    assert "wc-prior" in res.output and "wc-free" in res.output and "sha-loss" in res.output
    assert "vs Optuna" in res.output  # the compute-ratio column
    two = [*args, "--grids", "dense", "--prior", str(prior), "--prior", str(prior), "--json"]
    res = CliRunner().invoke(main, [*two, "--trees", "10", "--quiet"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["prior"] == f"{prior},{prior}"
    assert out["grids"]["dense"]["policies"]["wc-prior"]["setting"]["prior_runs"] == 16
    no_prior = ["replay", str(corpus), "--orders", "1", "--policies", "wc-prior", "--quiet"]
    res = CliRunner().invoke(main, no_prior)
    assert res.exit_code == 1 and "needs a prior corpus" in res.output


def test_replay_rung_steps_and_model_until_rung_reach_the_pruner(corpus: Path) -> None:
    args = ["replay", str(corpus), "--orders", "1", "--policies", "wc-free", "--grids", "dense"]
    extra = ["--steps", "10", "--rung-steps", "10,50,100", "--model-until-rung"]
    extra += ["--model-veto", "0.25"]
    res = CliRunner().invoke(main, [*args, *extra, "--json", "--quiet", "--trees", "10"])
    assert res.exit_code == 0, res.output
    setting = json.loads(res.output)["grids"]["dense"]["policies"]["wc-free"]["setting"]
    assert setting["steps"] == [10] and setting["rung_steps"] == [10, 50, 100]
    assert setting["model_until_rung"] is True and setting["model_veto"] == 0.25
    res = CliRunner().invoke(main, [*args, "--model-veto", "1.5", "--quiet"])
    assert res.exit_code == 2 and "--model-veto" in res.output
    res = CliRunner().invoke(main, [*args, "--rung-steps", "10,x", "--quiet"])
    assert res.exit_code != 0 and "not integers" in res.output
