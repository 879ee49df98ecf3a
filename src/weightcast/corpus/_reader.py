"""Reading a corpus: one object, every file read once, tables cached."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from weightcast.corpus._schema import (
    CORPUS_FILE,
    CURVE_FILE,
    DELTA_FILE,
    FEATURE_COLUMN,
    RAW_FILE,
    RUN_FIELDS,
    RUN_FILE,
    RUNS_DIR,
    SCHEMA_VERSION,
    CorpusError,
    parse_key_label,
)

_COLLECT_HINT = "create one with `weightcast collect --preset digits --out {path}`"


class Corpus:
    """A corpus of finished runs on disk, read lazily and cached.

    The run folders are listed when the object is made (``runs/.tmp-*`` folders, runs still
    being written, are ignored); each kind of file is read for all runs at its first use and
    kept. Tables come back as shallow copies, so changing them does not change the corpus.

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> c = Corpus(make_synthetic_corpus(tempfile.mkdtemp() + "/c", n_runs=4, seed=0))
    >>> len(c), c.run_ids[0], c.steps, c.taus
    (4, 'run-000000', [0, 10, 20, 50, 100], [5, 10])
    >>> c.features(20, 10).index.name
    'run_id'
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise CorpusError(f"no corpus at {self.path}; " + _COLLECT_HINT.format(path=self.path))
        meta_file = self.path / CORPUS_FILE
        if not meta_file.is_file():
            raise CorpusError(
                f"{self.path} is not a corpus: it has no {CORPUS_FILE}; "
                + _COLLECT_HINT.format(path=self.path)
            )
        try:
            meta = json.loads(meta_file.read_text())
            version = int(meta["schema_version"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorpusError(
                f"cannot read {meta_file} ({type(exc).__name__}: {exc}); the corpus' metadata is "
                "damaged: restore it, or collect into a new folder"
            ) from exc
        if version > SCHEMA_VERSION:
            raise CorpusError(
                f"the corpus at {self.path} has schema version {version}, newer than this "
                f"weightcast reads ({SCHEMA_VERSION}); upgrade weightcast: "
                "pip install -U weightcast"
            )
        self.meta: dict[str, Any] = meta
        runs = self.path / RUNS_DIR
        names = os.listdir(runs) if runs.is_dir() else []
        self._run_ids = sorted(n for n in names if not n.startswith(".") and (runs / n).is_dir())
        self._cache: dict[str, pd.DataFrame] = {}

    def __repr__(self) -> str:
        return f"Corpus({str(self.path)!r}, preset={self.meta.get('preset')!r}, runs={len(self)})"

    # -- metadata -------------------------------------------------------------------------------
    @property
    def steps(self) -> list[int]:
        """The steps t at which features were recorded."""
        return [int(s) for s in self.meta["steps"]]

    @property
    def taus(self) -> list[int]:
        """The gaps tau of the weight-change features."""
        return [int(s) for s in self.meta["taus"]]

    @property
    def T(self) -> int:  # noqa: N802 - the paper's name
        """The training length of every run, in iterations."""
        return int(self.meta["T"])

    @property
    def run_ids(self) -> list[str]:
        """The ids of the finished runs, sorted."""
        return list(self._run_ids)

    def __len__(self) -> int:
        return len(self._run_ids)

    # -- tables ---------------------------------------------------------------------------------
    def runs(self) -> pd.DataFrame:
        """One row per run (index ``run_id``): index, seed, final_acc, status, diverged_step
        (nullable Int64), wall_time, feature_time, T, eval_cost."""
        self._load_records()
        return self._cache["runs"].copy(deep=False)

    def hparams(self) -> pd.DataFrame:
        """One row per run (index ``run_id``), one column per hyperparameter, raw values."""
        self._load_records()
        return self._cache["hparams"].copy(deep=False)

    def curves(self) -> pd.DataFrame:
        """All learning curves: columns run_id, step (int32), train_loss, val_acc."""
        return self._table("curves", CURVE_FILE).copy(deep=False)

    def curve(self, run_id: str) -> pd.DataFrame:
        """The learning curve of one run: columns step, train_loss, val_acc."""
        self._check_known(run_id)
        curves = self._table("curves", CURVE_FILE)
        one = curves[curves["run_id"] == run_id].drop(columns="run_id")
        return one.reset_index(drop=True)

    def raw_features(self) -> pd.DataFrame:
        """All raw-weight features: columns run_id, t (int32), ``<layer>.raw.*`` (float32)."""
        return self._table("raw", RAW_FILE).copy(deep=False)

    def delta_features(self) -> pd.DataFrame:
        """All weight-change features: columns run_id, t, tau (int32), ``<layer>.delta.*``."""
        return self._table("delta", DELTA_FILE).copy(deep=False)

    def features(self, t: int, tau: int) -> pd.DataFrame:
        """The raw features at step ``t`` and the weight changes over ``(t - tau, t]``.

        Index ``run_id``; raw then delta feature columns (float32). Runs without both at
        ``(t, tau)`` (diverged before ``t``) are absent. A ``(t, tau)`` that was never recorded
        raises :class:`CorpusError` listing what was.
        """
        t, tau = int(t), int(tau)
        raw = self._table("raw", RAW_FILE)
        delta = self._table("delta", DELTA_FILE)
        recorded_pairs = set(zip(delta["t"].tolist(), delta["tau"].tolist(), strict=True))
        on_grid = t in self.steps and tau in self.taus and tau <= t
        if (t, tau) not in recorded_pairs and not on_grid:
            raise CorpusError(
                f"no features recorded at (t={t}, tau={tau}) in {self.path}; recorded steps t: "
                f"{self.steps}, taus: {self.taus} (with tau <= t)"
            )
        r = raw[raw["t"] == t].drop(columns="t").set_index("run_id")
        d = delta[(delta["t"] == t) & (delta["tau"] == tau)].drop(columns=["t", "tau"])
        out = r.join(d.set_index("run_id"), how="inner")
        out.index.name = "run_id"
        return out

    def summary(self) -> dict[str, Any]:
        """A summary of the corpus, as plain values (what ``weightcast corpus-info`` prints).

        Keys: path, preset, schema_version, T, eval_every, steps, taus, design, seed, runs,
        status (count per status), final_acc (count, min, q25, median, q75, max, mean,
        share_under_0_3 over the finite accuracies; None without runs), size_bytes, in_progress
        (``runs/.tmp-*`` folders).
        """
        runs = self.runs()
        acc = runs["final_acc"].to_numpy(dtype="float64")
        acc = acc[np.isfinite(acc)]
        spread: dict[str, float] | None = None
        if acc.size:
            q = np.quantile(acc, [0.0, 0.25, 0.5, 0.75, 1.0])
            spread = {
                "count": int(acc.size),
                "min": float(q[0]),
                "q25": float(q[1]),
                "median": float(q[2]),
                "q75": float(q[3]),
                "max": float(q[4]),
                "mean": float(acc.mean()),
                "share_under_0_3": float(np.mean(acc < 0.3)),
            }
        size = 0
        for dirpath, _, files in os.walk(self.path):
            for f in files:
                try:
                    size += os.path.getsize(os.path.join(dirpath, f))
                except OSError:  # pragma: no cover - removed while walking
                    pass
        runs_dir = self.path / RUNS_DIR
        tmp = (
            [n for n in os.listdir(runs_dir) if n.startswith(".tmp-")] if runs_dir.is_dir() else []
        )
        return {
            "path": str(self.path),
            "preset": self.meta.get("preset"),
            "schema_version": int(self.meta["schema_version"]),
            "T": self.T,
            "eval_every": self.meta.get("eval_every"),
            "steps": self.steps,
            "taus": self.taus,
            "design": self.meta.get("design"),
            "seed": self.meta.get("seed"),
            "runs": len(self),
            "status": {
                str(k): int(v) for k, v in runs["status"].value_counts().sort_index().items()
            },
            "final_acc": spread,
            "size_bytes": size,
            "in_progress": len(tmp),
        }

    # -- loading --------------------------------------------------------------------------------
    def _check_known(self, run_id: str) -> None:
        if run_id not in self._run_ids:
            raise KeyError(f"no run {run_id!r} in {self.path} ({len(self)} runs)")

    def _damaged(self, run_id: str, name: str, exc: BaseException) -> CorpusError:
        folder = self.path / RUNS_DIR / run_id
        what = "missing" if isinstance(exc, FileNotFoundError) else "unreadable"
        return CorpusError(
            f"run {run_id} of {self.path}: {name} is {what} ({type(exc).__name__}: {exc}); "
            f"delete the run folder (rm -r {folder}) and rerun the same `weightcast collect` "
            "command to redo it"
        )

    def _read_each(self, name: str, read: Callable[[Path], Any]) -> list[Any]:
        out = []
        for run_id in self._run_ids:
            file = self.path / RUNS_DIR / run_id / name
            try:
                out.append(read(file))
            except Exception as exc:
                raise self._damaged(run_id, name, exc) from exc
        return out

    def _load_records(self) -> None:
        if "runs" in self._cache:
            return

        def read(file: Path) -> dict[str, Any]:
            record = json.loads(file.read_text())
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            missing = [k for k in (*RUN_FIELDS, "hparams") if k not in record]
            if missing:
                raise ValueError(f"lacks {missing}")
            return record

        records = self._read_each(RUN_FILE, read)
        index = pd.Index(self._run_ids, name="run_id", dtype="str")
        runs = pd.DataFrame(
            {k: [r[k] for r in records] for k in RUN_FIELDS}, index=index, columns=list(RUN_FIELDS)
        )
        runs = runs.astype(
            {
                "index": "int64",
                "seed": "int64",
                "final_acc": "float64",
                "status": "str",
                "diverged_step": "Int64",
                "wall_time": "float64",
                "feature_time": "float64",
                "T": "int64",
                "eval_cost": "float64",
            }
        )
        hparams = pd.DataFrame([r["hparams"] for r in records], index=index)
        self._cache["runs"] = runs
        self._cache["hparams"] = hparams

    def _table(self, key: str, name: str) -> pd.DataFrame:
        if key not in self._cache:
            if name == CURVE_FILE:
                self._cache[key] = self._curve_table()
            else:
                self._cache[key] = self._feature_table(name)
        return self._cache[key]

    def _curve_table(self) -> pd.DataFrame:
        keys = [field.name for field in _empty(CURVE_FILE).schema][1:]
        tables = self._read_each(CURVE_FILE, lambda file: _read_parquet(file, keys))
        labelled = [
            tab.add_column(0, "run_id", pa.array([run_id] * tab.num_rows, pa.string()))
            for run_id, tab in zip(self._run_ids, tables, strict=True)
        ]
        if labelled:
            table = pa.concat_tables(labelled, promote_options="default")
        else:
            table = _empty(CURVE_FILE)
        return table.to_pandas()

    def _feature_table(self, name: str) -> pd.DataFrame:
        """Rows (run_id, t[, tau]) x feature columns, from the per-run feature-per-row files."""
        keys = ("t",) if name == RAW_FILE else ("t", "tau")
        frames = self._read_each(name, lambda file: _read_features(file, keys))
        parts = []
        for run_id, frame in zip(self._run_ids, frames, strict=True):
            frame.insert(0, "run_id", run_id)
            parts.append(frame)
        if not parts:
            return _empty(name).to_pandas()
        out = pd.concat(parts, ignore_index=True, sort=False)
        out["run_id"] = out["run_id"].astype("str")
        for k in keys:
            out[k] = out[k].astype("int32")
        return out


def _read_features(file: Path, keys: tuple[str, ...]) -> pd.DataFrame:
    table = pq.read_table(file)
    if FEATURE_COLUMN not in table.column_names:
        raise ValueError(f"lacks the column {FEATURE_COLUMN!r}")
    names = table.column(FEATURE_COLUMN).to_pylist()
    labels = [c for c in table.column_names if c != FEATURE_COLUMN]
    key_rows = [parse_key_label(keys, label) for label in labels]
    if labels:
        values = np.stack([table.column(c).to_numpy().astype("float32") for c in labels])
    else:
        values = np.empty((0, len(names)), dtype="float32")
    frame = pd.DataFrame(values, columns=names)
    for i, k in enumerate(keys):
        frame.insert(i, k, np.array([row[i] for row in key_rows], dtype="int32"))
    return frame


def _read_parquet(file: Path, keys: list[str]) -> pa.Table:
    table = pq.read_table(file)
    missing = [k for k in keys if k not in table.column_names]
    if missing:
        raise ValueError(f"lacks the column(s) {missing}")
    return table


def _empty(name: str) -> pa.Table:
    keys = {
        CURVE_FILE: [("step", pa.int32()), ("train_loss", pa.float64()), ("val_acc", pa.float64())],
        RAW_FILE: [("t", pa.int32())],
        DELTA_FILE: [("t", pa.int32()), ("tau", pa.int32())],
    }[name]
    return pa.schema([("run_id", pa.string()), *keys]).empty_table()
