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
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided
from numpy.typing import ArrayLike, NDArray

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
# Number of values per block of rows in the statistics.
_STATS_BLOCK = 1 << 16
# Work sizes (numbers of array elements) that bound the memory of the KS search.
_KS_PAIR_CHUNK = 1 << 18
_KS_MERGE_CHUNK = 1 << 21
# KS grids: a fine bucket holds about 2**_KS_FINE_OFFSET values of each row, a coarse
# bucket 2**_KS_LEVEL_BITS fine buckets (tuned on the benchmark's layers).
_KS_LEVEL_BITS = 3
_KS_FINE_OFFSET = 0

Float = NDArray[np.float64]
Int = NDArray[np.int64]


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
    order = np.argsort(flat)
    s = flat[order]
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


def ks_counts(R: NDArray[np.integer], n_values: int, ia: Int, ib: Int) -> Int:
    """``m * KS`` of the row pairs ``(ia[k], ib[k])`` of rank rows ``R`` (sorted ascending).

    ``R`` holds the ranks (:func:`global_ranks`) of ``n_values`` values, split into
    rows of equal length ``m``. Memory is bounded: pairs are processed in chunks.
    """
    n, m = R.shape
    out = np.zeros(ia.size, dtype=np.int64)
    if ia.size == 0:
        return out
    grid = _KsGrid(R, n_values)
    step = max(256, _KS_PAIR_CHUNK // grid.coarse.shape[1])
    for s0 in range(0, ia.size, step):
        out[s0 : s0 + step] = grid.pair_counts(ia[s0 : s0 + step], ib[s0 : s0 + step])
    return out


class _KsGrid:
    """Bucketed cumulative counts of rank rows, and the branch and bound over them."""

    def __init__(self, R: NDArray[np.integer], n_values: int) -> None:
        n, m = R.shape
        self.m = m
        dtype = np.int16 if m < np.iinfo(np.int16).max else np.int32
        # Fine buckets of 2**fs ranks hold about 2**_KS_FINE_OFFSET values of a row; a
        # coarse bucket holds `factor` fine ones.
        self.fine_shift = fs = max(0, int(n - 1).bit_length() + _KS_FINE_OFFSET)
        self.factor = f = 1 << _KS_LEVEL_BITS
        n_coarse = ((n_values - 1) >> (fs + _KS_LEVEL_BITS)) + 1
        width = n_coarse * f + 1  # columns of C
        # C[r, j]: number of values of row r in the fine buckets < j.
        rows = np.arange(n, dtype=np.int64)[:, None]
        bucket = (R >> fs) + rows * (width - 1)  # sorted, as R's rows are
        self.C: NDArray[np.integer] = np.zeros((n, width), dtype=dtype)
        C = self.C
        C[:, 1:] = _sorted_counts(bucket.ravel(), n * (width - 1)).reshape(n, width - 1)
        np.cumsum(C[:, 1:], axis=1, out=C[:, 1:])
        self.coarse = np.ascontiguousarray(C[:, ::f])
        st = C.strides
        self.windows = as_strided(C, shape=(n, n_coarse, f + 1), strides=(st[0], f * st[1], st[1]))
        # Heavily tied rows are run-length encoded (one entry per distinct rank of a row,
        # with its count) so that tied values cost one entry in the merge; RC is C
        # counted in entries, offset to index the flat entry arrays. With few ties
        # every value is its own entry (equal ranks are grouped in the merge anyway).
        self.run_rank: NDArray[np.integer] = R.ravel()
        self.run_count: NDArray[np.int64] | None = None
        self.RC: NDArray[np.int64] | None = None
        new = np.empty(R.shape, dtype=bool)
        new[:, 0] = True
        np.not_equal(R[:, 1:], R[:, :-1], out=new[:, 1:])
        runs_per_row = new.sum(axis=1)
        if runs_per_row.sum() < R.size // 2:
            starts = np.flatnonzero(new)
            self.run_rank = self.run_rank[starts]
            ends = np.empty_like(starts)
            ends[:-1], ends[-1] = starts[1:], R.size
            self.run_count = _lengths(ends)
            run_row = np.repeat(np.arange(n, dtype=np.int64), runs_per_row)
            keys = (self.run_rank >> fs) + run_row * (width - 1)
            self.RC = RC = np.zeros((n, width), dtype=np.int64)
            RC[:, 1:] = _sorted_counts(keys, n * (width - 1)).reshape(n, width - 1)
            np.cumsum(RC.ravel(), out=RC.ravel())
        self.count_bits = int(m).bit_length()

    def pair_counts(self, a: Int, b: Int) -> Int:
        """Exact ``m * KS`` of the pairs ``(a[k], b[k])``."""
        Ca, Cb = self.coarse[a], self.coarse[b]
        gap, up = _bounds(Ca, Cb)
        lower = _row_max(gap)
        p, J = np.divmod(np.flatnonzero(up > lower[:, None]), Ca.shape[1])
        self._refine(a, b, lower, p, J)
        return lower.astype(np.int64)

    def _refine(self, a: Int, b: Int, lower: NDArray[np.integer], p: Int, J: Int) -> None:
        """Raise lower[p] to the max of |walk| of pair p inside coarse bucket J (p sorted):
        first on the fine grid, then by merging the fine buckets that may still beat it."""
        if p.size == 0:
            return
        gap, up = _bounds(self.windows[a[p], J], self.windows[b[p], J])
        _segment_max_into(lower, p, gap)
        k, sub = np.divmod(np.flatnonzero(up > lower[p][:, None]), self.factor + 1)
        p, j = p[k], J[k] * self.factor + sub
        for s0, s1 in self._merge_batches(a[p], b[p], j):
            cut = slice(s0, s1)
            _segment_max_into(lower, p[cut], self._merge(a[p[cut]], b[p[cut]], j[cut]))

    def _runs(self, rows: Int, j: Int) -> tuple[Int, Int]:
        """Index of the first run entry of row ``rows`` in fine bucket ``j``, and their number."""
        if self.RC is None:
            start = self.C[rows, j].astype(np.int64)
            return start + rows * self.m, self.C[rows, j + 1] - start
        start = self.RC[rows, j]
        return start, self.RC[rows, j + 1] - start

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
        sa, sb = self.C[a, j].astype(np.int64), self.C[b, j].astype(np.int64)
        tot = (self.C[a, j + 1] - sa) - (self.C[b, j + 1] - sb)
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
