"""Feature sets: which named features a predictor sees.

A feature set is a union of *blocks* of columns, recognised by name alone (the names of
``shared/spec/features.md``), so the same selection works on a corpus, on a table built from
feature dicts stored elsewhere (an Optuna trial's attributes), or on any DataFrame of named
features.

Blocks:

- ``raw``: ``<layer>.raw.<feature>``, the features of W(t);
- ``delta``: ``<layer>.delta.<feature>``, the features of W(t) - W(t - tau);
- ``lc``: ``lc.train_loss@<step>`` and ``lc.val_acc@<step>``, the learning curve up to t;
- ``hp``: ``hp.<name>`` and ``hp.<name>=<value>``, the run's hyperparameters;
- ``rel``: ``<layer>.rel.<name>``, relative update sizes derived from ``raw`` and ``delta`` by
  :func:`relative_update_features` (beyond the paper);
- ``raw-inv`` / ``delta-inv``: the raw and delta features that do not change when the layer's
  weights are multiplied by a constant: shape statistics (``skew``, ``kurt``, ``entropy``) and
  Kolmogorov-Smirnov distances (``ks_in.*``, ``ks_out.*``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

__all__ = [
    "FEATURE_SETS",
    "feature_columns",
    "feature_kind",
    "feature_layer",
    "relative_update_features",
]

#: name -> one-line description of every feature set :func:`assemble` knows.
FEATURE_SETS: Mapping[str, str] = {
    "lc": "learning curve up to t: training loss and validation accuracy (the paper's baseline)",
    "weights": "weight features of W(t) and of W(t) - W(t - tau), every layer (the paper's)",
    "weights-raw": "weight features of W(t) only",
    "weights-delta": "weight features of the change W(t) - W(t - tau) only",
    "hp": "the run's hyperparameters (numeric, log10 where log-scaled, categorical one-hot)",
    "weights+lc": "weight features and learning curve",
    "all": "weight features, learning curve and hyperparameters",
    "weights+hp": "weight features and hyperparameters (beyond the paper)",
    "lc+hp": "learning curve and hyperparameters (beyond the paper)",
    "weights-rel": "relative update size per layer, |dW|/|W| from the spread of delta over raw "
    "(a handful of scale-free numbers per layer; beyond the paper)",
    "scale-free": "weights-rel plus every raw/delta feature invariant to rescaling the layer "
    "(skew, kurtosis, entropy, KS distances; beyond the paper)",
    "weights-rel+lc": "relative update sizes and learning curve (beyond the paper)",
}

_BLOCKS: dict[str, tuple[str, ...]] = {
    "lc": ("lc",),
    "weights": ("raw", "delta"),
    "weights-raw": ("raw",),
    "weights-delta": ("delta",),
    "hp": ("hp",),
    "weights+lc": ("raw", "delta", "lc"),
    "all": ("raw", "delta", "lc", "hp"),
    "weights+hp": ("raw", "delta", "hp"),
    "lc+hp": ("lc", "hp"),
    "weights-rel": ("rel",),
    "scale-free": ("rel", "raw-inv", "delta-inv"),
    "weights-rel+lc": ("rel", "lc"),
}
assert set(_BLOCKS) == set(FEATURE_SETS)

_INVARIANT_STATS = frozenset({"skew", "kurt", "entropy"})


def feature_kind(name: str) -> str:
    """The kind of a named feature: ``raw``, ``delta``, ``rel``, ``lc``, ``hp`` or ``other``.

    >>> feature_kind("conv_last.delta.all.std"), feature_kind("lc.val_acc@10")
    ('delta', 'lc')
    """
    if name.startswith("lc."):
        return "lc"
    if name.startswith("hp."):
        return "hp"
    parts = name.split(".", 2)
    if len(parts) == 3 and parts[1] in ("raw", "delta", "rel"):
        return parts[1]
    return "other"


def feature_layer(name: str) -> str:
    """The layer a weight feature belongs to (``conv_last``, ``fc1``, ...); else its kind.

    >>> feature_layer("fc1.raw.ks_in.max"), feature_layer("hp.lr")
    ('fc1', 'hp')
    """
    kind = feature_kind(name)
    if kind in ("raw", "delta", "rel"):
        return name.split(".", 1)[0]
    return kind


def _is_invariant(name: str) -> bool:
    rest = name.split(".", 2)[2]  # e.g. "all.kurt", "in.mean.skew", "ks_out.max"
    return rest.startswith("ks_") or rest.rsplit(".", 1)[-1] in _INVARIANT_STATS


def _block_of(name: str) -> tuple[str, ...]:
    kind = feature_kind(name)
    if kind in ("raw", "delta"):
        return (kind, f"{kind}-inv") if _is_invariant(name) else (kind,)
    return (kind,)


def feature_columns(columns: Iterable[str], feature_set: str) -> list[str]:
    """The columns of ``feature_set`` among ``columns``, in their given order.

    Works on any collection of feature names (a corpus table, a table built from stored
    feature dicts). Raises ``ValueError`` for an unknown set, or when none of the set's
    columns is present (for ``weights-rel`` / ``scale-free``, derive the ``rel`` columns
    first with :func:`relative_update_features`).

    >>> cols = ["conv_last.raw.all.std", "conv_last.delta.all.std", "lc.val_acc@10", "hp.lr"]
    >>> feature_columns(cols, "weights")
    ['conv_last.raw.all.std', 'conv_last.delta.all.std']
    >>> feature_columns(cols, "lc+hp")
    ['lc.val_acc@10', 'hp.lr']
    """
    blocks = _BLOCKS.get(feature_set)
    if blocks is None:
        raise ValueError(
            f"unknown feature set {feature_set!r}; known sets: {', '.join(FEATURE_SETS)}"
        )
    wanted = set(blocks)
    cols = [str(c) for c in columns]
    chosen = [c for c in cols if wanted.intersection(_block_of(c))]
    if not chosen:
        hint = ""
        if "rel" in wanted:
            hint = (
                " (the 'rel' columns are derived: add them with "
                "weightcast.predict.relative_update_features(table))"
            )
        raise ValueError(
            f"no column of feature set {feature_set!r} (blocks {', '.join(blocks)}) among "
            f"{len(cols)} columns{hint}"
        )
    return chosen


# (name of the derived feature, numerator/denominator feature inside one layer's block)
_REL_RATIOS: tuple[tuple[str, str], ...] = (
    ("all.std", "all.std"),  # |dW| / |W| over the whole layer
    ("in.mean.std", "in.mean.std"),  # the same per input unit, averaged
    ("out.mean.std", "out.mean.std"),  # the same per output unit, averaged
    ("kernel.mean.std", "kernel.mean.std"),  # per kernel (convolutions only)
)


def relative_update_features(table: pd.DataFrame) -> pd.DataFrame:
    """Scale-free relative update sizes per layer, derived from raw and delta features.

    For each layer L with both blocks present:

    - ``L.rel.all.std`` = ``L.delta.all.std / L.raw.all.std``: the relative update size
      |dW|/|W| of the layer (spread of the change over spread of the weights);
    - ``L.rel.in.mean.std``, ``L.rel.out.mean.std``, ``L.rel.kernel.mean.std``: the same with
      the per-unit (per-kernel) standard deviations averaged over units;
    - ``L.rel.all.iqr`` = (delta q75 - q25) / (raw q75 - q25), a robust variant;
    - ``L.rel.all.drift`` = ``L.delta.all.mean / L.raw.all.std``: the mean's drift in units
      of the weights' spread.

    A zero denominator gives NaN. The result has ``table``'s index.

    >>> t = pd.DataFrame({"fc1.raw.all.std": [2.0], "fc1.delta.all.std": [0.5]})
    >>> relative_update_features(t)["fc1.rel.all.std"].tolist()
    [0.25]
    """
    cols = set(map(str, table.columns))
    layers = sorted({c.split(".", 1)[0] for c in cols if feature_kind(c) == "raw"})
    out: dict[str, np.ndarray] = {}

    def ratio(num: str, den: str) -> np.ndarray:
        a = table[num].to_numpy(dtype=np.float64)
        b = table[den].to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = a / b
        r[~np.isfinite(r) | (b == 0)] = np.nan
        return r

    for layer in layers:
        raw, delta = f"{layer}.raw.", f"{layer}.delta."
        for name, feat in _REL_RATIOS:
            if raw + feat in cols and delta + feat in cols:
                out[f"{layer}.rel.{name}"] = ratio(delta + feat, raw + feat)
        q = [p + s for p in (raw, delta) for s in ("all.q25", "all.q75")]
        if all(c in cols for c in q):
            with np.errstate(invalid="ignore"):
                d_iqr = table[q[3]].to_numpy(np.float64) - table[q[2]].to_numpy(np.float64)
                r_iqr = table[q[1]].to_numpy(np.float64) - table[q[0]].to_numpy(np.float64)
                r = np.where(r_iqr != 0, d_iqr / np.where(r_iqr != 0, r_iqr, 1.0), np.nan)
            out[f"{layer}.rel.all.iqr"] = r
        if delta + "all.mean" in cols and raw + "all.std" in cols:
            out[f"{layer}.rel.all.drift"] = ratio(delta + "all.mean", raw + "all.std")
    return pd.DataFrame(out, index=table.index)
