"""Search spaces (Table 1/2 as data), sampling designs and presets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weightcast.search import (
    PRESETS,
    TABLE1,
    TABLE2,
    Hyperparameter,
    block_size,
    get_preset,
    replace_values,
    sample,
)

TABLE1_VALUES = {
    "lr": (0.05, 0.01, 0.005, 0.001, 5e-4, 1e-4, 5e-5, 1e-5, 5e-6),
    "schedule": ("fixed", "inv"),
    "gamma": (1e-3, 5e-4, 1e-4, 5e-5),
    "p": (1.0, 0.75, 0.5),
    "momentum": (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0),
    "weight_decay": (0.05, 0.01, 0.005, 0.001, 5e-4, 1e-4, 5e-5, 1e-5, 5e-6, 1e-6),
    "batch_size": (300, 200, 100, 50, 20, 10),
    "n_conv": (6, 5, 4, 3),
    "filters": (128, 64, 32, 16),
    "filter_size": (7, 5, 3),
    "activation": ("relu", "sigmoid", "tanh", "abs"),
    "dropout": tuple(round(0.75 - 0.05 * k, 2) for k in range(16)),
    "pooling": ("max", "avg"),
    "init_bias": (1e-3, 1e-4, 1e-5, 1e-6, 1e-7),
    "init": ("glorot", "gaussian"),
    "gaussian_std": (0.1, 0.01, 1e-3, 1e-4, 1e-5),
}


def test_table1_is_the_papers_table() -> None:
    assert {h.name: h.values for h in TABLE1} == TABLE1_VALUES
    assert [h.name for h in TABLE1] == list(TABLE1_VALUES)  # the table's order
    assert TABLE1_VALUES["dropout"][-1] == 0.0 and 0.7 in TABLE1_VALUES["dropout"]
    categorical = {h.name for h in TABLE1 if h.categorical}
    assert categorical == {"schedule", "activation", "pooling", "init"}
    log = {h.name for h in TABLE1 if h.log}
    assert {"lr", "weight_decay", "gamma", "init_bias", "gaussian_std"} <= log
    assert not log & {"momentum", "dropout", "n_conv", "filter_size", "p"}


def test_table2_is_the_papers_table() -> None:
    assert {h.name: h.values for h in TABLE2} == {
        "lr": (0.05, 0.02, 0.01, 0.005, 0.002),
        "weight_decay": (5e-3, 2.5e-3, 5e-4, 2.5e-4, 5e-5),
        "n_conv": (6, 5, 4, 3),
        "dropout": (0.75, 0.5, 0.25),
        "activation": ("relu", "sigmoid", "tanh"),
    }
    # the paper's 120 ImageNet runs are 6 repetitions of the one-at-a-time design
    assert 6 * block_size(TABLE2) == 120


@pytest.mark.parametrize("design", ["random", "one-at-a-time"])
def test_numpy_grids_sample_plain_python_values(design: str) -> None:
    space = replace_values(TABLE1, lr=np.array([0.1, 0.01]), n_conv=np.arange(3, 5))
    for config in sample(space, 60, seed=0, design=design):
        assert type(config["lr"]) is float and type(config["n_conv"]) is int


def test_hyperparameter_checks_its_values() -> None:
    with pytest.raises(ValueError, match="no values"):
        Hyperparameter("x", ())
    with pytest.raises(ValueError, match="repeated"):
        Hyperparameter("x", (1, 1))
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        replace_values(TABLE1, nope=(1,))


@pytest.mark.parametrize("design", ["random", "one-at-a-time"])
def test_sampling_is_deterministic_and_in_the_space(design: str) -> None:
    a = sample(TABLE1, 200, seed=3, design=design)
    assert a == sample(TABLE1, 200, seed=3, design=design)
    assert a != sample(TABLE1, 200, seed=4, design=design)
    values = {h.name: set(h.values) for h in TABLE1}
    for config in a:
        assert set(config) == set(values)
        assert all(config[k] in values[k] for k in config)
        assert all(type(v) in (int, float, str, bool) for v in config.values())


def test_random_design_covers_each_value() -> None:
    configs = sample(TABLE1, 400, seed=0)
    for h in TABLE1:
        assert {c[h.name] for c in configs} == set(h.values), h.name


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(0, 200),
    extra=st.integers(0, 150),
    seed=st.integers(0, 2**31),
    design=st.sampled_from(["random", "one-at-a-time"]),
)
def test_sampling_is_prefix_stable(n: int, extra: int, seed: int, design: str) -> None:
    assert sample(TABLE1, n + extra, seed, design)[:n] == sample(TABLE1, n, seed, design)


def test_one_at_a_time_structure() -> None:
    size = block_size(TABLE1)
    assert size == sum(len(v) for v in TABLE1_VALUES.values())
    configs = sample(TABLE1, 2 * size, seed=7, design="one-at-a-time")
    bases = []
    for block in (configs[:size], configs[size:]):
        bounds = [0]
        for h in TABLE1:
            bounds.append(bounds[-1] + len(h.values))
        segments = [block[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
        # the base value of h is what every other hyperparameter's segment holds fixed
        base = {h.name: segments[(i + 1) % len(TABLE1)][0][h.name] for i, h in enumerate(TABLE1)}
        for h, segment in zip(TABLE1, segments, strict=True):
            assert [c[h.name] for c in segment] == list(h.values)  # varied over all its values
            for c in segment:
                assert {**c, h.name: base[h.name]} == base  # the others fixed at the base
        bases.append(base)
    assert bases[0] != bases[1]


def test_unknown_design_and_bad_n() -> None:
    with pytest.raises(ValueError, match="one-at-a-time"):
        sample(TABLE1, 3, 0, design="grid")
    with pytest.raises(ValueError, match="non-negative"):
        sample(TABLE1, -1, 0)


def test_get_preset_unknown_lists_names() -> None:
    with pytest.raises(ValueError, match="digits.*fashion14.*paper-mnist"):
        get_preset("mnist")
    assert get_preset("digits") is PRESETS["digits"]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_grid(name: str) -> None:
    p = get_preset(name)
    steps = p.steps
    assert steps == tuple(sorted(set(steps))) and steps[-1] <= p.T
    early = [t for t in steps if t <= 0.05 * p.T]
    assert len(early) >= 5, "dense over the paper's early steps"
    assert steps[-1] >= 0.4 * p.T
    assert len(p.taus) >= 2
    assert p.eval_every <= 0.01 * p.T, "the curve is at least as fine as the early grid"
    assert p.sample(4, 0) == p.sample(6, 0)[:4]
    assert {h.name for h in p.space} == set(TABLE1_VALUES)


def test_cpu_presets_fit_their_inputs() -> None:
    digits, fashion = get_preset("digits"), get_preset("fashion14")
    for p in (digits, fashion):
        space = {h.name: h.values for h in p.space}
        assert max(space["filters"]) <= 32 and set(space["filter_size"]) <= {3, 5}
        assert min(space["n_conv"]) == 3
        assert max(space["batch_size"]) <= 100
    assert (digits.T, fashion.T) == (1000, 1000)
    paper = get_preset("paper-mnist")
    assert paper.space == TABLE1 and paper.T == 2000 and 10 in paper.taus


def test_preset_validates() -> None:
    with pytest.raises(ValueError, match="steps"):
        dataclasses.replace(get_preset("digits"), steps=(10, 5))
    with pytest.raises(ValueError, match="T=20"):
        dataclasses.replace(get_preset("digits"), T=20)
    with pytest.raises(ValueError, match="dataset"):
        dataclasses.replace(get_preset("digits"), dataset="cifar")
