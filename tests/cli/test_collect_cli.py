"""``weightcast collect`` and ``weightcast corpus-info``, with a fake search (no training)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import weightcast.search
from tests.corpus._fakes import SlowPreset, logged_run
from weightcast.cli import main
from weightcast.corpus import Corpus
from weightcast.corpus.testing import FakePreset, fake_run


@pytest.fixture()
def fake_search(monkeypatch: pytest.MonkeyPatch) -> None:
    presets = {"fake": FakePreset(), "fake-failing": SlowPreset(fail_seeds=(1,))}

    def get_preset(name: str) -> FakePreset:
        if name not in presets:
            raise ValueError(f"unknown preset {name!r}; known presets: {sorted(presets)}")
        return presets[name]

    def run_trial(preset, hparams, seed, data=None):  # type: ignore[no-untyped-def]
        assert data is None
        return (
            logged_run(preset, hparams, seed)
            if isinstance(preset, SlowPreset)
            else (fake_run(preset, hparams, seed))
        )

    monkeypatch.setattr(weightcast.search, "get_preset", get_preset)
    monkeypatch.setattr(weightcast.search, "run_trial", run_trial)


def test_collect_then_corpus_info(tmp_path: Path, fake_search: None) -> None:
    out = tmp_path / "corpus"
    runner = CliRunner()
    res = runner.invoke(main, ["collect", "--preset", "fake", "--runs", "4", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "finished 4 runs" in res.stderr and "final accuracy: best" in res.stderr
    assert len(Corpus(out)) == 4

    again = ["collect", "--preset", "fake", "--runs", "6", "--out", str(out), "--seed", "0"]
    res = runner.invoke(main, again)
    assert res.exit_code == 0 and "finished 2 runs" in res.stderr

    res = runner.invoke(main, ["corpus-info", str(out)])
    assert res.exit_code == 0, res.output
    assert "preset    fake, design random, seed 0" in res.stdout
    assert "runs      6 (" in res.stdout and "final_acc min" in res.stdout
    assert "steps [0, 10, 20, 50], taus [5, 10]" in res.stdout

    res = runner.invoke(main, ["corpus-info", str(out), "--json"])
    info = json.loads(res.stdout)
    assert info["runs"] == 6 and info["T"] == 100 and sum(info["status"].values()) == 6
    assert info["size_bytes"] > 0


def test_collect_errors(tmp_path: Path, fake_search: None) -> None:
    runner = CliRunner()
    out = str(tmp_path / "c")
    res = runner.invoke(main, ["collect", "--preset", "nope", "--runs", "2", "--out", out])
    assert res.exit_code == 2 and "unknown preset 'nope'" in res.output
    assert (
        runner.invoke(main, ["collect", "--preset", "fake", "--runs", "1", "--out", out]).exit_code
        == 0
    )
    res = runner.invoke(
        main, ["collect", "--preset", "fake", "--runs", "2", "--out", out, "--seed", "5"]
    )
    assert res.exit_code == 1 and "another setup" in res.output and "seed: 0 != 5" in res.output
    res = runner.invoke(main, ["collect", "--preset", "fake", "--runs", "0", "--out", out])
    assert res.exit_code == 2
    res = runner.invoke(main, ["corpus-info", str(tmp_path / "missing")])
    assert (
        res.exit_code == 1 and "no corpus at" in res.output and "weightcast collect" in res.output
    )


def test_collect_failed_runs_exit_1(tmp_path: Path, fake_search: None) -> None:
    out = str(tmp_path / "c")
    res = CliRunner().invoke(
        main, ["collect", "--preset", "fake-failing", "--runs", "3", "--out", out]
    )
    assert res.exit_code == 1
    assert "failed run-000001: ValueError: boom at seed 1" in res.stderr
    assert len(Corpus(out)) == 2
