"""weightcast evaluate and weightcast report, through click's test runner."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from weightcast.cli import main
from weightcast.corpus.testing import make_synthetic_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(tmp_path_factory.mktemp("cli") / "c", n_runs=30, seed=0)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_evaluate_json(corpus):
    res = run(
        "evaluate",
        corpus,
        "--t",
        "20,50",
        "--sets",
        "lc,weights",
        "--repeats",
        2,
        "--trees",
        10,
        "--json",
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output[res.output.index("{") :])
    rows = {(r["set"], r["t"]): r for r in payload["results"]}
    assert set(rows) == {("lc", 20), ("lc", 50), ("weights", 20), ("weights", 50)}
    for r in rows.values():
        assert r["rmse_mean"] > 0 and r["rmse_std"] >= 0 and "r2_mean" in r and "rho_mean" in r
    assert payload["runs"]["50"]["usable"] + payload["runs"]["50"]["diverged"] == 30


def test_evaluate_table_and_sets(corpus):
    res = run("evaluate", corpus, "--t", 20, "--repeats", 2, "--trees", 10)
    assert res.exit_code == 0, res.output
    assert "weights+lc" in res.output and "held-out RMSE" in res.output
    assert "weights-rel" in run("evaluate", corpus, "--list-sets").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--t", 7), "t=7 was never recorded"),
        (("--t", 20, "--n", 29), "too few runs"),
        (("--t", 20, "--sets", "nope"), "unknown feature set 'nope'"),
        (("--t", "20,x"), "not integers: 20, x"),
    ],
)
def test_evaluate_clear_errors(corpus, args, message):
    res = run("evaluate", corpus, "--trees", 5, "--repeats", 1, *args)
    assert res.exit_code != 0 and message in res.output


def test_missing_corpus(tmp_path):
    for cmd in (("evaluate",), ("report", "--out", tmp_path / "r")):
        res = run(cmd[0], tmp_path / "absent", *cmd[1:])
        assert res.exit_code != 0 and "no corpus at" in res.output


def test_report_quick(corpus, tmp_path):
    res = run("report", corpus, "--out", tmp_path / "r", "--quick", "--trees", 10)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "index.html").exists() and (tmp_path / "r" / "summary.json").exists()
    assert (tmp_path / "r" / "fig3a.png").exists()
