"""A short real collection: the digits preset with a tiny T, trained with run_trial."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from weightcast.corpus import Corpus, collect, run_seed

pytest.importorskip("torch")


def _tiny_digits():  # type: ignore[no-untyped-def]
    from weightcast.search import get_preset

    return dataclasses.replace(
        get_preset("digits"), T=20, eval_every=5, steps=(5, 10, 20), taus=(5,)
    )


def test_real_digits_collection_reads_back(tmp_path: Path) -> None:
    preset = _tiny_digits()
    out = tmp_path / "digits"
    s = collect(preset, 3, out, seed=1, progress=False)
    assert (s.done, s.failed, s.missing) == (3, 0, 0), s.failures
    c = Corpus(out)
    assert c.meta["preset"] == "digits" and (c.T, c.steps, c.taus) == (20, [5, 10, 20], [5])
    runs = c.runs()
    assert runs["seed"].tolist() == [run_seed(1, i) for i in range(3)]
    assert set(runs["status"]) <= {"ok", "diverged"}
    assert ((runs["final_acc"] >= 0) & (runs["final_acc"] <= 1)).all()
    assert (runs["T"] == 20).all() and (runs["eval_cost"] > 0).all()
    assert c.hparams().to_dict("records") == preset.sample(3, 1, "random")

    curves = c.curves()
    assert curves["step"].dtype == np.int32 and curves.groupby("run_id")["step"].max().eq(20).all()
    raw, delta = c.raw_features(), c.delta_features()
    raw_cols, delta_cols = list(raw.columns[2:]), list(delta.columns[3:])
    assert all(re.fullmatch(r"(conv_(first|second|last)|fc\d+)\.raw\.\S+", n) for n in raw_cols)
    assert all(re.fullmatch(r"(conv_(first|second|last)|fc\d+)\.delta\.\S+", n) for n in delta_cols)
    assert "conv_last.raw.all.mean" in raw_cols and "conv_last.delta.all.std" in delta_cols
    assert (raw.dtypes.iloc[2:] == np.float32).all() and raw["t"].dtype == np.int32
    ok = runs.index[runs["status"] == "ok"]
    assert set(c.features(10, 5).index) >= set(ok)
