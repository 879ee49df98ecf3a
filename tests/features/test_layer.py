"""layer_features against a brute-force reference (one unit, one kernel, one pair at a time)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from weightcast.features import (
    KS_MAX_UNITS,
    KS_SAMPLE_PAIRS,
    MAX_ABS_WEIGHT,
    N_BINS,
    STATS,
    SUMMARIES,
    NonFiniteWeightsError,
    conv_feature_names,
    fc_feature_names,
    ks_distances,
    layer_features,
    summarize,
    unit_pairs,
)

pytestmark = pytest.mark.filterwarnings("error")


# ------------------------------------------------------------------ the reference


def ref_g(x: np.ndarray) -> list[float]:
    """The spec's g, one vector, with numpy/scipy and nothing clever."""
    x = np.asarray(x, dtype=np.float64)
    const = x.min() == x.max()
    cm = [0.0 if const else float(scipy.stats.moment(x, p)) for p in range(1, 6)]
    counts = np.histogram(x, bins=N_BINS)[0]
    p = counts[counts > 0] / x.size
    return [
        float(np.mean(x)),
        *np.quantile(x, [0.25, 0.5, 0.75]).tolist(),
        float(np.sqrt(cm[1])),
        0.0 if cm[1] == 0 else float(scipy.stats.skew(x)),
        0.0 if cm[1] == 0 else float(scipy.stats.kurtosis(x, fisher=False)),
        *cm,
        0.0 if const else float(-(p * np.log(p)).sum()),
    ]


def ref_h(values: list) -> np.ndarray:
    if len(values) == 0:
        return np.zeros((5, 1))
    v = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    return np.stack([v.mean(0), np.median(v, 0), v.std(0), v.max(0), v.min(0)])


def ref_ks(rows: list[np.ndarray]) -> list[float]:
    with warnings.catch_warnings(), np.errstate(all="ignore"):  # scipy's p-value, unused
        warnings.simplefilter("ignore")
        return [
            scipy.stats.ks_2samp(rows[i], rows[j], method="asymp").statistic
            for i in range(len(rows))
            for j in range(i + 1, len(rows))
        ]


def ref_layer(W: np.ndarray) -> dict[str, float]:
    W = np.asarray(W, dtype=np.float64)
    n_out, n_in = W.shape[:2]
    ins = [W[:, i].ravel() for i in range(n_in)]
    outs = [W[j].ravel() for j in range(n_out)]
    out = dict(zip([f"all.{s}" for s in STATS], ref_g(W.ravel()), strict=True))
    groups = [("in", ins), ("out", outs)]
    if W.ndim == 4:
        groups.append(("kernel", [W[j, i].ravel() for j in range(n_out) for i in range(n_in)]))
    for group, rows in groups:
        h = ref_h([ref_g(r) for r in rows])
        for a, summary in enumerate(SUMMARIES):
            for b, stat in enumerate(STATS):
                out[f"{group}.{summary}.{stat}"] = float(h[a, b])
    for group, rows in (("ks_in", ins), ("ks_out", outs)):
        h = ref_h(ref_ks(rows))
        for a, summary in enumerate(SUMMARIES):
            out[f"{group}.{summary}"] = float(h[a, 0])
    return out


def assert_features_close(got: dict, expected: dict, W: np.ndarray, rtol: float = 1e-9) -> None:
    """Feature by feature; central moments also get an absolute slack for rounding."""
    assert list(got) == list(expected)
    spread = float(np.ptp(np.asarray(W, dtype=np.float64))) or 1.0
    for name, value in expected.items():
        power = int(name[-1]) if name[-3:-1] == "cm" else 1
        slack = 1e-12 * spread**power
        if name.split(".")[-1] in ("skew", "kurt"):
            slack = 1e-9
        assert abs(got[name] - value) <= rtol * abs(value) + slack, (name, got[name], value)


# ---------------------------------------------------------------------- tests


def test_names_and_counts():
    conv, fc = conv_feature_names(), fc_feature_names()
    assert len(conv) == 218 and len(fc) == 153
    assert len(set(conv)) == 218 and set(fc) < set(conv)
    assert conv[:13] == [f"all.{s}" for s in STATS]
    assert conv[13:16] == ["in.mean.mean", "in.mean.q25", "in.mean.q50"]
    assert "kernel.median.entropy" in conv and not any(n.startswith("kernel") for n in fc)
    assert conv[-10:] == [f"{g}.{h}" for g in ("ks_in", "ks_out") for h in SUMMARIES]
    assert list(layer_features(np.ones((2, 3, 3, 3)))) == conv
    assert list(layer_features(np.ones((2, 3)))) == fc


@pytest.mark.parametrize(
    "shape", [(6, 3, 3, 3), (5, 4, 1, 1), (1, 3, 2, 2), (4, 1, 5, 5), (7, 5), (4, 1), (1, 9)]
)
@pytest.mark.parametrize("kind", ["normal", "ties", "float16", "scaled_units"])
def test_equals_brute_force_reference(shape, kind):
    rng = np.random.default_rng(abs(hash((shape, kind))) % 2**32)
    W = rng.normal(size=shape) * 0.1
    if kind == "ties":
        W = np.round(W * 20) / 20
    elif kind == "float16":
        W = W.astype(np.float16)
    elif kind == "scaled_units":
        W = W * rng.lognormal(0, 1, size=(shape[0],) + (1,) * (len(shape) - 1))
    assert_features_close(layer_features(W), ref_layer(W), W)


def test_larger_layer_equals_reference():
    rng = np.random.default_rng(7)
    W = rng.normal(size=(20, 12, 5, 5)).astype(np.float32)
    W[3] *= 4  # a unit on another scale
    W[:, 5] = 0.0  # a dead input unit: ties and a constant row
    assert_features_close(layer_features(W), ref_layer(W), W)


def test_constant_layer_single_unit_and_1x1_kernels_are_defined():
    const = layer_features(np.full((8, 4, 3, 3), 0.25, dtype=np.float32))
    assert const["all.mean"] == 0.25 and const["kernel.max.q75"] == 0.25
    for name, value in const.items():
        if name.split(".")[-1] not in ("mean", "q25", "q50", "q75") or name.startswith("ks"):
            assert value == 0.0, name
    single = layer_features(np.arange(6.0).reshape(1, 6))
    assert all(single[f"ks_out.{h}"] == 0.0 for h in SUMMARIES)  # no pairs
    assert single["ks_in.max"] == 1.0
    pointwise = layer_features(np.random.default_rng(0).normal(size=(5, 4, 1, 1)))
    assert pointwise["kernel.max.std"] == 0.0 and pointwise["kernel.mean.entropy"] == 0.0
    for f in (const, single, pointwise):
        assert np.isfinite(list(f.values())).all()


def test_dtypes_give_the_float64_features():
    W = np.random.default_rng(1).normal(size=(6, 4, 3, 3)).astype(np.float16)
    expected = layer_features(W.astype(np.float64))
    assert layer_features(W) == expected
    assert layer_features(W.astype(np.float32)) == expected
    ints = np.arange(24).reshape(4, 6)
    assert layer_features(ints) == layer_features(ints.astype(float))
    assert all(isinstance(v, float) for v in expected.values())


@settings(max_examples=25, deadline=None)
@given(
    shape=st.sampled_from([(5, 3, 2, 2), (4, 6, 3, 1), (6, 4), (3, 7)]),
    seed=st.integers(0, 2**32 - 1),
    ties=st.booleans(),
)
def test_permuting_units_changes_nothing(shape, seed, ties):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=shape)
    if ties:
        W = np.round(W * 4) / 4
    f = layer_features(W)
    for permuted in (W[rng.permutation(shape[0])], W[:, rng.permutation(shape[1])]):
        g = layer_features(permuted)
        assert_features_close(g, f, W, rtol=1e-12)


@pytest.mark.parametrize(
    ("W", "match"),
    [
        (np.zeros(3), r"layer 'L'.*got shape \(3,\).*not biases"),
        (np.zeros((2, 3, 4)), r"layer 'L'.*\(C_out, C_in, k, 1\)"),
        (np.zeros((0, 3)), r"layer 'L'.*empty"),
        (np.zeros((2, 2), dtype=complex), r"layer 'L'.*real numbers"),
        (np.array([["a", "b"]]), r"layer 'L'.*real numbers"),
    ],
)
def test_bad_shapes_and_dtypes_raise(W, match):
    with pytest.raises(ValueError, match=match):
        layer_features(W, name="L")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 10 * MAX_ABS_WEIGHT])
def test_diverged_weights_raise(bad):
    W = np.ones((3, 2, 2, 2))
    W[1, 0, 0, 1] = bad
    with pytest.raises(NonFiniteWeightsError, match=r"layer 'conv9'.*diverged"):
        layer_features(W, name="conv9")
    assert issubclass(NonFiniteWeightsError, ValueError)


def test_unit_pairs_exact_then_sampled():
    ia, ib = unit_pairs(KS_MAX_UNITS)
    assert len(ia) == KS_MAX_UNITS * (KS_MAX_UNITS - 1) // 2
    ia, ib = unit_pairs(KS_MAX_UNITS + 1)
    codes = ia * (KS_MAX_UNITS + 1) + ib
    assert len(ia) == KS_SAMPLE_PAIRS == len(np.unique(codes))
    assert ((0 <= ia) & (ia < ib) & (ib <= KS_MAX_UNITS)).all()
    again = unit_pairs.__wrapped__(KS_MAX_UNITS + 1)  # seeded: the same sample every time
    np.testing.assert_array_equal(again[0], ia)


def test_sampled_ks_summaries_are_close_to_exact():
    """Above KS_MAX_UNITS units the KS summaries use KS_SAMPLE_PAIRS pairs. Measured
    error against all pairs: mean, median and std within 1 %; min exact here; max can
    miss the most extreme pairs (here within 5 %)."""
    rng = np.random.default_rng(11)
    W = rng.normal(size=(1100, 32)) * rng.lognormal(0, 0.5, size=(1100, 1))
    exact = summarize(ks_distances(W))[:, 0]
    f = layer_features(W)
    sampled = np.array([f[f"ks_out.{h}"] for h in SUMMARIES])
    rel = np.abs(sampled - exact) / exact
    assert rel[:3].max() < 0.01, rel
    assert sampled[4] == exact[4] and 0.95 * exact[3] <= sampled[3] <= exact[3], (sampled, exact)
