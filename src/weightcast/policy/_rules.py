"""Small pure decision rules: decision steps, the rung (successive-halving) rule, targets.

Values are always "higher is better" here; callers flip the sign for a minimised objective.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

DEFAULT_FRACTIONS: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.4)
"""Default decision points as fractions of the training length T.

Not 1 %: on the development corpora (``corpora/digits-t500``, ``corpora/fashion14``) the best
fashion14 run looks hopeless at 1 % of T, in its validation accuracy and in its training loss
alike (successive halving from 1 % loses it too), and a decision there cost 1.6-2 points of
regret against none from 2 % on."""

PRIOR_FRACTIONS: tuple[float, ...] = (0.01, 0.02)
"""Default decision points of a pruner that learns from a prior (earlier searches' runs).

With a prior the forest decides from the first trial on and judges the start of training well:
on the held-out digits searches it ranks the best runs among the first few at 1-2 % of T, while
later cuts by the forest (5 % of T and on) stopped them. The rung rule on the reported values
takes over after these steps (``PRIOR_RUNG_FRACTIONS`` of :mod:`weightcast.integrations.optuna`;
"forest early, loss to 40 %", pre-registered and met on ``corpora/digits-seed6`` and
``corpora/digits-seed7``)."""


def decision_steps(
    T: int,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    grid: Sequence[int] | None = None,
) -> tuple[int, ...]:
    """Decision steps at ``fractions`` of ``T``, snapped to ``grid`` when one is given.

    Each fraction becomes ``round(f * T)`` (at least 1); with a ``grid`` (the steps at which
    features are recorded) it becomes the nearest grid step instead, ties to the earlier one.
    Duplicates are dropped; the result is increasing.

    >>> decision_steps(1000)
    (20, 50, 100, 200, 400)
    >>> decision_steps(500, (0.02, 0.05, 0.1), grid=(10, 20, 50, 100))
    (10, 20, 50)
    """
    if int(T) != T or T < 1:
        raise ValueError(f"T must be a positive integer, got T={T!r}")
    check_fractions(fractions)
    out: set[int] = set()
    for f in fractions:
        step = max(1, round(f * T))
        if grid is not None:
            candidates = sorted(int(g) for g in grid if 0 < g < T)
            if not candidates:
                raise ValueError(f"grid={tuple(grid)!r} has no step inside (0, T={T})")
            step = min(candidates, key=lambda g: (abs(g - step), g))
        out.add(int(step))
    return tuple(sorted(out))


def check_fractions(fractions: Sequence[float]) -> None:
    """Raise ValueError unless ``fractions`` is a non-empty sequence of numbers in (0, 1).

    >>> check_fractions((0.1, 0.5))
    >>> check_fractions((0.0,))
    Traceback (most recent call last):
    ...
    ValueError: fractions must lie in (0, 1), got fractions=(0.0,)
    """
    if len(fractions) == 0:
        raise ValueError("fractions must not be empty")
    if not all(isinstance(f, int | float) and 0 < f < 1 for f in fractions):
        raise ValueError(f"fractions must lie in (0, 1), got fractions={tuple(fractions)!r}")


def check_steps(steps: Sequence[int]) -> tuple[int, ...]:
    """Return ``steps`` as a sorted tuple of unique positive ints, or raise ValueError.

    >>> check_steps([50, 10, 10])
    (10, 50)
    """
    if len(steps) == 0:
        raise ValueError("steps must not be empty")
    for s in steps:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1:
            raise ValueError(f"steps must be positive integers, got steps={tuple(steps)!r}")
    return tuple(sorted({int(s) for s in steps}))


def rung_promotable(value: float, competing: Iterable[float], reduction_factor: float) -> bool:
    """Whether ``value`` is in the top ``1 / reduction_factor`` of ``competing`` (ASHA's rule).

    ``competing`` holds the values other trials had at the same rung, ``value`` excluded. As in
    Optuna's ``SuccessiveHalvingPruner``, while fewer than ``reduction_factor`` values compete the
    trial must be the best of them to go on. A NaN value is never promoted.

    >>> rung_promotable(0.9, [0.5, 0.6], 3)   # best of three: promoted
    True
    >>> rung_promotable(0.55, [0.5, 0.6, 0.7, 0.8, 0.9], 3)   # 5th of six: stopped
    False

    A fractional ``reduction_factor`` keeps the top ``1 / reduction_factor`` as well (2.5: 40 %).
    """
    if math.isnan(value):
        return False
    values = sorted([float(v) for v in competing if not math.isnan(v)] + [float(value)])
    idx = max(int(len(values) // reduction_factor) - 1, 0)
    return value >= values[-(idx + 1)]


def rung_factors(rung_steps: Sequence[int], reduction_factor: float) -> dict[int, float]:
    """The reduction factor at each rung, from the spacing to the next rung.

    Successive halving keeps a third at rungs three times apart. Denser rungs keep more: the
    factor is the geometric mean of the spacing and ``reduction_factor``, at most
    ``reduction_factor`` (which the last rung gets). Rungs twice apart keep 1 / 2.45 with the
    default of 3; matching the spacing exactly (keep a half) was too lenient in the replays,
    ``reduction_factor`` at every dense rung too harsh (it lost the best runs).

    >>> {s: round(f, 2) for s, f in rung_factors((10, 20, 50, 200), 3).items()}
    {10: 2.45, 20: 2.74, 50: 3.0, 200: 3}
    """
    steps = sorted(rung_steps)
    out: dict[int, float] = {}
    for here, after in zip(steps, steps[1:], strict=False):
        out[here] = min(float(reduction_factor), math.sqrt(after / here * reduction_factor))
    if steps:
        out[steps[-1]] = reduction_factor
    return out


def kth_best(values: Iterable[float], k: int) -> float:
    """The ``k``-th largest finite value, or the smallest one when there are fewer than ``k``.

    NaN when there is no finite value.

    >>> kth_best([0.9, 0.5, 0.7], 2)
    0.7
    >>> kth_best([0.9], 3)
    0.9
    """
    finite = sorted((float(v) for v in values if math.isfinite(v)), reverse=True)
    if not finite:
        return math.nan
    return finite[min(k, len(finite)) - 1]


def explore_draw(seed: int, number: int, step: int) -> float:
    """A reproducible uniform draw in [0, 1) for trial ``number`` at ``step``.

    The same on every worker and machine, so an exploration decision does not depend on which
    process asks.

    >>> explore_draw(0, 3, 10) == explore_draw(0, 3, 10)
    True
    """
    rng = np.random.default_rng([seed & 0xFFFFFFFF, number, step])
    return float(rng.random())
