"""The statistics of the spec, batched over the rows of a matrix.

``g`` (13 statistics of a vector), ``h`` (5 summaries of per-unit values) and the
two-sample Kolmogorov-Smirnov distance of ``../../../shared/spec/features.md``, each
computed for many rows at once in float64 with no Python loop per row or per pair.

The KS distances of all pairs of rows are exact. Rows are replaced by the ranks of
their values in the whole layer (equal values share a rank), and each pair's
statistic ``max_x |F_a(x) - F_b(x)|`` is found by branch and bound on a grid of rank
buckets: the empirical CDFs are known exactly at the bucket edges (a lower bound),
and inside a bucket the walk ``m * (F_a - F_b)`` cannot leave the range that the two
rows' counts in that bucket allow (an upper bound). Only the buckets whose upper
bound beats the pair's lower bound are refined, first on an 8 times finer grid and
then by merging the two rows' values inside the bucket, tie groups processed
together, exactly as ``scipy.stats.ks_2samp`` counts them.

For small layers the rows of all groups are stored in one :class:`RowBlocks` layout
and their statistics computed in one pass (:func:`blocks_row_stats`), with the same
floating-point operations value by value, so the same bits, as row by row; work
arrays come from per-thread :data:`SCRATCH` buffers, since fresh arrays of a few
hundred kilobytes cost more in page faults than in arithmetic.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = [
    "N_BINS",
    "STATS",
    "SUMMARIES",
    "ks_distances",
    "row_stats",
    "summarize",
]

#: The 13 statistics ``g`` of a vector, in feature order.
STATS: tuple[str, ...] = (
    "mean",
    "q25",
    "q50",
    "q75",
    "std",
    "skew",
    "kurt",
    "cm1",
    "cm2",
    "cm3",
    "cm4",
    "cm5",
    "entropy",
)

#: The 5 summaries ``h`` of per-unit values, in feature order.
SUMMARIES: tuple[str, ...] = ("mean", "median", "std", "max", "min")

#: Equal-width histogram bins of the entropy statistic (``numpy.histogram(x, bins=32)``).
N_BINS = 32

_QUANTILES = (0.25, 0.5, 0.75)
# Rows of at least this length get their histogram by a vectorised binary search of
# the 31 inner bin edges in the sorted row; shorter rows by numpy's own per-value
# bin arithmetic. Both give numpy.histogram's counts; the switch is only speed.
_BSEARCH_MIN_LEN = 256
_BSEARCH_MIN_SIZE = 1 << 15  # (below, the fewer numpy calls of the arithmetic win)
# In a RowBlocks layout, rows of at least this length find their bin edges by a search
# (two numpy.searchsorted calls for all of them), shorter rows take the arithmetic.
_SEARCH_MIN_LEN = 256
# Number of values per block of rows in the statistics.
_STATS_BLOCK = 1 << 16
# Work sizes (numbers of array elements) that bound the memory of the KS search.
_KS_PAIR_CHUNK = 1 << 18
_KS_MERGE_CHUNK = 1 << 21
# KS grids: a fine bucket holds about 2**_KS_FINE_OFFSET values of each row, a coarse
# bucket 2**_KS_LEVEL_BITS fine buckets (tuned on the benchmark's layers).
_KS_LEVEL_BITS = 3
_KS_FINE_OFFSET = 0

# Rows shorter than this get per-row parameters repeated per value rather than broadcast.
_SHORT_ROW = 32
# Scratch buffers up to this size are kept from call to call (per thread).
_SCRATCH_MAX_BYTES = 1 << 20

Float = NDArray[np.float64]
Int = NDArray[np.int64]


class Scratch(threading.local):
    """Work arrays reused from call to call, one set per thread.

    A fresh array of a few hundred kilobytes can cost a page fault per 4 KiB page
    each time (the allocator hands such memory back to the system when it is freed),
    more than the arithmetic on it; buffers up to ``_SCRATCH_MAX_BYTES`` are kept
    instead. A buffer is only valid until the next :meth:`get` of the same name.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, NDArray[Any]] = {}

    def get(self, name: str, size: int, dtype: DTypeLike) -> NDArray[Any]:
        dt = np.dtype(dtype)
        buf = self._buffers.get(name)
        if buf is None or buf.dtype != dt or buf.size < size:
            buf = np.empty(size, dtype=dt)
            if size * dt.itemsize <= _SCRATCH_MAX_BYTES:
                self._buffers[name] = buf
        return buf[:size]


SCRATCH = Scratch()


# ----------------------------------------------------------------------------- g


def row_stats(X: ArrayLike) -> Float:
    """The 13 statistics ``g`` (see :data:`STATS`) of every row of a 2-D array.

    Computed in float64; a row of equal values gets ``std``, ``skew``, ``kurt``,
    ``cm1``..``cm5`` and ``entropy`` all 0.

    >>> import numpy as np
    >>> g = row_stats(np.array([[1.0, 2.0, 3.0, 10.0], [5.0, 5.0, 5.0, 5.0]]))
    >>> g.shape
    (2, 13)
    >>> dict(zip(STATS, g[0].round(3).tolist()))["q50"], g[1].tolist()[4:]
    (2.5, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    """
    S = np.sort(np.asarray(X, dtype=np.float64), axis=1)
    if S.ndim != 2 or S.shape[1] == 0:
        raise ValueError(f"row_stats needs a 2-D array with non-empty rows, got shape {S.shape}")
    return _sorted_row_stats(S)


def _sorted_row_stats(S: Float) -> Float:
    """:func:`row_stats` of rows that are already sorted ascending (float64, finite)."""
    # Blocks of rows small enough for the CPU cache: much faster for short rows.
    rows = max(1, _STATS_BLOCK // S.shape[1])
    if S.shape[0] <= rows:
        return _block_stats(S)
    return np.concatenate([_block_stats(S[i : i + rows]) for i in range(0, S.shape[0], rows)])


def _block_stats(S: Float) -> Float:
    r, m = S.shape
    out = np.empty((r, len(STATS)), dtype=np.float64)
    lo, hi = S[:, 0], S[:, -1]
    const = lo == hi

    mean = _row_mean(S)
    mean[const] = lo[const]  # exact, so that every deviation of a constant row is 0
    out[:, 0] = mean
    for c, q in enumerate(_QUANTILES, start=1):
        out[:, c] = _sorted_quantile(S, q)

    # Central moments of the deviations scaled to [-1, 1] by s = max |x - mean|: the
    # scaled powers never overflow or underflow, so skew and kurt stay finite.
    d = S - mean[:, None]
    out[:, 7] = _row_mean(d)  # cm1: 0 up to rounding, as the definition gives it
    s = np.maximum(hi - mean, mean - lo)
    safe = np.where(s > 0, s, 1.0)
    d /= safe[:, None]
    e2 = d * d
    m2 = _row_mean(e2)
    e2 *= d
    m3 = _row_mean(e2)
    e2 *= d
    m4 = _row_mean(e2)
    e2 *= d
    m5 = _row_mean(e2)
    with np.errstate(under="ignore"):
        cm2 = m2 * safe**2
        out[:, 8] = cm2
        out[:, 9] = m3 * safe**3
        out[:, 10] = m4 * safe**4
        out[:, 11] = m5 * safe**5
    out[:, 4] = np.sqrt(cm2)
    pos = cm2 > 0  # m2 >= 1/m > 0 wherever s > 0
    m2_safe = np.where(pos, m2, 1.0)
    out[:, 5] = np.where(pos, m3 / m2_safe**1.5, 0.0)
    out[:, 6] = np.where(pos, m4 / (m2_safe * m2_safe), 0.0)

    counts = _histogram_counts(S, const)
    if m < counts.size:  # fewer possible counts than bins: look p * ln(p) up per count
        p = np.arange(1, m + 1, dtype=np.float64) / float(m)
        plogp = np.concatenate(([0.0], p * np.log(p)))[counts]
    else:
        p = counts / float(m)
        plogp = np.zeros_like(p)
        np.log(p, out=plogp, where=counts > 0)
        plogp *= p
    out[:, 12] = -plogp.sum(axis=1)
    out[const, 12] = 0.0
    return out


class RowBlocks:
    """The layout of rows of several lengths stored one after the other in a flat array.

    ``blocks`` lists ``(rows, m, transposed)``: ``rows`` rows of length ``m``, block
    after block, by non-increasing ``m``, the first block a single row holding all
    ``n_values`` values (a layer's sorted weights); the next rows, up to row
    ``searchable``, can be searched by composite keys (see :func:`blocks_row_stats`).
    A transposed block stores its rows
    column by column (value ``j`` of row ``r`` at ``j * rows + r``): numpy then sums
    each row left to right, as it does for the rows of a Fortran-ordered array, where
    it sums those of a C-ordered one pairwise. Everything that depends only on the
    layout (indices of quantiles, bin-count tables, ...) is computed here once.
    """

    def __init__(self, blocks: tuple[tuple[int, int, bool], ...], searchable: int) -> None:
        ms = [m for _, m, _ in blocks]
        if blocks[0][0] != 1 or ms != sorted(ms, reverse=True):
            raise ValueError(f"blocks must start with one row and shrink, got {blocks}")
        self.blocks: list[tuple[int, int, int, int, bool]] = []  # (row0, rows, m, v0, transposed)
        row0 = v0 = 0
        for rows, m, transposed in blocks:
            self.blocks.append((row0, rows, m, v0, transposed and rows > 1 and m > 1))
            row0, v0 = row0 + rows, v0 + rows * m
        self.n_rows, self.size = row0, v0
        self.n_values = blocks[0][1]
        lens = np.repeat(np.array(ms, dtype=np.int64), [rows for rows, _, _ in blocks])
        self.m = lens.astype(np.float64)
        #: where each row starts when the rows are stored one after the other
        self.row_start = np.concatenate(([0], np.cumsum(lens)[:-1]))
        # Index in the layout of the first value of every row, the stride of its
        # values, and the row of every value of the layout.
        stride = np.ones(self.n_rows, dtype=np.int64)
        first = self.row_start.copy()
        row_of = []
        for row0, rows, m, v0, transposed in self.blocks:
            r = np.arange(rows, dtype=np.int64)
            if transposed:
                stride[row0 : row0 + rows] = rows
                first[row0 : row0 + rows] = v0 + r
                row_of.append(np.tile(r + row0, m))
            else:
                row_of.append(np.repeat(r + row0, m))
        self.first = first
        self.last = first + (lens - 1) * stride
        row_of_value = np.concatenate(row_of)
        # numpy.quantile's "linear" method: a + (b - a) * gamma, or b - (b - a) * (1 - gamma)
        virtual = (lens - 1)[None, :] * np.array(_QUANTILES)[:, None]
        prev = np.floor(virtual).astype(np.int64)
        self.q_gamma = virtual - prev
        self.q_one_minus = 1 - self.q_gamma
        self.q_upper = self.q_gamma >= 0.5
        self.q_at_last = virtual >= (lens - 1)[None, :]
        self.q_a = first + prev * stride
        self.q_b = first + np.minimum(prev + 1, lens - 1) * stride
        # -p * ln(p) of every possible count p * m of a row, looked up per row
        tables, offset = [], {}
        at = 0
        for m in sorted(set(ms)):
            p = np.arange(1, m + 1, dtype=np.float64) / float(m)
            tables.append(np.concatenate(([0.0], p * np.log(p))))
            offset[m] = at
            at += m + 1
        self.plogp = np.concatenate(tables)
        self.plogp_at = np.array([offset[m] for m in lens.tolist()], dtype=np.int64)[:, None]
        # Rows from block `split` on (short or not searchable ones) take numpy's bin
        # arithmetic for their histograms; the rows before, a search of the bin edges.
        self.split = next(
            (i for i, b in enumerate(self.blocks) if b[2] < _SEARCH_MIN_LEN or b[0] >= searchable),
            len(self.blocks),
        )
        self.r_split, self.v_split = (
            (self.blocks[self.split][0], self.blocks[self.split][3])
            if self.split < len(self.blocks)
            else (self.n_rows, self.size)
        )
        # bin-count key offset of the values from v_split on: (row - r_split) * 32
        self.tail_key = (row_of_value[self.v_split :] - self.r_split) * N_BINS
        for value in vars(self).values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False


def blocks_row_stats(F: Float, L: RowBlocks, K: NDArray[np.integer], bits: int) -> Float:
    """:func:`row_stats` of every row of a :class:`RowBlocks` layout, bit for bit.

    ``F`` holds the rows' values, each row sorted; its first row is all the layer's
    values, sorted. ``K`` holds one key per value of the next rows (up to the layout's
    ``searchable``), ``row << bits | rank`` with ``rank`` the number of the layer's
    values below it, sorted: the values of such a row below a bin edge are found by a
    search in ``K``. The result is valid until the next call (a :data:`SCRATCH` buffer).
    """
    R, T = L.n_rows, L.size
    out = SCRATCH.get("stats", R * len(STATS), np.float64).reshape(R, len(STATS))
    lo, hi = F[L.first], F[L.last]
    const = lo == hi

    mean = _block_sums(F, L) / L.m
    np.copyto(mean, lo, where=const)  # exact, so that every deviation of a constant row is 0
    out[:, 0] = mean
    a, b = F[L.q_a], F[L.q_b]
    diff = b - a
    q = np.where(L.q_upper, b - diff * L.q_one_minus, a + diff * L.q_gamma)
    np.copyto(q, hi, where=L.q_at_last)
    out[:, 1:4] = q.T

    # Central moments of the deviations scaled to [-1, 1] by s = max |x - mean|, as in
    # _block_stats (the same operations, value by value).
    d = _rowwise(np.subtract, F, mean, SCRATCH.get("d", T, np.float64), L.blocks)
    out[:, 7] = _block_sums(d, L) / L.m
    s = np.maximum(hi - mean, mean - lo)
    safe = np.where(s > 0, s, 1.0)
    _rowwise(np.divide, d, safe, d, L.blocks)
    e = np.multiply(d, d, out=SCRATCH.get("e", T, np.float64))
    m2 = _block_sums(e, L) / L.m
    e *= d
    m3 = _block_sums(e, L) / L.m
    e *= d
    m4 = _block_sums(e, L) / L.m
    e *= d
    m5 = _block_sums(e, L) / L.m
    with np.errstate(under="ignore"):
        cm2 = m2 * safe**2
        out[:, 8] = cm2
        out[:, 9] = m3 * safe**3
        out[:, 10] = m4 * safe**4
        out[:, 11] = m5 * safe**5
    out[:, 4] = np.sqrt(cm2)
    pos = cm2 > 0
    m2_safe = np.where(pos, m2, 1.0)
    out[:, 5] = np.where(pos, m3 / m2_safe**1.5, 0.0)
    out[:, 6] = np.where(pos, m4 / (m2_safe * m2_safe), 0.0)

    counts = _blocks_histograms(F, L, K, bits, lo, hi, const)
    counts += L.plogp_at
    out[:, 12] = -np.take(L.plogp, counts).sum(axis=1)
    out[const, 12] = 0.0
    return out


def _rowwise(
    ufunc: np.ufunc,
    X: NDArray[Any],
    per_row: NDArray[Any],
    out: NDArray[Any],
    blocks: list[tuple[int, int, int, int, bool]],
    base: int = 0,
) -> NDArray[Any]:
    """``out = ufunc(X, per_row[row of each value])`` over the values of ``blocks`` (of a
    layout, less ``base``), broadcast block by block: the same operation value by value
    as ``ufunc(S, per_row[:, None])`` on a block's 2-D array of rows ``S``."""
    shape: tuple[int, ...]
    for row0, rows, m, v0, transposed in blocks:
        cut = slice(v0 - base, v0 - base + rows * m)
        if transposed:
            shape, p = (m, rows), per_row[row0 : row0 + rows]
        elif m < _SHORT_ROW:  # numpy's loop per short row costs more than repeating p
            shape, p = (rows * m,), np.repeat(per_row[row0 : row0 + rows], m)
        else:
            shape, p = (rows, m), per_row[row0 : row0 + rows, None]
        ufunc(X[cut].reshape(shape), p, out=out[cut].reshape(shape))
    return out


def _block_sums(X: Float, L: RowBlocks) -> Float:
    """The sums of the rows of a layout's values ``X``, as numpy.add.reduce sums each
    row of a 2-D array (pairwise, or left to right for a transposed block), bit for bit."""
    out = np.empty(L.n_rows, dtype=np.float64)
    for row0, rows, m, v0, transposed in L.blocks:
        if transposed:  # summed left to right, as numpy sums a Fortran-ordered array's rows
            block = X[v0 : v0 + rows * m].reshape(m, rows).T
        else:
            block = X[v0 : v0 + rows * m].reshape(rows, m)
        np.add.reduce(block, axis=-1, out=out[row0 : row0 + rows])
    return out


def _blocks_histograms(
    F: Float,
    L: RowBlocks,
    K: NDArray[np.integer],
    bits: int,
    lo: Float,
    hi: Float,
    const: NDArray[np.bool_],
) -> Int:
    """numpy.histogram(row, bins=32)[0] of every row of a layout (rows flagged const: any)."""
    R = L.n_rows
    delta = hi - lo
    delta[const] = 1.0  # a constant row has entropy 0 whatever its counts
    step = delta / N_BINS
    counts = np.empty((R, N_BINS), dtype=np.int64)
    split = L.r_split
    if split > 0:
        # The bins' inner edges as numpy.linspace(first, last, 33) computes them,
        # including its fallback for a step that underflows to 0; the values of a row
        # below an edge are those below its rank among the layer's values.
        first, st, dl = lo[:split, None], step[:split, None], delta[:split, None]
        tiny = st == 0
        k = np.arange(1, N_BINS, dtype=np.float64)
        inner = (k / np.where(tiny, float(N_BINS), 1.0)) * np.where(tiny, dl, st) + first
        below = np.empty((split, N_BINS + 1), dtype=np.int64)
        below[:, 0] = 0
        # (sorted queries make numpy.searchsorted much faster)
        queries = inner.reshape(-1)
        order = np.argsort(queries)
        flat_thr = np.empty(queries.size, dtype=np.intp)
        flat_thr[order] = np.searchsorted(F[: L.n_values], queries[order])
        thr = flat_thr.reshape(inner.shape)
        below[0, 1:-1] = thr[0]
        if split > 1:
            row_ids = np.arange(1, split, dtype=np.int64)[:, None]
            keys = ((row_ids << bits) + thr[1:]).astype(K.dtype)
            start = (L.row_start[1:split] - L.n_values)[:, None]
            below[1:, 1:-1] = np.searchsorted(K, keys.reshape(-1)).reshape(keys.shape) - start
        below[:, -1] = L.m[:split]
        np.subtract(below[:, 1:], below[:, :-1], out=counts[:split])
    if split == R:
        return counts
    if (step[split:] < np.finfo(np.float64).tiny).any():
        # rare (a step that underflows): the row-block method, block by block
        for row0, rows, m, v0, transposed in L.blocks[L.split :]:
            S = F[v0 : v0 + rows * m]
            S = S.reshape(m, rows).T if transposed else S.reshape(rows, m)
            counts[row0 : row0 + rows] = _histogram_counts(S, const[row0 : row0 + rows])
        return counts
    # numpy.histogram's method (see _histogram_counts), value by value, each
    # operation broadcast over a block's rows as _histogram_counts does.
    v0 = L.v_split
    S = F[v0:]
    n = S.size
    tail = L.blocks[L.split :]
    x = _rowwise(np.subtract, S, lo, SCRATCH.get("h_x", n, np.float64), tail, v0)
    _rowwise(np.multiply, x, N_BINS / delta, x, tail, v0)
    idx = SCRATCH.get("h_idx", n, np.int64)
    np.copyto(idx, x, casting="unsafe")  # as .astype(np.int64)
    np.minimum(idx, N_BINS - 1, out=idx)
    edge = _rowwise(np.multiply, idx, step, x, tail, v0)
    _rowwise(np.add, edge, lo, edge, tail, v0)
    flag = SCRATCH.get("h_flag", n, np.bool_)
    idx -= np.less(S, edge, out=flag)
    next_idx = np.add(idx, 1, out=SCRATCH.get("h_next", n, np.int64))
    edge = _rowwise(np.multiply, next_idx, step, x, tail, v0)
    _rowwise(np.add, edge, lo, edge, tail, v0)
    idx += np.greater_equal(S, edge, out=flag)
    np.minimum(idx, N_BINS - 1, out=idx)
    idx += L.tail_key
    counts[split:] = np.bincount(idx, minlength=(R - split) * N_BINS).reshape(-1, N_BINS)
    return counts


def _row_mean(X: Float) -> Float:
    """X.mean(axis=1), bit for bit, without the method's Python overhead."""
    return np.add.reduce(X, axis=1) / X.shape[1]


def _sorted_quantile(S: Float, q: float) -> Float:
    """numpy.quantile(row, q) (method "linear") of every sorted row, bit for bit."""
    m = S.shape[1]
    virtual = (m - 1) * q
    if virtual >= m - 1:
        return S[:, -1].copy()
    prev = int(np.floor(virtual))
    gamma = virtual - prev
    a, b = S[:, prev], S[:, prev + 1]
    diff = b - a
    if gamma >= 0.5:
        return b - diff * (1 - gamma)
    return a + diff * gamma


def _histogram_counts(S: Float, const: NDArray[np.bool_]) -> NDArray[np.int64]:
    """numpy.histogram(row, bins=32)[0] of every sorted row (rows flagged const: any)."""
    r, m = S.shape
    first = S[:, 0]
    delta = S[:, -1] - first
    delta[const] = 1.0  # a constant row has entropy 0 whatever its counts
    step = delta / N_BINS
    if (m >= _BSEARCH_MIN_LEN and S.size >= _BSEARCH_MIN_SIZE) or (
        step < np.finfo(np.float64).tiny
    ).any():
        # The bins' inner edges as numpy.linspace(first, last, 33) computes them,
        # including its fallback for a step that underflows to 0.
        tiny = step == 0
        k = np.arange(1, N_BINS, dtype=np.float64)
        mult = np.where(tiny, delta, step)
        div = np.where(tiny, float(N_BINS), 1.0)
        inner = (k / div[:, None]) * mult[:, None] + first[:, None]
        pos = np.empty((r, N_BINS + 1), dtype=np.int64)
        pos[:, 0] = 0
        pos[:, 1:-1] = _count_below(S, inner)
        pos[:, -1] = m
        return np.diff(pos, axis=1)
    # numpy.histogram's method: an approximate bin from arithmetic, then one correction
    # each way against the exact edges (edge k = k * step + first, as in linspace).
    idx = ((S - first[:, None]) * (N_BINS / delta)[:, None]).astype(np.int64)
    np.minimum(idx, N_BINS - 1, out=idx)
    edge = idx * step[:, None]
    edge += first[:, None]
    idx -= S < edge
    edge = (idx + 1) * step[:, None]
    edge += first[:, None]
    idx += S >= edge
    np.minimum(idx, N_BINS - 1, out=idx)  # the last bin includes its right edge
    idx += (np.arange(r, dtype=np.int64) * N_BINS)[:, None]
    # The rows are sorted, so is idx.ravel(): a bin index never decreases along a row.
    return _sorted_counts(idx.ravel(), r * N_BINS).reshape(r, N_BINS)


def _count_below(S: Float, edges: Float) -> NDArray[np.int64]:
    """For every row i and edge e of edges[i]: the number of values of S[i] below e."""
    r, m = S.shape
    lo = np.zeros(edges.shape, dtype=np.int64)
    hi = np.full(edges.shape, m, dtype=np.int64)
    base = (np.arange(r, dtype=np.int64) * m)[:, None]
    flat = S.ravel()
    for _ in range(int(m).bit_length()):  # binary search, all rows and edges in lockstep
        mid = (lo + hi) >> 1
        active = lo < hi
        less = flat[base + np.minimum(mid, m - 1)] < edges
        lo = np.where(active & less, mid + 1, lo)
        hi = np.where(active & ~less, mid, hi)
    return lo


# ----------------------------------------------------------------------------- h


def summarize(V: ArrayLike) -> Float:
    """The 5 summaries ``h`` (see :data:`SUMMARIES`) of each column of ``V`` (units x values).

    Returns an array of shape ``(5, columns)``; with no rows, all zeros. A column of
    equal values has exactly that value as mean and a std of 0.

    >>> summarize([[1.0], [2.0], [6.0]]).ravel().tolist()
    [3.0, 2.0, 2.160246899469287, 6.0, 1.0]
    >>> summarize(np.zeros((0, 2))).tolist()
    [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
    """
    V = np.asarray(V, dtype=np.float64)
    if V.ndim == 1:
        V = V[:, None]
    out = np.zeros((len(SUMMARIES), V.shape[1]), dtype=np.float64)
    if V.shape[0] == 0:
        return out
    # The same arithmetic as V.mean, numpy.median and V.std, without their overhead.
    k = V.shape[0]
    S = np.sort(V, axis=0)
    mx, mn = S[-1], S[0]
    same = mx == mn
    mean = np.add.reduce(V, axis=0) / k
    dev = V - mean
    dev *= dev
    out[0] = np.where(same, mx, mean)
    out[1] = S[k // 2] if k % 2 else (S[k // 2 - 1] + S[k // 2]) / 2
    out[2] = np.where(same, 0.0, np.sqrt(np.add.reduce(dev, axis=0) / k))
    out[3] = mx
    out[4] = mn
    return out


# ---------------------------------------------------------------------------- KS


def ks_distances(X: ArrayLike, pairs: tuple[ArrayLike, ArrayLike] | None = None) -> Float:
    """Exact two-sample KS distances between rows of ``X`` (rows x values).

    ``pairs`` is ``(i, j)``, two integer arrays of row indices; by default every
    unordered pair in the order of ``numpy.triu_indices(len(X), 1)`` (like
    ``scipy.spatial.distance.pdist``). Each value equals
    ``scipy.stats.ks_2samp(X[i], X[j]).statistic``.

    >>> X = np.array([[0.0, 1.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0], [0.0, 1.0, 2.0, 3.0]])
    >>> ks_distances(X).tolist()
    [0.5, 0.0, 0.5]
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] == 0:
        raise ValueError(f"ks_distances needs a 2-D array with non-empty rows, got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("ks_distances needs finite values")
    n, m = X.shape
    if pairs is None:
        ia, ib = np.triu_indices(n, 1)
    else:
        ia, ib = (np.asarray(v, dtype=np.int64).ravel() for v in pairs)
        if ia.shape != ib.shape or (
            ia.size and (min(ia.min(), ib.min()) < 0 or max(ia.max(), ib.max()) >= n)
        ):
            raise ValueError(f"pairs must be two equal-length arrays of row indices in [0, {n})")
    ranks, _ = global_ranks(X.ravel())
    R = np.sort(ranks.reshape(n, m), axis=1)
    return ks_counts(R, X.size, ia, ib) / float(m)


def global_ranks(flat: Float) -> tuple[NDArray[np.integer], Float]:
    """Ranks of the values of ``flat`` among themselves, and the values sorted.

    The rank of a value is the number of values strictly smaller (equal values share
    a rank), so ranks order the values exactly and ties stay ties.
    """
    order = _value_order(flat)
    s = np.take(flat, order)
    n = s.size
    dtype = np.int32 if n < np.iinfo(np.int32).max else np.int64  # int32 sorts faster
    first: NDArray[np.integer] = np.arange(n, dtype=dtype)
    if n > 1:
        ties = s[1:] == s[:-1]
        if ties.any():
            first[1:][ties] = 0
            np.maximum.accumulate(first, out=first)
    ranks = np.empty_like(first)
    ranks[order] = first
    return ranks, s


def _value_order(flat: Float) -> NDArray[np.intp]:
    """``numpy.argsort(flat)``, but for the order of equal values (the callers ignore it).

    When the values leave the low bits of their float64 mantissa free (float32 weights
    and most differences of them do), one numpy.sort of int64 keys, an order-preserving
    image of each value with its index in those bits, is several times faster than
    numpy.argsort. A layer with -0.0 takes numpy.argsort: it orders -0.0 and 0.0 (equal
    values with different bits) the same way as before.
    """
    n = flat.size
    bits = max(1, int(n - 1).bit_length())
    if n < 2 or bits > 24 or not flat.flags.c_contiguous:
        return np.argsort(flat)
    u = flat.view(np.int64)
    low = np.int64((1 << bits) - 1)
    if np.bitwise_and(u, low).any() or (u == np.iinfo(np.int64).min).any():
        return np.argsort(flat)
    # negative values: flip the magnitude bits (sign bit kept), so that int64 order is
    # float order; their low bits, now ones, are cleared like those of the others
    key = np.right_shift(u, 63)
    key &= np.int64(np.iinfo(np.int64).max)
    key ^= u
    key &= ~low
    key |= np.arange(n, dtype=np.int64)
    key.sort()
    key &= low
    return key


def ks_counts(R: NDArray[np.integer], n_values: int, ia: Int, ib: Int) -> Int:
    """``m * KS`` of the row pairs ``(ia[k], ib[k])`` of rank rows ``R`` (sorted ascending).

    ``R`` holds the ranks (:func:`global_ranks`) of ``n_values`` values, split into
    rows of equal length ``m``. Memory is bounded: pairs are processed in chunks.
    """
    n, m = R.shape
    starts = np.arange(n + 1, dtype=np.int64) * m
    return ks_counts_rows(R.reshape(-1), starts, n_values, ia, ib, n_units=n)


def ks_counts_rows(
    ranks: NDArray[np.integer],
    starts: Int,
    n_values: int,
    ia: Int,
    ib: Int,
    *,
    n_units: int,
    level_bits: int = _KS_LEVEL_BITS,
    fine_offset: int = _KS_FINE_OFFSET,
    pair_chunk: int = _KS_PAIR_CHUNK,
) -> Int:
    """:func:`ks_counts` of rank rows of several lengths, stored one after the other.

    Row ``r`` is ``ranks[starts[r]:starts[r + 1]]`` (sorted ascending); both rows of a
    pair must have the same length ``m`` (the result is ``m * KS``). ``n_units`` is
    the number of rows that share the ranks' range (it sets the bucket width: about
    one value of a row per fine bucket); ``level_bits`` and ``fine_offset`` tune the
    grid, ``pair_chunk`` bounds the work arrays (the result is exact whatever they are).
    """
    out = np.zeros(ia.size, dtype=np.int64)
    if ia.size == 0:
        return out
    grid = _KsGrid(ranks, starts, n_values, n_units, level_bits, fine_offset)
    step = max(256, pair_chunk // grid.coarse.shape[1])
    if ia.size <= step:
        return grid.pair_counts(ia, ib)
    # bounds chunk by chunk, then one merge for the fine buckets of all chunks
    lower = np.empty(ia.size, dtype=grid.coarse.dtype)
    cands = []
    for s0 in range(0, ia.size, step):
        low, p, j = grid.fine_candidates(ia[s0 : s0 + step], ib[s0 : s0 + step])
        lower[s0 : s0 + step] = low
        cands.append((p + s0, j))
    p, j = (np.concatenate(x) for x in zip(*cands, strict=True))
    grid.merge_into(lower, ia, ib, p, j)
    out[:] = lower
    return out


def ks_counts_dense(
    ranks: NDArray[np.integer], row_of: Int, n_values: int, groups: list[tuple[int, int, int, int]]
) -> list[NDArray[np.integer]]:
    """``m * KS`` by a dense table, for a few short rows of a few values (no pruning).

    ``ranks`` are sorted rank rows stored one after the other, ``row_of`` the row of
    each value (non-decreasing, from 0). ``groups`` lists ``(row0, rows, m, v0)``:
    ``rows`` rows of length ``m`` from row ``row0``, their values from ``ranks[v0]``.
    Returns, per group, the matrix ``D`` of shape ``(rows, rows)`` with ``D[a, b]`` the
    largest ``m * |F_a - F_b|`` at the values of row ``a``; the KS count of a pair is
    ``max(D[a, b], D[b, a])``. Work and memory: ``len(ranks) * n_rows``.
    """
    n = int(row_of[-1]) + 1
    counts = np.bincount(ranks * n + row_of, minlength=n_values * n).reshape(n_values, n)
    # C[v, r]: number of values of row r with rank <= v (tied values share their rank)
    C = np.cumsum(counts, axis=0, dtype=np.int32)
    M = C[ranks]
    M -= M[np.arange(ranks.size), row_of][:, None]  # minus the own row's count
    np.abs(M, out=M)
    out = []
    for row0, rows, m, v0 in groups:
        block = M[v0 : v0 + rows * m, row0 : row0 + rows].reshape(rows, m, rows)
        out.append(np.maximum.reduce(block, axis=1))
    return out


class _KsGrid:
    """Bucketed cumulative counts of rank rows, and the branch and bound over them."""

    def __init__(
        self,
        ranks: NDArray[np.integer],
        starts: Int,
        n_values: int,
        n_units: int,
        level_bits: int = _KS_LEVEL_BITS,
        fine_offset: int = _KS_FINE_OFFSET,
    ) -> None:
        n = starts.size - 1
        lens = np.diff(starts)
        m = int(lens.max())
        self.start = starts
        dtype = np.int16 if m < np.iinfo(np.int16).max else np.int32
        # Fine buckets of 2**fs ranks hold about 2**fine_offset values of a row; a
        # coarse bucket holds `factor` fine ones.
        self.fine_shift = fs = max(0, int(n_units - 1).bit_length() + fine_offset)
        self.factor = f = 1 << level_bits
        n_coarse = ((n_values - 1) >> (fs + level_bits)) + 1
        width = n_coarse * f + 1  # columns of C
        # C[r, j]: number of values of row r in the fine buckets < j, stored by coarse
        # bucket: Cw[r * n_coarse + J, s] = C[r, J * f + s] for s = 0..f (rows that
        # numpy.take gathers much faster than fancy indexing gathers values), and the
        # coarse edges coarse[r, J] = C[r, J * f].
        row_base = np.arange(n, dtype=np.int64) * (width - 1)
        if (lens == m).all():
            bucket = ((ranks.reshape(n, m) >> fs) + row_base[:, None]).reshape(-1)
        else:
            bucket = (ranks >> fs) + np.repeat(row_base, lens)
        counts = np.bincount(bucket, minlength=n * (width - 1)).astype(dtype)
        counts = counts.reshape(n * n_coarse, f)
        Cw = np.empty((n * n_coarse, f + 1), dtype=dtype)
        Cw[:, 0] = 0
        for s in range(f):  # f long columns: much faster than numpy.cumsum of f-wide rows
            np.add(Cw[:, s], counts[:, s], out=Cw[:, s + 1])
        self.coarse = coarse = np.zeros((n, n_coarse + 1), dtype=dtype)
        np.cumsum(Cw[:, f].reshape(n, n_coarse), axis=1, out=coarse[:, 1:])
        Cw += coarse[:, :-1].reshape(-1, 1)
        self.Cw, self.Cw_flat = Cw, Cw.reshape(-1)
        self.width, self.n_coarse = width, n_coarse
        # Heavily tied rows are run-length encoded (one entry per distinct rank of a row,
        # with its count) so that tied values cost one entry in the merge; RC is C
        # counted in entries, offset to index the flat entry arrays. With few ties
        # every value is its own entry (equal ranks are grouped in the merge anyway).
        self.run_rank: NDArray[np.integer] = ranks
        self.run_count: NDArray[np.int64] | None = None
        self.RC: NDArray[np.int64] | None = None
        new = np.empty(ranks.size, dtype=bool)
        np.not_equal(ranks[1:], ranks[:-1], out=new[1:])
        new[starts[:-1]] = True
        if np.count_nonzero(new) < ranks.size // 2:
            run_starts = np.flatnonzero(new)
            runs_per_row = np.diff(np.searchsorted(run_starts, starts))
            self.run_rank = self.run_rank[run_starts]
            ends = np.empty_like(run_starts)
            ends[:-1], ends[-1] = run_starts[1:], ranks.size
            self.run_count = _lengths(ends)
            run_row = np.repeat(np.arange(n, dtype=np.int64), runs_per_row)
            keys = (self.run_rank >> fs) + run_row * (width - 1)
            self.RC = RC = np.zeros((n, width), dtype=np.int64)
            RC[:, 1:] = _sorted_counts(keys, n * (width - 1)).reshape(n, width - 1)
            np.cumsum(RC.ravel(), out=RC.ravel())
        self.count_bits = int(m).bit_length()

    def pair_counts(self, a: Int, b: Int) -> Int:
        """Exact ``m * KS`` of the pairs ``(a[k], b[k])``."""
        lower, p, j = self.fine_candidates(a, b)
        self.merge_into(lower, a, b, p, j)
        return lower.astype(np.int64)

    def fine_candidates(self, a: Int, b: Int) -> tuple[NDArray[np.integer], Int, Int]:
        """The largest |walk| of each pair at the fine bucket edges, and the fine
        buckets ``j[k]`` of pairs ``p[k]`` (sorted) where it may still be beaten: the
        max over the coarse edges, then the fine edges of the coarse buckets that may
        beat that."""
        Ca, Cb = np.take(self.coarse, a, axis=0), np.take(self.coarse, b, axis=0)
        gap, up = _bounds(Ca, Cb)
        lower = _row_max(gap)
        p, J = np.divmod(np.flatnonzero(up > lower[:, None]), Ca.shape[1])
        if p.size == 0:
            return lower, p, J
        wa = np.take(self.Cw, a[p] * self.n_coarse + J, axis=0)
        wb = np.take(self.Cw, b[p] * self.n_coarse + J, axis=0)
        gap, up = _bounds(wa, wb)
        _segment_max_into(lower, p, gap)
        k, sub = np.divmod(np.flatnonzero(up > lower[p][:, None]), self.factor + 1)
        return lower, p[k], J[k] * self.factor + sub

    def merge_into(self, lower: NDArray[np.integer], a: Int, b: Int, p: Int, j: Int) -> None:
        """Raise lower[p] to the max of |walk| of pair p inside fine bucket j (p sorted),
        by merging the two rows' values there."""
        if p.size == 0:
            return
        for s0, s1 in self._merge_batches(a[p], b[p], j):
            cut = slice(s0, s1)
            _segment_max_into(lower, p[cut], self._merge(a[p[cut]], b[p[cut]], j[cut]))

    def _runs(self, rows: Int, j: Int) -> tuple[Int, Int]:
        """Index of the first run entry of row ``rows`` in fine bucket ``j``, and their number."""
        if self.RC is None:
            at = self._at(rows, j)
            start = np.take(self.Cw_flat, at).astype(np.int64)
            return start + np.take(self.start, rows), np.take(self.Cw_flat, at + 1) - start
        at = rows * self.width + j
        RC = self.RC.reshape(-1)
        start = np.take(RC, at)
        return start, np.take(RC, at + 1) - start

    def _at(self, rows: Int, j: Int) -> Int:
        """Index in ``Cw_flat`` of ``C[rows, j]``; that of ``C[rows, j + 1]`` is one more."""
        level = self.factor.bit_length() - 1
        return (rows * self.n_coarse + (j >> level)) * (self.factor + 1) + (j & (self.factor - 1))

    def _merge_batches(self, a: Int, b: Int, j: Int) -> list[tuple[int, int]]:
        """Split candidates into runs of bounded size and bounded key width."""
        size = self._runs(a, j)[1] + self._runs(b, j)[1]
        max_cands = 1 << max(0, 62 - self.fine_shift - 1 - self.count_bits)
        ends = np.cumsum(size)
        bounds, s0 = [], 0
        while s0 < size.size:
            done = int(ends[s0 - 1]) if s0 else 0
            s1 = int(np.searchsorted(ends, done + _KS_MERGE_CHUNK, side="right"))
            s1 = min(max(s1, s0 + 1), s0 + max_cands, size.size)
            bounds.append((s0, s1))
            s0 = s1
        return bounds

    def _merge(self, a: Int, b: Int, j: Int) -> Int:
        """Exact max of |walk| inside fine bucket j[k] of pair (a[k], b[k])."""
        nc = a.size
        at_a, at_b = self._at(a, j), self._at(b, j)
        Cw = self.Cw_flat
        sa, sb = np.take(Cw, at_a).astype(np.int64), np.take(Cw, at_b).astype(np.int64)
        ea, eb = np.take(Cw, at_a + 1).astype(np.int64), np.take(Cw, at_b + 1).astype(np.int64)
        tot = (ea - sa) - (eb - sb)
        (ra, la), (rb, lb) = self._runs(a, j), self._runs(b, j)
        # Segments of run entries, interleaved: a's runs then b's runs of each candidate.
        seg_len = np.empty(2 * nc, dtype=np.int64)
        seg_len[0::2], seg_len[1::2] = la, lb
        seg_src = np.empty(2 * nc, dtype=np.int64)
        seg_src[0::2], seg_src[1::2] = ra, rb
        seg_end = np.cumsum(seg_len)
        seg_start = seg_end - seg_len
        src = np.repeat(seg_src - seg_start, seg_len)
        src += np.arange(int(seg_end[-1]), dtype=np.int64)
        # Sort key: candidate | rank within the bucket | from b? | count. Sorting it
        # merges each candidate's two runs; equal ranks end up side by side.
        fs, cb = self.fine_shift, self.count_bits
        rel = self.run_rank[src] - (np.repeat(np.repeat(j, 2), seg_len) << fs)
        head = np.empty(2 * nc, dtype=np.int64)
        head[0::2] = np.arange(nc, dtype=np.int64) << (fs + 1)
        head[1::2] = head[0::2] + 1
        key = (rel << 1) + np.repeat(head, seg_len)
        key <<= cb
        key += 1 if self.run_count is None else self.run_count[src]
        key.sort()
        walk = key & ((1 << cb) - 1)
        key >>= cb
        walk[(key & 1).astype(bool)] *= -1
        # Start each candidate's cumulative sum at its value on the bucket's left edge.
        cstart = seg_start[0::2]
        base = sa - sb
        adj = base.copy()
        adj[1:] -= base[:-1] + tot[:-1]
        walk[cstart] += adj
        np.cumsum(walk, out=walk)
        np.abs(walk, out=walk)
        key >>= 1
        walk[:-1][key[1:] == key[:-1]] = 0  # only after the last value of a tie group
        return np.maximum.reduceat(walk, cstart)


def _sorted_counts(keys: NDArray[np.integer], size: int) -> Int:
    """``numpy.bincount(keys, minlength=size)`` for sorted keys (counts runs: faster)."""
    ends = _run_ends(keys)
    counts = np.zeros(size, dtype=np.int64)
    counts[keys[ends - 1]] = _lengths(ends)
    return counts


def _run_ends(keys: NDArray[np.integer]) -> Int:
    """One past the last index of each run of equal values of ``keys``."""
    last = np.flatnonzero(keys[1:] != keys[:-1])
    ends = np.empty(last.size + 1, dtype=np.int64)
    np.add(last, 1, out=ends[:-1])
    ends[-1] = keys.size
    return ends


def _lengths(ends: Int) -> Int:
    """Lengths of consecutive runs ending at ``ends`` (the first starting at 0)."""
    lengths = ends.copy()
    lengths[1:] -= ends[:-1]
    return lengths


def _bounds(
    Ca: NDArray[np.integer], Cb: NDArray[np.integer]
) -> tuple[NDArray[np.integer], NDArray[np.integer]]:
    """For rows of cumulative counts at bucket edges (k, w): |walk| = |Ca - Cb| at each
    edge, and an upper bound of |walk| inside the bucket that starts at each edge (-1
    at a row's last edge, which starts none). Computed on the flat arrays: fast for
    the short rows of the refinement too."""
    xa, xb = Ca.ravel(), Cb.ravel()
    gap = xa - xb
    np.abs(gap, out=gap)
    up = np.empty_like(xa)
    np.subtract(xa[1:], xb[:-1], out=up[:-1])
    np.maximum(up[:-1], xb[1:] - xa[:-1], out=up[:-1])
    w = Ca.shape[1]
    up[w - 1 :: w] = -1
    return gap.reshape(Ca.shape), up.reshape(Ca.shape)


def _row_max(M: NDArray[np.integer]) -> NDArray[np.integer]:
    """M.max(axis=1), faster for short rows (numpy reduces them one at a time)."""
    if M.shape[1] > 16:
        return M.max(axis=1)
    out = M[:, 0].copy()
    for k in range(1, M.shape[1]):
        np.maximum(out, M[:, k], out=out)
    return out


def _segment_max_into(target: NDArray[np.integer], p: Int, vals: NDArray[np.integer]) -> None:
    """``target[p[k]] = max(target[p[k]], vals[k])`` (a row of values per k allowed) for
    sorted ``p``, i.e. groups of equal p contiguous."""
    if p.size == 0:
        return
    starts = np.concatenate(([0], _run_ends(p)[:-1]))
    width = vals.size // p.size
    best = np.maximum.reduceat(vals.ravel(), starts * width)
    q = p[starts]
    target[q] = np.maximum(target[q], best)
