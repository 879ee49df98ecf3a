"""The corpus schema: writer/reader round trip, idempotence, and the reader's errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from weightcast.corpus import (
    SCHEMA_VERSION,
    Corpus,
    CorpusError,
    create_corpus,
    run_id_for,
    write_run,
)
from weightcast.corpus.testing import (
    SyntheticResult,
    make_synthetic_corpus,
    synthetic_final_acc,
)

META = {
    "preset": "digits",
    "T": 100,
    "eval_every": 50,
    "steps": [0, 10],
    "taus": [5, 10],
    "design": "random",
    "seed": 3,
}


def _result(seed: int = 7, diverged_step: int | None = None) -> SyntheticResult:
    raw = pd.DataFrame(
        {"t": [0, 10], "conv_last.raw.all.mean": [0.25, 0.5], "fc1.raw.all.std": [1.5, -2.0]}
    )
    delta = pd.DataFrame(
        {
            "t": [10, 10],
            "tau": [5, 10],
            "conv_last.delta.all.std": [0.125, 0.75],
            "fc1.delta.ks_in.max": [3.0, 4.0],
        }
    )
    curve = pd.DataFrame(
        {"step": [0, 50, 100], "train_loss": [2.3, 1.1, math.inf], "val_acc": [0.1, 0.5, 0.8]}
    )
    return SyntheticResult(
        hparams={"lr": np.float64(0.01), "activation": "relu", "batch_size": np.int64(50)},
        seed=seed,
        final_acc=0.8,
        status="ok" if diverged_step is None else "diverged",
        diverged_step=diverged_step,
        wall_time=12.5,
        feature_time=0.5,
        T=100,
        eval_cost=1000 / 150,
        curve=curve,
        raw=raw,
        delta=delta,
    )


@pytest.fixture()
def corpus_path(tmp_path: Path) -> Path:
    return create_corpus(tmp_path / "c", META)


def test_create_corpus_writes_meta_and_is_idempotent(tmp_path: Path) -> None:
    path = create_corpus(tmp_path / "c", {**META, "n_runs": 10})
    meta = json.loads((path / "corpus.json").read_text())
    assert meta["schema_version"] == SCHEMA_VERSION == 1
    assert {k: meta[k] for k in META} == META
    assert (path / "runs").is_dir()
    assert create_corpus(path, {**META, "n_runs": 300, "steps": (0, 10)}) == path
    assert json.loads((path / "corpus.json").read_text())["n_runs"] == 10  # kept
    assert not [p for p in path.iterdir() if p.name.startswith(".tmp")]


def test_create_corpus_refuses_other_setup(corpus_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"T: 100 != 200.*design: 'random' != 'one-at-a-time'"):
        create_corpus(corpus_path, {**META, "T": 200, "design": "one-at-a-time"})
    with pytest.raises(CorpusError, match="lacks"):
        create_corpus(corpus_path.parent / "d", {"preset": "digits"})


def test_round_trip_exact_values_and_dtypes(corpus_path: Path) -> None:
    folder = write_run(corpus_path, "run-000004", 4, _result(diverged_step=None))
    write_run(corpus_path, "run-000001", 1, _result(seed=9, diverged_step=10))
    assert folder == corpus_path / "runs" / "run-000004"
    assert sorted(p.name for p in folder.iterdir()) == [
        "curve.parquet",
        "delta.parquet",
        "raw.parquet",
        "run.json",
    ]
    c = Corpus(corpus_path)
    assert (len(c), c.run_ids, c.T, c.steps, c.taus) == (
        2,
        ["run-000001", "run-000004"],
        100,
        [0, 10],
        [5, 10],
    )
    assert c.meta["preset"] == "digits"

    runs = c.runs()
    assert runs.index.name == "run_id"
    assert list(runs.columns) == [
        "index",
        "seed",
        "final_acc",
        "status",
        "diverged_step",
        "wall_time",
        "feature_time",
        "T",
        "eval_cost",
    ]
    assert runs.loc["run-000004", "index"] == 4
    assert runs.loc["run-000001", "seed"] == 9
    assert runs["status"].tolist() == ["diverged", "ok"]
    assert runs["diverged_step"].dtype == "Int64"
    assert runs.loc["run-000001", "diverged_step"] == 10
    assert pd.isna(runs.loc["run-000004", "diverged_step"])
    assert runs["final_acc"].tolist() == [0.8, 0.8]
    assert runs["eval_cost"].iloc[0] == 1000 / 150
    assert runs["wall_time"].dtype == np.float64 and runs["T"].dtype == np.int64

    hp = c.hparams()
    assert hp.loc["run-000004"].to_dict() == {"lr": 0.01, "activation": "relu", "batch_size": 50}

    curves = c.curves()
    assert list(curves.columns) == ["run_id", "step", "train_loss", "val_acc"]
    assert curves["step"].dtype == np.int32 and curves["train_loss"].dtype == np.float64
    one = c.curve("run-000004")
    assert list(one.columns) == ["step", "train_loss", "val_acc"]
    assert one["step"].tolist() == [0, 50, 100]
    assert one["train_loss"].tolist()[:2] == [2.3, 1.1] and math.isinf(one["train_loss"].iloc[2])
    with pytest.raises(KeyError, match="run-000099"):
        c.curve("run-000099")

    raw = c.raw_features()
    assert list(raw.columns) == ["run_id", "t", "conv_last.raw.all.mean", "fc1.raw.all.std"]
    assert raw["t"].dtype == np.int32 and raw["fc1.raw.all.std"].dtype == np.float32
    assert raw["conv_last.raw.all.mean"].tolist() == [0.25, 0.5, 0.25, 0.5]
    delta = c.delta_features()
    assert list(delta.columns[:3]) == ["run_id", "t", "tau"]
    assert delta["tau"].dtype == np.int32 and delta["conv_last.delta.all.std"].dtype == np.float32

    f = c.features(10, 5)
    assert f.index.name == "run_id" and f.index.tolist() == ["run-000001", "run-000004"]
    assert list(f.columns) == [
        "conv_last.raw.all.mean",
        "fc1.raw.all.std",
        "conv_last.delta.all.std",
        "fc1.delta.ks_in.max",
    ]
    assert f.loc["run-000004"].tolist() == [0.5, -2.0, 0.125, 3.0]
    assert (f.dtypes == np.float32).all()
    assert c.features(10, 10).loc["run-000001", "conv_last.delta.all.std"] == np.float32(0.75)


def test_tables_are_cached_and_copies(corpus_path: Path) -> None:
    write_run(corpus_path, "run-000000", 0, _result())
    c = Corpus(corpus_path)
    c.curves()
    raw = c.raw_features()
    raw["t"] = 99
    raw.loc[0, "conv_last.raw.all.mean"] = -1.0
    assert c.raw_features()["t"].tolist() == [0, 10]
    assert c.raw_features()["conv_last.raw.all.mean"].iloc[0] == 0.25
    # read once: removing the files does not matter after the first read
    for f in (corpus_path / "runs" / "run-000000").iterdir():
        f.unlink()
    assert len(c.raw_features()) == 2 and len(c.curves()) == 3


def test_write_run_twice_gives_one_run(corpus_path: Path) -> None:
    first = write_run(corpus_path, "run-000000", 0, _result(seed=1))
    second = write_run(corpus_path, "run-000000", 0, _result(seed=2))
    assert first == second
    assert [p.name for p in (corpus_path / "runs").iterdir()] == ["run-000000"]
    assert Corpus(corpus_path).runs()["seed"].tolist() == [1]


def test_write_run_needs_a_corpus_and_a_plain_id(tmp_path: Path, corpus_path: Path) -> None:
    with pytest.raises(CorpusError, match="no corpus"):
        write_run(tmp_path / "nothing", "run-000000", 0, _result())
    with pytest.raises(ValueError, match="plain folder name"):
        write_run(corpus_path, ".tmp-x", 0, _result())
    bad = _result()
    bad.raw = bad.raw.rename(columns={"fc1.raw.all.std": "fc1.all.std"})
    with pytest.raises(ValueError, match="fc1.all.std"):
        write_run(corpus_path, "run-000000", 0, bad)
    assert list((corpus_path / "runs").iterdir()) == []  # nothing half-written


def test_reader_ignores_tmp_folders(corpus_path: Path) -> None:
    write_run(corpus_path, "run-000000", 0, _result())
    (corpus_path / "runs" / ".tmp-run-000001-123-abcd").mkdir()
    c = Corpus(corpus_path)
    assert c.run_ids == ["run-000000"]
    assert c.summary()["in_progress"] == 1


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"no corpus at .*weightcast collect --preset digits"):
        Corpus(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no corpus.json"):
        Corpus(tmp_path / "empty")


def test_unreadable_meta_and_newer_schema(corpus_path: Path) -> None:
    meta_file = corpus_path / "corpus.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(CorpusError, match="schema version 2, newer.*upgrade weightcast"):
        Corpus(corpus_path)
    meta_file.write_text("{not json")
    with pytest.raises(CorpusError, match="cannot read"):
        Corpus(corpus_path)


@pytest.mark.parametrize("name", ["run.json", "curve.parquet", "raw.parquet", "delta.parquet"])
@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_damaged_run_file_names_run_and_file(corpus_path: Path, name: str, damage: str) -> None:
    write_run(corpus_path, "run-000000", 0, _result())
    write_run(corpus_path, "run-000001", 1, _result())
    file = corpus_path / "runs" / "run-000001" / name
    if damage == "missing":
        file.unlink()
    else:
        file.write_bytes(file.read_bytes()[: len(file.read_bytes()) // 2])
    c = Corpus(corpus_path)
    read = {
        "run.json": c.runs,
        "curve.parquet": c.curves,
        "raw.parquet": c.raw_features,
        "delta.parquet": c.delta_features,
    }[name]
    with pytest.raises(CorpusError) as info:
        read()
    msg = str(info.value)
    assert "run-000001" in msg and name in msg and damage.replace("corrupt", "unreadable") in msg
    assert "rm -r" in msg and "weightcast collect" in msg


def test_unknown_t_tau_lists_what_was_recorded(corpus_path: Path) -> None:
    write_run(corpus_path, "run-000000", 0, _result())
    c = Corpus(corpus_path)
    with pytest.raises(CorpusError, match=r"t=7, tau=5.*steps t: \[0, 10\], taus: \[5, 10\]"):
        c.features(7, 5)
    with pytest.raises(CorpusError, match="tau=3"):
        c.features(10, 3)


def test_empty_corpus_reads_as_empty_tables(corpus_path: Path) -> None:
    c = Corpus(corpus_path)
    assert len(c) == 0 and c.runs().empty and c.hparams().empty
    assert list(c.delta_features().columns) == ["run_id", "t", "tau"]
    assert c.features(10, 5).empty
    assert c.summary()["final_acc"] is None


def test_synthetic_corpus_structure(tmp_path: Path) -> None:
    c = Corpus(make_synthetic_corpus(tmp_path / "s", n_runs=30, seed=2, noise=0.0))
    runs, hp = c.runs(), c.hparams()
    assert len(c) == 30 and set(runs["status"]) == {"ok", "diverged"}
    for run_id, row in runs.iterrows():
        assert row["final_acc"] == pytest.approx(
            synthetic_final_acc(hp.loc[run_id].to_dict(), row["status"])
        )
    diverged = runs[runs["status"] == "diverged"]
    raw = c.raw_features()
    for run_id, row in diverged.iterrows():
        assert raw.loc[raw["run_id"] == run_id, "t"].max() < row["diverged_step"]
    f = c.features(50, 10)
    assert not set(f.index) & set(diverged.index[diverged["diverged_step"] <= 50])
    ok = runs.loc[f.index]
    ok = ok[ok["status"] == "ok"]
    q = (ok["final_acc"] - 0.1) / 0.89
    assert np.allclose(f.loc[ok.index, "conv_last.delta.all.std"], q * 10 / 200, atol=1e-6)
    # prefix-stable: the first runs of a bigger corpus are the same runs
    big = Corpus(make_synthetic_corpus(tmp_path / "b", n_runs=35, seed=2, noise=0.0))
    pd.testing.assert_frame_equal(big.runs().iloc[:30], runs)
    assert run_id_for(29) == c.run_ids[-1]
