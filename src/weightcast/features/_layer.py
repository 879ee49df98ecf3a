"""Features of one layer's weights: 218 for a convolution, 153 for a fully connected layer."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from weightcast.features._stats import (
    STATS,
    SUMMARIES,
    _sorted_row_stats,
    global_ranks,
    ks_counts,
    summarize,
)

__all__ = [
    "KS_MAX_UNITS",
    "KS_SAMPLE_PAIRS",
    "KS_SEED",
    "MAX_ABS_WEIGHT",
    "NonFiniteWeightsError",
    "check_weights",
    "conv_feature_names",
    "fc_feature_names",
    "layer_feature_names",
    "layer_features",
]

#: Up to this many units (input or output units of a layer), the KS summaries use every
#: pair of units. Above it they use :data:`KS_SAMPLE_PAIRS` pairs drawn at random.
KS_MAX_UNITS = 1024
#: Number of unit pairs drawn (without replacement, seeded by :data:`KS_SEED`) when a
#: layer has more than :data:`KS_MAX_UNITS` units. The error this sampling leaves in the
#: five KS summaries is measured in ``tests/features/test_layer.py``.
KS_SAMPLE_PAIRS = 131_072
#: Seed of the pair sample: the same layer always gives the same features.
KS_SEED = 0
#: Weights larger than this in magnitude are rejected like non-finite ones: their fifth
#: central moment would overflow float64, and such a run has diverged anyway (float32
#: weights, the usual case, never reach it).
MAX_ABS_WEIGHT = 1e50

_GROUPS_CONV = ("in", "out", "kernel")
_GROUPS_FC = ("in", "out")


class NonFiniteWeightsError(ValueError):
    """Weights with nan or inf (or beyond :data:`MAX_ABS_WEIGHT`): the run has diverged.

    A ``ValueError``, so that callers may catch either; a training recorder catches
    this one to mark the run as diverged.
    """


def layer_feature_names(conv: bool) -> list[str]:
    """Feature names of one layer, in the order :func:`layer_features` returns them.

    >>> len(layer_feature_names(conv=True)), len(layer_feature_names(conv=False))
    (218, 153)
    >>> layer_feature_names(conv=False)[:2], layer_feature_names(conv=False)[-1]
    (['all.mean', 'all.q25'], 'ks_out.min')
    """
    return list(_names(conv))


def conv_feature_names() -> list[str]:
    """The 218 feature names of a convolution layer (``all.*``, ``in.*``, ``out.*``,
    ``kernel.*``, ``ks_in.*``, ``ks_out.*``).

    >>> conv_feature_names()[13]
    'in.mean.mean'
    """
    return layer_feature_names(conv=True)


def fc_feature_names() -> list[str]:
    """The 153 feature names of a fully connected layer (no ``kernel.*`` group).

    >>> fc_feature_names()[-7:-5]
    ['ks_in.max', 'ks_in.min']
    """
    return layer_feature_names(conv=False)


@lru_cache(maxsize=2)
def _names(conv: bool) -> tuple[str, ...]:
    names = [f"all.{s}" for s in STATS]
    for group in _GROUPS_CONV if conv else _GROUPS_FC:
        names += [f"{group}.{h}.{s}" for h in SUMMARIES for s in STATS]
    for group in ("ks_in", "ks_out"):
        names += [f"{group}.{h}" for h in SUMMARIES]
    return tuple(names)


def check_weights(W: ArrayLike, name: str = "layer") -> NDArray[np.float64]:
    """Validate one layer's weights and return them as a float64 array.

    Raises ``ValueError`` (naming the layer, the problem and what to do) unless ``W``
    is a non-empty real 4-D ``(C_out, C_in, kh, kw)`` or 2-D ``(out, in)`` array, and
    :class:`NonFiniteWeightsError` if it holds nan, inf or values beyond
    :data:`MAX_ABS_WEIGHT`.

    >>> check_weights([[1, 2], [3, 4]]).dtype
    dtype('float64')
    >>> check_weights(np.zeros(3), name="fc1.bias")
    Traceback (most recent call last):
    ...
    ValueError: layer 'fc1.bias': expected a 4-D convolution weight (C_out, C_in, kh, kw) or a 2-D fully connected weight (out, in), got shape (3,); pass weights, not biases, and reshape a Conv1d weight to (C_out, C_in, k, 1)
    """
    arr = np.asarray(W)
    if arr.dtype.kind not in "fiu":
        raise ValueError(
            f"layer {name!r}: weights must be real numbers, got dtype {arr.dtype}; "
            "pass a float array"
        )
    if arr.ndim not in (2, 4):
        raise ValueError(
            f"layer {name!r}: expected a 4-D convolution weight (C_out, C_in, kh, kw) or a 2-D "
            f"fully connected weight (out, in), got shape {arr.shape}; pass weights, not "
            "biases, and reshape a Conv1d weight to (C_out, C_in, k, 1)"
        )
    if arr.size == 0:
        raise ValueError(
            f"layer {name!r}: the weight array is empty (shape {arr.shape}); "
            "every dimension must be at least 1"
        )
    arr = arr.astype(np.float64, copy=False)
    lo, hi = arr.min(), arr.max()
    if not (-MAX_ABS_WEIGHT <= lo and hi <= MAX_ABS_WEIGHT):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        what = (
            f"{bad} of {arr.size} weights are nan or inf"
            if bad
            else f"weights reach {max(-lo, hi):.3g} in magnitude (limit {MAX_ABS_WEIGHT:g})"
        )
        raise NonFiniteWeightsError(
            f"layer {name!r}: {what}: the run has diverged; "
            "stop computing weight features for it and mark it diverged"
        )
    return arr


def layer_features(W: ArrayLike, *, name: str = "layer") -> dict[str, float]:
    """The spec's features of one layer's weights, in PyTorch layout.

    ``W`` is a 4-D convolution weight ``(C_out, C_in, kh, kw)`` (218 features) or a
    2-D fully connected weight ``(out, in)`` (153 features); any real dtype, computed
    in float64. ``name`` only labels error messages. Names and order are those of
    :func:`conv_feature_names` / :func:`fc_feature_names`.

    >>> rng = np.random.default_rng(0)
    >>> f = layer_features(rng.normal(size=(8, 4, 3, 3)), name="conv1")
    >>> len(f), round(f["all.kurt"], 3), 0 < f["ks_out.mean"] < 1
    (218, 3.052, True)
    >>> len(layer_features(rng.normal(size=(10, 32))))
    153
    """
    arr = check_weights(W, name)
    return dict(zip(_names(arr.ndim == 4), _layer_vector(arr).tolist(), strict=True))


def _layer_vector(W: NDArray[np.float64]) -> NDArray[np.float64]:
    """The features of a validated float64 layer, as a vector in name order."""
    conv = W.ndim == 4
    n_out, n_in = W.shape[:2]
    k = W.size // (n_out * n_in)
    flat = np.ascontiguousarray(W).reshape(-1)
    ranks, values = global_ranks(flat)
    ranks3 = ranks.reshape(n_out, n_in, k)
    # Rows of ranks, each sorted; the sorted values of a row are values[ranks].
    r_in = np.sort(ranks3.transpose(1, 0, 2).reshape(n_in, n_out * k), axis=1)
    r_out = np.sort(ranks3.reshape(n_out, n_in * k), axis=1)

    parts = [_sorted_row_stats(values[None, :])[0]]
    parts.append(summarize(_sorted_row_stats(values[r_in])).ravel())
    parts.append(summarize(_sorted_row_stats(values[r_out])).ravel())
    if conv:
        kernels = np.sort(flat.reshape(n_out * n_in, k), axis=1)
        parts.append(summarize(_sorted_row_stats(kernels)).ravel())
    for rows in (r_in, r_out):
        ia, ib = unit_pairs(rows.shape[0])
        parts.append(summarize(ks_counts(rows, flat.size, ia, ib) / rows.shape[1]).ravel())
    return np.concatenate(parts)


@lru_cache(maxsize=16)
def unit_pairs(n: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The unit pairs ``(i, j)``, ``i < j``, whose KS distances a layer with ``n`` units uses.

    Every pair (in ``numpy.triu_indices`` order) up to :data:`KS_MAX_UNITS` units;
    above, :data:`KS_SAMPLE_PAIRS` distinct pairs drawn with seed :data:`KS_SEED`.

    >>> [a.tolist() for a in unit_pairs(3)]
    [[0, 0, 1], [1, 2, 2]]
    >>> len(unit_pairs(KS_MAX_UNITS + 1)[0]) == KS_SAMPLE_PAIRS
    True
    """
    if n <= KS_MAX_UNITS:
        ia, ib = np.triu_indices(n, 1)
    else:
        total = n * (n - 1) // 2
        rng = np.random.default_rng(KS_SEED)
        idx = np.sort(rng.choice(total, size=min(KS_SAMPLE_PAIRS, total), replace=False))
        ia, ib = _pair_of_index(idx, n)
    ia, ib = ia.astype(np.int64), ib.astype(np.int64)
    ia.flags.writeable = False
    ib.flags.writeable = False
    return ia, ib


def _pair_of_index(idx: NDArray[np.int64], n: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Row-major upper-triangle index -> (i, j): the inverse of ``numpy.triu_indices(n, 1)``."""

    def start(i: NDArray[np.int64]) -> NDArray[np.int64]:  # index of pair (i, i + 1)
        return i * (2 * n - i - 1) // 2

    b = 2 * n - 1
    i = np.floor((b - np.sqrt(np.maximum(b * b - 8.0 * idx, 0.0))) / 2).astype(np.int64)
    i = np.clip(i, 0, n - 2)
    for _ in range(2):  # repair float rounding of the square root
        i = np.where(start(i) > idx, i - 1, i)
        i = np.where(start(i + 1) <= idx, i + 1, i)
    return i, idx - start(i) + i + 1
