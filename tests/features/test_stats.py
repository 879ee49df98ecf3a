"""g, h and the KS distance against numpy/scipy, on random and awkward data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats

from weightcast.features import N_BINS, STATS, SUMMARIES, ks_distances, row_stats, summarize
from weightcast.features._stats import _BSEARCH_MIN_LEN, _histogram_counts

pytestmark = pytest.mark.filterwarnings("error")

COL = {name: k for k, name in enumerate(STATS)}


def _rows(rng: np.random.Generator) -> list[np.ndarray]:
    """Rows of many kinds: continuous, tied, integer, float16, tiny/huge scales, short."""
    rows = []
    for m in (1, 2, 3, 7, 49, 255, 256, 1000):
        rows += [
            rng.normal(size=m),
            rng.integers(-3, 4, size=m).astype(float),
            rng.normal(size=m).astype(np.float16).astype(float),
            rng.exponential(size=m) * 1e-30,
            rng.standard_t(2, size=m) * 1e20,
            np.full(m, 0.1),
            np.linspace(-1.0, 2.0, m),  # values on the bin edges
        ]
    return rows


def _scale(x: np.ndarray, p: int) -> float:
    return float(np.max(np.abs(x - x.mean())) ** p) if x.size else 0.0


@pytest.fixture(scope="module")
def rows() -> list[np.ndarray]:
    return _rows(np.random.default_rng(0))


def test_moments_match_scipy(rows):
    for x in rows:
        g = row_stats(x[None])[0]
        const = x.min() == x.max()
        assert g[COL["mean"]] == pytest.approx(np.mean(x), rel=1e-12, abs=1e-300)
        for p in range(1, 6):
            expected = scipy.stats.moment(x, p) if not const else 0.0
            assert abs(g[COL[f"cm{p}"]] - expected) <= 1e-9 * abs(expected) + 1e-12 * _scale(x, p)
        if const:  # exactly: no rounding noise from the mean of equal values
            assert g[COL["skew"]] == g[COL["kurt"]] == g[COL["std"]] == 0.0
        else:
            assert g[COL["std"]] == pytest.approx(np.std(x), rel=1e-9)
            assert g[COL["skew"]] == pytest.approx(scipy.stats.skew(x), rel=1e-8, abs=1e-9)
            assert g[COL["kurt"]] == pytest.approx(scipy.stats.kurtosis(x, fisher=False), rel=1e-9)


def test_quantiles_are_numpys_bit_for_bit(rows):
    for x in rows:
        g = row_stats(x[None])[0]
        q = np.quantile(x, [0.25, 0.5, 0.75])
        assert g[[COL["q25"], COL["q50"], COL["q75"]]].tolist() == q.tolist()


def test_entropy_from_numpys_histogram(rows):
    for x in rows:
        g = row_stats(x[None])[0]
        if x.min() == x.max():
            assert g[COL["entropy"]] == 0.0
            continue
        counts = np.histogram(x, bins=N_BINS)[0]
        p = counts[counts > 0] / x.size
        assert g[COL["entropy"]] == pytest.approx(-(p * np.log(p)).sum(), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("m", [2, 5, 49, _BSEARCH_MIN_LEN - 1, _BSEARCH_MIN_LEN, 2000])
def test_histogram_counts_equal_numpy_on_tricky_rows(m):
    """Both code paths (short rows: bin arithmetic; long rows: binary search)."""
    rng = np.random.default_rng(m)
    rows = []
    for _ in range(60):
        lo, width = rng.normal(), rng.choice([1e-12, 1e-3, 1.0, 3.0, 1e6])
        edges = np.linspace(lo, lo + width, N_BINS + 1)
        kind = rng.integers(5)
        if kind == 0:  # exactly on the bin edges, both ends included
            x = rng.choice(edges, size=m)
            x[:2] = edges[0], edges[-1]
        elif kind == 1:  # one ulp either side of the edges
            x = np.nextafter(rng.choice(edges, size=m), rng.choice([-np.inf, np.inf], size=m))
        elif kind == 2:
            x = rng.integers(-40, 40, size=m).astype(float)
        elif kind == 3:
            x = (rng.normal(size=m) * min(width, 1e3)).astype(np.float16).astype(float)
        else:
            x = lo + width * rng.random(m)
        rows.append(np.sort(x))
    S = np.array(rows)
    const = S[:, 0] == S[:, -1]
    counts = _histogram_counts(S, const)
    for i in np.flatnonzero(~const):
        np.testing.assert_array_equal(counts[i], np.histogram(S[i], bins=N_BINS)[0])


def test_row_stats_batched_equals_one_row_at_a_time():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 49))
    X[7] = 2.5
    batched = row_stats(X)
    single = np.array([row_stats(x[None])[0] for x in X])
    np.testing.assert_array_equal(batched, single)


def test_constant_row_has_exact_mean_and_zero_spread():
    g = row_stats(np.full((1, 3), 0.1))[0]
    assert g[COL["mean"]] == 0.1 and g[COL["q50"]] == 0.1
    assert (g[COL["std"] :] == 0).all()


def test_huge_and_tiny_scales_stay_finite():
    for scale in (1e-300, 1e-160, 1e40):
        x = np.array([[0.0, 1.0, 2.0, 10.0]]) * scale
        g = row_stats(x)[0]
        assert np.isfinite(g).all()
        if g[COL["cm2"]] > 0:
            assert g[COL["kurt"]] == pytest.approx(scipy.stats.kurtosis(x[0] / scale, fisher=False))


def test_summarize_matches_numpy():
    rng = np.random.default_rng(2)
    V = rng.normal(size=(11, 13))
    h = summarize(V)
    expected = [V.mean(0), np.median(V, 0), V.std(0), V.max(0), V.min(0)]
    np.testing.assert_allclose(h, expected, rtol=1e-14)
    assert len(SUMMARIES) == h.shape[0] == 5
    np.testing.assert_array_equal(summarize(np.zeros((0, 4))), np.zeros((5, 4)))
    np.testing.assert_array_equal(summarize(np.full((3, 1), 0.1))[:, 0], [0.1, 0.1, 0.0, 0.1, 0.1])


def _some_ties(rng: np.random.Generator) -> np.ndarray:
    """Ties within and across rows, but too few to run-length encode the rows."""
    X = rng.normal(size=(10, 200))
    X[:, ::7] = X[:, 1::7][:, : X[:, ::7].shape[1]]
    X[1::2, :20] = X[0, :20]
    return X


def _ks_ref(X: np.ndarray) -> np.ndarray:
    n = len(X)
    with warnings.catch_warnings(), np.errstate(all="ignore"):  # scipy's p-value, unused
        warnings.simplefilter("ignore")
        return np.array(
            [
                scipy.stats.ks_2samp(X[i], X[j], method="asymp").statistic
                for i in range(n)
                for j in range(i + 1, n)
            ]
        )


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: rng.normal(size=(12, 40)),
        lambda rng: rng.normal(size=(9, 300)) * rng.uniform(0.2, 3, size=(9, 1)),
        lambda rng: rng.integers(0, 4, size=(10, 25)).astype(float),  # heavy ties
        lambda rng: rng.normal(size=(8, 64)).astype(np.float16).astype(float),
        lambda rng: np.repeat(rng.normal(size=(1, 30)), 5, axis=0),  # identical rows
        lambda rng: np.vstack([np.zeros((3, 17)), rng.normal(size=(3, 17))]),  # zero rows
        lambda rng: rng.normal(size=(6, 1)),  # one value per row
        lambda rng: np.full((4, 9), 0.5),  # constant
        lambda rng: rng.normal(size=(3, 5000)) + np.array([[0.0], [1e-3], [0.0]]),
        lambda rng: _some_ties(rng),
    ],
)
def test_ks_distances_equal_ks_2samp(make):
    X = make(np.random.default_rng(3))
    np.testing.assert_allclose(ks_distances(X), _ks_ref(X), rtol=0, atol=1e-12)


def test_ks_distances_of_chosen_pairs_and_errors():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(5, 20))
    i, j = np.array([4, 0, 2]), np.array([1, 3, 2])
    expected = [scipy.stats.ks_2samp(X[a], X[b]).statistic for a, b in zip(i, j, strict=True)]
    np.testing.assert_allclose(ks_distances(X, (i, j)), expected, atol=1e-12)
    with pytest.raises(ValueError, match="row indices"):
        ks_distances(X, ([0], [5]))
    with pytest.raises(ValueError, match="finite"):
        ks_distances(np.array([[0.0, np.nan], [1.0, 2.0]]))
