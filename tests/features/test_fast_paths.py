"""The fast paths for small layers give the same numbers, bit for bit, as the general ones.

A small layer's features come from one pass over all its rows (_small_layer_vector); a
large layer's group by group (_large_layer_vector). The KS distances of rows of several
lengths, the dense KS table, the packed argsort and the scratch buffers are checked
against the plain computations they replace.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from weightcast.features import _layer as layer_module
from weightcast.features import _stats as stats_module
from weightcast.features import network_features, unit_pairs
from weightcast.features._layer import _large_layer_vector, _small_layer_vector
from weightcast.features._stats import (
    Scratch,
    _value_order,
    global_ranks,
    ks_counts,
    ks_counts_dense,
    ks_counts_rows,
)

pytestmark = pytest.mark.filterwarnings("error")

SHAPES = [
    (16, 1, 3, 3),  # the digits networks
    (32, 16, 3, 3),
    (32, 32, 3, 3),
    (10, 32),
    (32, 1, 5, 5),
    (8, 8, 5, 5),
    (16, 16, 5, 5),  # rows of 400 values: bin edges found by search
    (20, 300),  # fc: in rows stored transposed, long out rows
    (300, 20),
    (5, 4, 1, 1),  # 1x1 kernels
    (1, 9),  # one unit
    (9, 1),
    (1, 1, 1, 1),
    (3, 1, 1, 1),
    (1, 3, 2, 2),
    (40, 300),
]
KINDS = [
    "normal",
    "float32",
    "ties",
    "heavy_ties",
    "signed_zeros",
    "dead_unit",
    "constant",
    "scaled_units",
    "subnormal",  # bin steps that underflow: numpy.linspace's fallback
    "huge",
    "bin_edges",
]


def _weights(shape: tuple[int, ...], kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    W = rng.normal(size=shape) * 0.1
    if kind == "float32":
        W = W.astype(np.float32).astype(np.float64)
    elif kind == "ties":
        W = np.round(W * 20) / 20  # also gives -0.0
    elif kind == "heavy_ties":
        W = rng.integers(-2, 3, size=shape).astype(np.float64)
    elif kind == "signed_zeros":
        W = np.where(rng.random(shape) < 0.3, -0.0, np.where(rng.random(shape) < 0.4, 0.0, W))
    elif kind == "dead_unit":
        W[:, 0] = 0.0
        W[0] = 0.5
    elif kind == "constant":
        W = np.full(shape, 0.25)
    elif kind == "scaled_units":
        W = W * rng.lognormal(0, 2, size=(shape[0],) + (1,) * (len(shape) - 1))
    elif kind == "subnormal":
        W = rng.integers(-3, 4, size=shape) * 1e-310
    elif kind == "huge":
        W = W * 1e40
    elif kind == "bin_edges":
        edges = np.linspace(-1.0, 2.0, 33)
        W = rng.choice(edges, size=shape)
        W.flat[0], W.flat[-1] = edges[0], edges[-1]
    return np.ascontiguousarray(W, dtype=np.float64)


def _assert_same_bits(got: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))  # -0.0 too


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("kind", KINDS)
def test_small_layer_path_equals_group_by_group_bit_for_bit(shape, kind):
    W = _weights(shape, kind, seed=len(kind) * 1000 + sum(shape))
    with np.errstate(over="ignore", invalid="ignore"):  # the huge layer's cm5 summaries
        _assert_same_bits(_small_layer_vector(W), _large_layer_vector(W))


def test_layer_vector_takes_the_small_path_up_to_its_size(monkeypatch):
    W = _weights((8, 4, 3, 3), "normal", 0)
    calls = []
    monkeypatch.setattr(layer_module, "_large_layer_vector", lambda W: calls.append(W.shape))
    layer_module._layer_vector(W)
    assert calls == []
    monkeypatch.setattr(layer_module, "_SMALL_LAYER", W.size - 1)
    layer_module._layer_vector(W)
    assert calls == [W.shape]


def test_repeated_calls_reuse_the_buffers_and_stay_exact():
    """Scratch buffers and cached plans are reused: a second layer of the same shape, then
    a layer of another shape in between, must not leak values from the previous call."""
    A, B = _weights((32, 16, 3, 3), "normal", 1), _weights((32, 16, 3, 3), "ties", 2)
    C = _weights((10, 32), "normal", 3)
    expected = [_large_layer_vector(X) for X in (A, B, C, A)]
    got = [_small_layer_vector(X) for X in (A, B, C, A)]
    for g, e in zip(got, expected, strict=True):
        _assert_same_bits(g, e)


# ------------------------------------------------------------------------------- KS


def _rank_rows(X: np.ndarray) -> np.ndarray:
    ranks, _ = global_ranks(X.ravel())
    return np.sort(ranks.reshape(X.shape), axis=1).astype(np.int64)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize(("level_bits", "fine_offset", "chunk"), [(3, 0, 1 << 18), (2, -1, 64)])
def test_ks_counts_of_rows_of_several_lengths(ties, level_bits, fine_offset, chunk):
    """Two groups of rows partitioning the same values (like a layer's in and out rows),
    stored one after the other, searched at once: each pair's count as alone."""
    rng = np.random.default_rng(5)
    W = rng.normal(size=(12, 20, 3))
    if ties:
        W = np.round(W * 2) / 2  # heavily tied: run-length encoded rows
    ranks, _ = global_ranks(W.ravel())
    r3 = ranks.reshape(W.shape).astype(np.int64)
    R_in = np.sort(r3.transpose(1, 0, 2).reshape(20, 36), axis=1)
    R_out = np.sort(r3.reshape(12, 60), axis=1)
    flat = np.concatenate([R_in.ravel(), R_out.ravel()])
    starts = np.concatenate([np.arange(20) * 36, 720 + np.arange(13) * 60])
    ia_in, ib_in = unit_pairs(20)
    ia_out, ib_out = unit_pairs(12)
    ia = np.concatenate([ia_in, ia_out + 20])
    ib = np.concatenate([ib_in, ib_out + 20])
    got = ks_counts_rows(
        flat,
        starts,
        W.size,
        ia,
        ib,
        n_units=20,
        level_bits=level_bits,
        fine_offset=fine_offset,
        pair_chunk=chunk,
    )
    expected = np.concatenate(
        [ks_counts(R_in, W.size, ia_in, ib_in), ks_counts(R_out, W.size, ia_out, ib_out)]
    )
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("ties", [False, True])
def test_ks_counts_dense_table(ties):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(9, 7))
    if ties:
        X = np.round(X)
    R = _rank_rows(X)
    row_of = np.repeat(np.arange(9), 7)
    (D,) = ks_counts_dense(R.ravel(), row_of, X.size, [(0, 9, 7, 0)])
    ia, ib = unit_pairs(9)
    np.testing.assert_array_equal(np.maximum(D[ia, ib], D[ib, ia]), ks_counts(R, X.size, ia, ib))


# -------------------------------------------------------------------- packed argsort


@pytest.mark.parametrize(
    "make",
    [
        lambda rng, n: rng.normal(size=n).astype(np.float32).astype(np.float64),  # packed
        lambda rng, n: np.round(rng.normal(size=n) * 4) / 4 + 0.0,  # packed, ties
        lambda rng, n: rng.normal(size=n),  # low bits in use: numpy.argsort
        lambda rng, n: np.where(rng.random(n) < 0.5, -0.0, 1.0),  # -0.0: numpy.argsort
        lambda rng, n: -np.abs(rng.normal(size=n)).astype(np.float32).astype(np.float64),
        lambda rng, n: rng.integers(-3, 3, size=n) * 1e-300,
    ],
)
@pytest.mark.parametrize("n", [1, 2, 3, 1000, 4097])
def test_value_order_sorts_exactly(make, n):
    x = make(np.random.default_rng(n), n)
    order = _value_order(x)
    np.testing.assert_array_equal(np.sort(order), np.arange(n))
    np.testing.assert_array_equal(x[order], np.sort(x))
    np.testing.assert_array_equal(np.signbit(x[order]), np.signbit(x[np.argsort(x)]))


# ------------------------------------------------------------------ scratch buffers


def test_scratch_reuses_buffers_per_thread_up_to_a_size(monkeypatch):
    scratch = Scratch()
    a = scratch.get("a", 10, np.float64)
    assert scratch.get("a", 5, np.float64).base is a.base  # reused (a view of one buffer)
    assert scratch.get("a", 5, np.int64).dtype == np.int64  # another dtype: a new one
    monkeypatch.setattr(stats_module, "_SCRATCH_MAX_BYTES", 64)
    big = scratch.get("big", 100, np.float64)
    assert big.shape == (100,) and scratch.get("big", 100, np.float64).base is not big.base
    seen = []
    thread = threading.Thread(target=lambda: seen.append(scratch.get("a", 5, np.int64)))
    thread.start()
    thread.join()
    assert seen[0].base is not scratch.get("a", 5, np.int64).base  # one set per thread


# ------------------------------------------------------------------------- network


def test_network_feature_keys_are_part_then_layer_then_feature():
    rng = np.random.default_rng(7)
    now = {"c1": rng.normal(size=(4, 1, 3, 3)), "c2": rng.normal(size=(6, 4, 3, 3))}
    now["fc"] = rng.normal(size=(10, 6))
    before = {k: v + 0.1 for k, v in now.items()}
    keys = list(network_features(now, before))
    conv, fc = layer_module.conv_feature_names(), layer_module.fc_feature_names()
    expected = [
        f"{layer}.{part}.{f}"
        for part in ("raw", "delta")
        for layer, names in (
            ("conv_first", conv),
            ("conv_second", conv),
            ("conv_last", conv),
            ("fc1", fc),
        )
        for f in names
    ]
    assert keys == expected
