"""Writing a corpus: its metadata once, then one folder per finished run, atomically."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Mapping
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
    RUN_FILE,
    RUNS_DIR,
    STATUSES,
    TMP_PREFIX,
    CorpusError,
    RunResult,
    check_run_id,
    dump_json,
    float_or_nan,
    fsync_dir,
    identity_diff,
    key_label,
    normalize_meta,
    to_jsonable,
    write_bytes_synced,
)


def create_corpus(path: str | os.PathLike[str], meta: Mapping[str, Any]) -> Path:
    """Create the corpus folder ``path`` with its ``corpus.json``, or check an existing one.

    ``meta`` needs ``preset``, ``T``, ``eval_every``, ``steps``, ``taus``, ``design`` and ``seed``;
    other keys are stored as they are. Calling it again with the same identity keys is a no-op
    (the stored corpus.json is kept); an existing corpus whose identity keys differ raises
    :class:`CorpusError` naming the differences. corpus.json is written atomically.

    >>> import tempfile
    >>> meta = dict(preset="digits", T=100, eval_every=10, steps=[0, 10], taus=[5],
    ...             design="random", seed=0)
    >>> p = create_corpus(tempfile.mkdtemp() + "/c", meta)
    >>> create_corpus(p, meta) == p
    True
    """
    root = Path(path)
    new = normalize_meta(meta)
    meta_file = root / CORPUS_FILE
    if meta_file.exists():
        _check_same(root, meta_file, new)
    else:
        (root / RUNS_DIR).mkdir(parents=True, exist_ok=True)
        tmp = root / f"{TMP_PREFIX}{CORPUS_FILE}-{os.getpid()}-{secrets.token_hex(4)}"
        write_bytes_synced(tmp, dump_json(new))
        try:
            # link() refuses to replace: of two processes creating one corpus, one wins and
            # the other checks against the winner's metadata.
            os.link(tmp, meta_file)
        except FileExistsError:
            _check_same(root, meta_file, new)
        except OSError:  # pragma: no cover - filesystem without hard links
            os.replace(tmp, meta_file)
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(root)
    (root / RUNS_DIR).mkdir(exist_ok=True)
    return root


def _check_same(root: Path, meta_file: Path, new: Mapping[str, Any]) -> None:
    try:
        old = json.loads(meta_file.read_text())
    except (OSError, ValueError) as exc:
        raise CorpusError(f"cannot read {meta_file}: {exc}") from exc
    diff = identity_diff(old, new)
    if diff:
        raise CorpusError(
            f"the corpus at {root} was collected with another setup ("
            + "; ".join(diff)
            + "); choose another --out folder, or rerun with the corpus' own settings"
        )


def write_run(path: str | os.PathLike[str], run_id: str, index: int, result: RunResult) -> Path:
    """Write one finished run into the corpus at ``path``; return its folder ``runs/<run_id>``.

    The files (run.json, curve.parquet, raw.parquet, delta.parquet; features as float32, ``t``
    and ``tau`` as int32, ``step`` as int32) are written and fsynced into
    ``runs/.tmp-<run_id>-<pid>-<random>``, which is then renamed to ``runs/<run_id>``: a run
    appears whole or not at all. If ``runs/<run_id>`` exists already, nothing is written and the
    existing folder is returned, so a run is never duplicated.

    ``result`` is a ``weightcast.search.TrialResult`` or any object with its fields.

    >>> import tempfile
    >>> from weightcast.corpus.testing import synthetic_result
    >>> meta = dict(preset="digits", T=100, eval_every=10, steps=[0, 10], taus=[5],
    ...             design="random", seed=0)
    >>> p = create_corpus(tempfile.mkdtemp() + "/c", meta)
    >>> write_run(p, "run-000000", 0, synthetic_result(steps=[0, 10], taus=[5], T=100)).name
    'run-000000'
    """
    root = Path(path)
    check_run_id(run_id)
    if not (root / CORPUS_FILE).is_file():
        raise CorpusError(f"no corpus at {root} (no {CORPUS_FILE}); create it with create_corpus")
    runs = root / RUNS_DIR
    runs.mkdir(exist_ok=True)
    target = runs / run_id
    if target.exists():
        return target
    record = _run_record(run_id, index, result)
    tables = {
        CURVE_FILE: _curve_table(result.curve),
        RAW_FILE: _feature_table(result.raw, ("t",), ".raw.", "raw"),
        DELTA_FILE: _feature_table(result.delta, ("t", "tau"), ".delta.", "delta"),
    }
    tmp = runs / f"{TMP_PREFIX}{run_id}-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        write_bytes_synced(tmp / RUN_FILE, dump_json(record))
        for name, table in tables.items():
            with open(tmp / name, "wb") as f:
                pq.write_table(table, f)
                f.flush()
                os.fsync(f.fileno())
        fsync_dir(tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another writer won the race
            return target
        fsync_dir(runs)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _run_record(run_id: str, index: int, result: RunResult) -> dict[str, Any]:
    if result.status not in STATUSES:
        raise ValueError(f"a run's status is one of {STATUSES}, got {result.status!r}")
    diverged = result.diverged_step
    return {
        "run_id": run_id,
        "index": int(index),
        "seed": int(result.seed),
        "hparams": to_jsonable(dict(result.hparams)),
        "final_acc": float_or_nan(result.final_acc),
        "status": str(result.status),
        "diverged_step": None if diverged is None else int(diverged),
        "wall_time": float_or_nan(result.wall_time),
        "feature_time": float_or_nan(result.feature_time),
        "T": int(result.T),
        "eval_cost": float_or_nan(result.eval_cost),
    }


def _curve_table(curve: pd.DataFrame) -> pa.Table:
    missing = {"step", "train_loss", "val_acc"} - set(curve.columns)
    if missing:
        raise ValueError(f"a run's curve needs columns step, train_loss, val_acc; lacks {missing}")
    return pa.table(
        {
            "step": pa.array(curve["step"].to_numpy(dtype="int64"), pa.int32()),
            "train_loss": pa.array(curve["train_loss"].to_numpy(dtype="float64"), pa.float64()),
            "val_acc": pa.array(curve["val_acc"].to_numpy(dtype="float64"), pa.float64()),
        }
    )


def _feature_table(frame: pd.DataFrame, keys: tuple[str, ...], marker: str, kind: str) -> pa.Table:
    """One row per feature, one float32 column per recorded key (``t=50`` or ``t=50,tau=10``).

    A run has ~10-30 recorded keys but ~800 features per kind: stored this way round, parquet
    keeps one small column chunk per key instead of one (with its ~300-byte footer entry) per
    feature, which makes a run's files about six times smaller.
    """
    if frame is None:
        frame = pd.DataFrame()
    missing = [k for k in keys if k not in frame.columns]
    if missing and len(frame):
        raise ValueError(f"a run's {kind} features need columns {list(keys)}; lack {missing}")
    names = [c for c in frame.columns if c not in keys]
    for name in names:
        if not isinstance(name, str) or marker not in name:
            raise ValueError(
                f"{kind} feature columns are named '<layer>{marker}<feature>', got {name!r}"
            )
    columns: dict[str, pa.Array] = {FEATURE_COLUMN: pa.array(names, pa.string())}
    values = frame[names].to_numpy(dtype="float32") if names else np.empty((len(frame), 0))
    key_rows = frame[list(keys)].to_numpy(dtype="int64") if len(frame) else np.empty((0, 0))
    for row, key in zip(values, key_rows, strict=True):
        label = key_label(keys, key)
        if label in columns:
            raise ValueError(f"a run's {kind} features repeat the key {label}")
        columns[label] = pa.array(row, pa.float32())
    return pa.table(columns)
