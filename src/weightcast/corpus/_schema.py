"""The on-disk layout of a corpus (schema version 1) and the small file helpers it needs.

Layout (see ``docs/design.md``)::

    CORPUS/
      corpus.json          {"schema_version": 1, "preset", "T", "eval_every", "steps", "taus",
                            "design", "seed", ...}
      runs/<run_id>/       run.json, curve.parquet, raw.parquet, delta.parquet
                           (feature files: one row per feature, one column per t or (t, tau))
      runs/.tmp-*          a run being written (ignored by the reader)
      .locks/<run_id>.lock a run being computed by a collector (pid and hostname inside)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

SCHEMA_VERSION = 1
"""The corpus schema this version of weightcast writes, and the newest it reads."""

CORPUS_FILE = "corpus.json"
RUNS_DIR = "runs"
LOCKS_DIR = ".locks"
TMP_PREFIX = ".tmp-"
RUN_FILE = "run.json"
CURVE_FILE = "curve.parquet"
RAW_FILE = "raw.parquet"
DELTA_FILE = "delta.parquet"
RUN_FILES = (RUN_FILE, CURVE_FILE, RAW_FILE, DELTA_FILE)
FEATURE_COLUMN = "feature"
"""raw.parquet and delta.parquet hold one row per feature: this column names it, and each other
column holds one recorded key, labelled by :func:`key_label` (``t=50``, ``t=50,tau=10``)."""


def key_label(keys: tuple[str, ...], values: Any) -> str:
    """The column label of one recorded key in raw.parquet / delta.parquet.

    >>> key_label(("t", "tau"), (50, 10))
    't=50,tau=10'
    """
    return ",".join(f"{k}={int(v)}" for k, v in zip(keys, values, strict=True))


def parse_key_label(keys: tuple[str, ...], label: str) -> tuple[int, ...]:
    """The inverse of :func:`key_label`; a ValueError for a label of another shape.

    >>> parse_key_label(("t", "tau"), "t=50,tau=10")
    (50, 10)
    """
    parts = label.split(",")
    if len(parts) != len(keys):
        raise ValueError(
            f"a feature column is labelled like {key_label(keys, [0] * len(keys))}, got {label!r}"
        )
    out = []
    for k, part in zip(keys, parts, strict=True):
        name, _, value = part.partition("=")
        if name != k or not value.lstrip("-").isdigit():
            raise ValueError(
                f"a feature column is labelled like {key_label(keys, [0] * len(keys))}, got {label!r}"
            )
        out.append(int(value))
    return tuple(out)


IDENTITY_KEYS = ("preset", "T", "eval_every", "steps", "taus", "design", "seed")
"""Keys of corpus.json that define what a corpus is: a corpus refuses runs of another setup."""

RUN_FIELDS = (
    "index",
    "seed",
    "final_acc",
    "status",
    "diverged_step",
    "wall_time",
    "feature_time",
    "T",
    "eval_cost",
)
"""The scalar fields of run.json, in the column order of ``Corpus.runs()``."""

STATUSES = ("ok", "diverged")


class CorpusError(ValueError):
    """A corpus on disk is missing, damaged, or does not match what was asked of it."""


class RunResult(Protocol):
    """What :func:`write_run` needs of a run: the fields of ``weightcast.search.TrialResult``."""

    hparams: dict[str, Any]
    seed: int
    final_acc: float
    status: str
    diverged_step: int | None
    wall_time: float
    feature_time: float
    T: int
    eval_cost: float
    curve: pd.DataFrame
    raw: pd.DataFrame
    delta: pd.DataFrame


def run_id_for(index: int) -> str:
    """The run id of the run at ``index`` of a collection's seeded sample.

    >>> run_id_for(7)
    'run-000007'
    """
    if index < 0:
        raise ValueError(f"a run index is >= 0, got {index}")
    return f"run-{index:06d}"


def check_run_id(run_id: str) -> str:
    """Reject run ids that are not a plain folder name (``/``, leading dot, empty)."""
    if (
        not isinstance(run_id, str)
        or not run_id
        or run_id.startswith(".")
        or "/" in run_id
        or os.sep in run_id
    ):
        raise ValueError(f"a run id is a plain folder name not starting with '.', got {run_id!r}")
    return run_id


def normalize_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Check the identity keys of a corpus' metadata and bring them to plain JSON types."""
    missing = [k for k in IDENTITY_KEYS if k not in meta]
    if missing:
        raise CorpusError(
            f"corpus metadata lacks {missing}; it needs {list(IDENTITY_KEYS)} "
            "(preset name, T, eval_every, steps, taus, design, seed)"
        )
    out = {k: to_jsonable(v) for k, v in meta.items() if k != "schema_version"}
    try:
        out["T"] = int(meta["T"])
        out["eval_every"] = int(meta["eval_every"])
        out["seed"] = int(meta["seed"])
        out["steps"] = [int(s) for s in meta["steps"]]
        out["taus"] = [int(s) for s in meta["taus"]]
    except (TypeError, ValueError) as exc:
        raise CorpusError(
            f"corpus metadata: T, eval_every and seed are integers and steps, taus lists of "
            f"integers ({exc})"
        ) from exc
    out["preset"] = str(meta["preset"])
    out["design"] = str(meta["design"])
    return {"schema_version": SCHEMA_VERSION, **out}


def identity_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The identity keys on which two corpus metadata differ, as ``key: old != new`` lines."""
    return [
        f"{k}: {old.get(k)!r} != {new.get(k)!r}" for k in IDENTITY_KEYS if old.get(k) != new.get(k)
    ]


def to_jsonable(value: Any) -> Any:
    """Numpy scalars/arrays, tuples and paths to plain JSON types (NaN stays a float)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def float_or_nan(value: Any) -> float:
    """``float(value)``, with None as NaN."""
    return math.nan if value is None else float(value)


def write_bytes_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and fsync it."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def dump_json(obj: Any) -> bytes:
    """JSON bytes, indented, keys in insertion order (NaN written as ``NaN``, as Python reads it)."""
    return (json.dumps(to_jsonable(obj), indent=2) + "\n").encode()


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename inside it is durable (a no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platform without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
