"""Features of one layer's weights: 218 for a convolution, 153 for a fully connected layer."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from weightcast.features._stats import (
    SCRATCH,
    STATS,
    SUMMARIES,
    RowBlocks,
    _sorted_row_stats,
    blocks_row_stats,
    global_ranks,
    ks_counts,
    ks_counts_dense,
    ks_counts_rows,
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

# Layers of up to this many weights take the one-pass path (_small_layer_vector): all
# their rows in one layout, the in and out KS in one search. Larger layers are computed
# group by group, in blocks of bounded memory. Both give the same numbers, bit for bit.
_SMALL_LAYER = 1 << 16
# Up to this much work (values of the in and out rows x their number of rows), the KS
# distances of a small layer come from a dense table of cumulative counts.
_KS_DENSE_MAX = 1 << 15
# The KS grid of a small layer: coarse buckets of about 4 values of a row, in fine
# buckets of half a value (rows up to _KS_SHORT_ROWS values) or one value (longer rows);
# pairs in chunks of _KS_SMALL_CHUNK (cols x pairs) entries, which keeps the work
# arrays small. Tuned on the digits networks; the distances are exact whatever they are.
_KS_SHORT_ROWS = 400
_KS_SMALL_CHUNK = 1 << 15


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
    if W.size <= _SMALL_LAYER:
        return _small_layer_vector(W)
    return _large_layer_vector(W)


def _large_layer_vector(W: NDArray[np.float64]) -> NDArray[np.float64]:
    """:func:`_layer_vector` group by group (in bounded memory, for large layers)."""
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


class _LayerPlan:
    """Everything about a small layer that depends only on its shape (cached per shape).

    The rows of all groups form one :class:`RowBlocks` layout: ``all`` (the sorted
    weights), then the ``in`` and ``out`` rows (longer first), sorted together as
    composite keys ``row << bits | rank``, then the kernels (no longer than either),
    sorted as values.
    """

    def __init__(self, n_out: int, n_in: int, k: int, conv: bool) -> None:
        n = n_out * n_in * k
        groups = {"all": (1, n), "in": (n_in, n_out * k), "out": (n_out, n_in * k)}
        order = ["all", *sorted(("in", "out"), key=lambda g: -groups[g][1])]
        if conv:
            groups["kernel"] = (n_out * n_in, k)
            order.append("kernel")
        # _large_layer_vector's in rows of a layer with 1x1 kernels are Fortran-ordered
        # (a view of the transposed weights): store them so, for the same sums.
        self.layout = L = RowBlocks(
            tuple((*groups[g], g == "in" and k == 1) for g in order),
            searchable=1 + n_in + n_out,
        )
        self.rows = {g: (L.blocks[i][0], L.blocks[i][1]) for i, g in enumerate(order)}
        self.transposed = [(v0 - n, rows, m) for _, rows, m, v0, t in L.blocks if t]
        self.bits = bits = int(n - 1).bit_length()
        fits = ((1 + n_in + n_out) << bits) < np.iinfo(np.int32).max
        self.key_dtype = np.dtype(np.int32 if fits else np.int64)
        # The row (in the layout) of weight W.ravel()[i] as an in and as an out unit, shifted.
        o, c = np.divmod(np.arange(n, dtype=np.int64) // k, n_in)
        unit = {"in": c, "out": o}
        self.key_base = np.stack([(unit[g] + self.rows[g][0]) << bits for g in order[1:3]]).astype(
            self.key_dtype
        )
        self.mask = (1 << bits) - 1
        # KS: the in and out rows, 2 n values in the ranks of the rows after "all"; their
        # pairs, numbered in that span.
        self.ks_order = ks_groups = order[1:3]
        n_rows = n_in + n_out
        self.ks_starts = np.append(L.row_start[1 : 1 + n_rows] - n, 2 * n)
        self.ks_m = {g: groups[g][1] for g in ks_groups}
        self.ks_units = max(n_in, n_out)
        self.ks_n_pairs = [len(unit_pairs(groups[g][0])[0]) for g in ks_groups]
        self.ks_a, self.ks_b = (
            np.concatenate([unit_pairs(groups[g][0])[i] + self.rows[g][0] - 1 for g in ks_groups])
            for i in (0, 1)
        )
        # (row0, rows, m, v0) of each group in that span, for the dense table
        self.ks_groups = [
            (self.rows[g][0] - 1, groups[g][0], groups[g][1], int(L.row_start[self.rows[g][0]]) - n)
            for g in ks_groups
        ]
        self.ks_dense = 2 * n * n_rows <= _KS_DENSE_MAX
        self.ks_row_of = (  # the row of each value, for the dense table only
            np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(self.ks_starts))
            if self.ks_dense
            else np.empty(0, dtype=np.int64)
        )
        short = max(self.ks_m.values()) <= _KS_SHORT_ROWS
        self.ks_level_bits, self.ks_fine_offset = (3, -1) if short else (2, 0)
        for value in (self.key_base, self.ks_starts, self.ks_a, self.ks_b, self.ks_row_of):
            value.flags.writeable = False


@lru_cache(maxsize=16)
def _plan(n_out: int, n_in: int, k: int, conv: bool) -> _LayerPlan:
    return _LayerPlan(n_out, n_in, k, conv)


def _small_layer_vector(W: NDArray[np.float64]) -> NDArray[np.float64]:
    """:func:`_layer_vector` of a small layer: every group's rows in one pass."""
    conv = W.ndim == 4
    n_out, n_in = W.shape[:2]
    k = W.size // (n_out * n_in)
    plan = _plan(n_out, n_in, k, conv)
    L = plan.layout
    n = W.size
    flat = np.ascontiguousarray(W).reshape(-1)
    ranks, values = global_ranks(flat)
    K = SCRATCH.get("keys", 2 * n, plan.key_dtype)
    np.add(plan.key_base, ranks, out=K.reshape(2, n), casting="unsafe")
    K.sort()
    # the in and out rows, each sorted
    row_ranks = np.bitwise_and(K, plan.mask, out=SCRATCH.get("row_ranks", 2 * n, np.intp))
    F = SCRATCH.get("values", L.size, np.float64)
    F[:n] = values
    np.take(values, row_ranks, out=F[n : 3 * n])
    for v0, rows, m in plan.transposed:
        seg = row_ranks[v0 : v0 + rows * m].reshape(rows, m).T
        np.take(values, seg, out=F[n + v0 : n + v0 + rows * m].reshape(m, rows))
    if conv:
        kernels = F[3 * n :]
        kernels[:] = flat
        kernels.reshape(n_out * n_in, k).sort(axis=1)
    G = blocks_row_stats(F, L, K, plan.bits)

    out = np.empty(218 if conv else 153, dtype=np.float64)
    out[:13] = G[0]
    at = 13
    for g in _GROUPS_CONV if conv else _GROUPS_FC:
        row0, rows = plan.rows[g]
        out[at : at + 65] = summarize(G[row0 : row0 + rows]).ravel()
        at += 65
    counts: list[NDArray[np.int64]]
    if plan.ks_dense:
        D = ks_counts_dense(row_ranks, plan.ks_row_of, n, plan.ks_groups)
        counts = []
        for (_, rows, _, _), Dg in zip(plan.ks_groups, D, strict=True):
            ia, ib = unit_pairs(rows)
            counts.append(np.maximum(Dg[ia, ib], Dg[ib, ia]).astype(np.int64))
    else:
        both = ks_counts_rows(
            row_ranks,
            plan.ks_starts,
            n,
            plan.ks_a,
            plan.ks_b,
            n_units=plan.ks_units,
            level_bits=plan.ks_level_bits,
            fine_offset=plan.ks_fine_offset,
            pair_chunk=_KS_SMALL_CHUNK,
        )
        counts = np.split(both, [plan.ks_n_pairs[0]])
    per_group = dict(zip(plan.ks_order, counts, strict=True))
    for g in ("in", "out"):
        out[at : at + 5] = summarize(per_group[g] / plan.ks_m[g]).ravel()
        at += 5
    return out


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
