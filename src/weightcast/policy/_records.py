"""What the pruning policy knows about one trial, independent of where it is stored."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

State = Literal["running", "complete", "pruned", "failed"]

FeatureBlock = tuple[tuple[str, ...], np.ndarray]
"""Feature names and their values (float64), as stored for one trial at one decision step."""


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the policy sees it; every value is "higher is better".

    - ``value``: the final objective value (NaN unless ``state == "complete"``);
    - ``steps`` / ``values``: the reported intermediate values (the learning curve);
    - ``features``: decision step -> the features the reporter stored at that step (weight
      features and training-loss summary);
    - ``diverged_step``: the step at which weights or loss became non-finite, if any;
    - ``hp``: the hyperparameters encoded as numbers;
    - ``label``: the pseudo label the pruner recorded when it pruned the trial (NaN if none),
      a prediction of its value at the horizon ``label_horizon`` (None: the final value);
    - ``explored``: the trial was let go on by the exploration share although it would have been
      pruned;
    - ``rungs``: decision step -> the intermediate value the trial had when it passed that rung.

    >>> r = TrialRecord(0, "complete", 0.9)
    >>> r.last_value
    nan
    """

    number: int
    state: State
    value: float = math.nan
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    features: Mapping[int, FeatureBlock] = field(default_factory=dict)
    diverged_step: int | None = None
    hp: Mapping[str, float] = field(default_factory=dict)
    label: float = math.nan
    label_horizon: int | None = None
    explored: bool = False
    rungs: Mapping[int, float] = field(default_factory=dict)

    @property
    def last_step(self) -> int | None:
        """The last step with a reported value, or with stored features, whichever is later."""
        last = int(self.steps[-1]) if self.steps.size else None
        if self.features:
            f = max(self.features)
            last = f if last is None else max(last, f)
        return last

    @property
    def last_value(self) -> float:
        """The last reported intermediate value (NaN if none)."""
        return float(self.values[-1]) if self.values.size else math.nan

    def is_diverged(self, step: int | None = None) -> bool:
        """Whether the trial is known to have diverged at or before ``step`` (default: ever).

        Non-finite reported values count as divergence too.

        >>> TrialRecord(0, "running", steps=np.array([1]), values=np.array([np.inf])).is_diverged()
        True
        """
        if self.diverged_step is not None and (step is None or self.diverged_step <= step):
            return True
        if step is None:
            bad = ~np.isfinite(self.values)
        else:
            bad = ~np.isfinite(self.values) & (self.steps <= step)
        return bool(bad.any())
