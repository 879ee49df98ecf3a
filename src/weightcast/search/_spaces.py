"""The paper's hyperparameter search spaces as data, and deterministic sampling designs.

A space is a tuple of :class:`Hyperparameter` (name, ordered values, log-scaled or categorical).
Sampling is prefix-stable: configuration ``i`` depends only on ``(seed, i)`` (random design) or on
``(seed, i // block)`` (one-at-a-time design), never on how many configurations are asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Value = float | int | str | bool
DESIGNS: tuple[str, ...] = ("random", "one-at-a-time")


def _python(value: object) -> Value:
    """numpy scalars -> plain Python values (JSON-friendly, stable equality)."""
    if isinstance(value, np.generic):
        return value.item()  # type: ignore[no-any-return]
    return value  # type: ignore[return-value]


@dataclass(frozen=True)
class Hyperparameter:
    """One searched hyperparameter: its name and its ordered values.

    ``log`` marks a numeric hyperparameter best read on a log scale (learning rate, weight decay);
    ``categorical`` marks one whose values have no order (activation, pooling).

    >>> Hyperparameter("lr", (0.1, 0.01), log=True).values
    (0.1, 0.01)
    """

    name: str
    values: tuple[Value, ...]
    log: bool = False
    categorical: bool = False

    def __post_init__(self) -> None:
        # plain Python values (numpy scalars from a user's grid too): JSON-friendly configs
        object.__setattr__(self, "values", tuple(_python(v) for v in self.values))
        if not self.values:
            raise ValueError(f"hyperparameter {self.name!r} has no values")
        if self.log and self.categorical:
            raise ValueError(f"hyperparameter {self.name!r} cannot be both log and categorical")
        if len(set(self.values)) != len(self.values):
            raise ValueError(f"hyperparameter {self.name!r} has repeated values: {self.values}")


SearchSpace = tuple[Hyperparameter, ...]


def _hp(
    name: str, values: Sequence[Value], *, log: bool = False, cat: bool = False
) -> Hyperparameter:
    return Hyperparameter(name, tuple(values), log=log, categorical=cat)


def _steps(start: float, stop: float, step: float) -> tuple[float, ...]:
    """Decreasing grid ``start, start - step, ..., stop`` rounded to avoid 0.7000000001."""
    n = round((start - stop) / step)
    return tuple(round(start - k * step, 10) for k in range(n + 1))


LR = (0.05, 0.01, 0.005, 0.001, 5e-4, 1e-4, 5e-5, 1e-5, 5e-6)
GAMMA = (1e-3, 5e-4, 1e-4, 5e-5)
WEIGHT_DECAY = (0.05, 0.01, 0.005, 0.001, 5e-4, 1e-4, 5e-5, 1e-5, 5e-6, 1e-6)
ACTIVATIONS = ("relu", "sigmoid", "tanh", "abs")

#: Table 1 of the paper (MNIST and CIFAR-10): 16 hyperparameters, in the table's order.
TABLE1: SearchSpace = (
    _hp("lr", LR, log=True),
    _hp("schedule", ("fixed", "inv"), cat=True),
    _hp("gamma", GAMMA, log=True),
    _hp("p", (1.0, 0.75, 0.5)),
    _hp("momentum", _steps(0.9, 0.0, 0.1)),
    _hp("weight_decay", WEIGHT_DECAY, log=True),
    _hp("batch_size", (300, 200, 100, 50, 20, 10), log=True),
    _hp("n_conv", (6, 5, 4, 3)),
    _hp("filters", (128, 64, 32, 16), log=True),
    _hp("filter_size", (7, 5, 3)),
    _hp("activation", ACTIVATIONS, cat=True),
    _hp("dropout", _steps(0.75, 0.0, 0.05)),
    _hp("pooling", ("max", "avg"), cat=True),
    _hp("init_bias", (1e-3, 1e-4, 1e-5, 1e-6, 1e-7), log=True),
    _hp("init", ("glorot", "gaussian"), cat=True),
    _hp("gaussian_std", (0.1, 0.01, 1e-3, 1e-4, 1e-5), log=True),
)

#: Table 2 of the paper (ImageNet, AlexNet with 3 to 6 convolutions and three fc layers).
TABLE2: SearchSpace = (
    _hp("lr", (0.05, 0.02, 0.01, 0.005, 0.002), log=True),
    _hp("weight_decay", (5e-3, 2.5e-3, 5e-4, 2.5e-4, 5e-5), log=True),
    _hp("n_conv", (6, 5, 4, 3)),
    _hp("dropout", (0.75, 0.5, 0.25)),
    _hp("activation", ("relu", "sigmoid", "tanh"), cat=True),
)


def replace_values(space: SearchSpace, **values: Sequence[Value]) -> SearchSpace:
    """A copy of ``space`` with the values of some hyperparameters replaced (order kept).

    >>> small = replace_values(TABLE1, filters=(8, 16))
    >>> [h.values for h in small if h.name == "filters"]
    [(8, 16)]
    """
    names = {h.name for h in space}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown hyperparameters {unknown}; the space has {sorted(names)}")
    return tuple(
        Hyperparameter(h.name, tuple(values[h.name]), log=h.log, categorical=h.categorical)
        if h.name in values
        else h
        for h in space
    )


def _draw(space: SearchSpace, rng: np.random.Generator) -> dict[str, Value]:
    return {h.name: h.values[int(rng.integers(len(h.values)))] for h in space}


def sample_random(space: SearchSpace, n: int, seed: int) -> list[dict[str, Value]]:
    """``n`` configurations, each hyperparameter drawn uniformly from its values.

    Configuration ``i`` uses its own generator seeded by ``(seed, i)``, so the list is
    prefix-stable: ``sample_random(s, 5, 0)[:3] == sample_random(s, 3, 0)``.

    >>> sample_random(TABLE2, 2, seed=0) == sample_random(TABLE2, 3, seed=0)[:2]
    True
    """
    _check_n(n)
    return [_draw(space, np.random.default_rng([seed, i])) for i in range(n)]


def block_size(space: SearchSpace) -> int:
    """Configurations per repetition of the one-at-a-time design: the sum of the value counts.

    >>> block_size(TABLE2)
    20
    """
    return sum(len(h.values) for h in space)


def sample_one_at_a_time(space: SearchSpace, n: int, seed: int) -> list[dict[str, Value]]:
    """The paper's design: a random base configuration, then each hyperparameter in turn varied
    over all its values with the others fixed at the base; repeated with a new base.

    One repetition holds :func:`block_size` configurations (the base configuration appears once per
    hyperparameter, as in the paper's counting); repetition ``b`` draws its base from a generator
    seeded by ``(seed, b)``, so the list is prefix-stable.

    >>> configs = sample_one_at_a_time(TABLE2, 20, seed=0)
    >>> [c["lr"] for c in configs[:5]]
    [0.05, 0.02, 0.01, 0.005, 0.002]
    """
    _check_n(n)
    out: list[dict[str, Value]] = []
    block = 0
    while len(out) < n:
        base = _draw(space, np.random.default_rng([seed, block]))
        for h in space:
            for value in h.values:
                out.append({**base, h.name: value})
        block += 1
    return out[:n]


def sample(space: SearchSpace, n: int, seed: int, design: str = "random") -> list[dict[str, Value]]:
    """Dispatch to :func:`sample_random` or :func:`sample_one_at_a_time` by ``design``.

    >>> len(sample(TABLE1, 4, seed=1, design="one-at-a-time"))
    4
    """
    if design == "random":
        return sample_random(space, n, seed)
    if design == "one-at-a-time":
        return sample_one_at_a_time(space, n, seed)
    raise ValueError(f"unknown design {design!r}; use one of {list(DESIGNS)}")


def _check_n(n: int) -> None:
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
