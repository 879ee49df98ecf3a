"""FeatureRecorder: a plain callback that records weight features and the learning curve online.

It is called from any training loop (see :class:`FeatureRecorder`); it never raises for a
diverged run. Only the weight snapshots ``W(t - tau)`` still needed are kept in memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from weightcast.features import (
    DIVERGED_LOSS,
    NonFiniteWeightsError,
    check_weights,
    network_features,
    select_layers,
)

WeightsFn = Callable[[Any], Mapping[str, np.ndarray]]


class FeatureRecorder:
    """Record weight features at the steps ``steps`` (raw, and changes over each gap in ``taus``)
    and the learning curve, from a training loop's callbacks.

    - ``on_train_step(model, step, loss)`` after optimizer step ``step`` (1-based); call it once
      with ``step=0`` before training to give the initial weights (loss NaN if unknown).
    - ``on_eval(step, val_acc)`` at each validation (every ``eval_every`` steps): a curve point
      with the mean minibatch loss since the previous evaluation.

    At each ``t`` in ``steps`` the recorder computes ``network_features`` of ``W(t)`` once (the
    ``<layer>.raw.*`` columns of :attr:`raw`) and, for each ``tau``, the features of
    ``W(t) - W(t - tau)`` (the ``<layer>.delta.*`` columns of :attr:`delta`). A pair ``(t, tau)``
    whose ``W(t - tau)`` was never seen (``t - tau < 0``, or no call at that step) is simply not
    recorded.

    Divergence: the first step whose weights are not finite (the features'
    :class:`~weightcast.features.NonFiniteWeightsError`, a ``ValueError``, also raised by the
    check of a snapshot) or, after step 0, whose loss is not finite, is :attr:`diverged_step`;
    no features are computed from then on, the curve goes on, with
    :data:`~weightcast.features.DIVERGED_LOSS` for the intervals that saw a non-finite loss
    (and as the cap of any mean loss, as ``curve_features`` caps it).
    Nothing is raised for divergence (other errors, such as a model without weights, are).

    ``weights`` maps the model to ``{layer name: weight array}`` in forward order (default:
    :func:`weightcast.torch.layer_weights`); a snapshot keeps float64 copies of the layers
    the features use (first, second, last convolution and the fc layers) only.

    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    >>> rec = FeatureRecorder(steps=[2], taus=[1], eval_every=2)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> rec.on_train_step(model, 0, float("nan"))
    >>> for step in (1, 2):
    ...     opt.zero_grad()
    ...     loss = model(torch.randn(8, 1, 2, 2)).logsumexp(1).mean()
    ...     loss.backward()
    ...     opt.step()
    ...     rec.on_train_step(model, step, loss.item())
    >>> rec.on_eval(2, 0.5)
    >>> list(rec.delta[["t", "tau"]].itertuples(index=False, name=None))
    [(2, 1)]
    """

    def __init__(
        self,
        steps: Sequence[int],
        taus: Sequence[int],
        eval_every: int,
        *,
        weights: WeightsFn | None = None,
    ) -> None:
        self.steps = _ints("steps", steps, minimum=0)
        self.taus = _ints("taus", taus, minimum=1)
        if not isinstance(eval_every, int | np.integer) or eval_every < 1:
            raise ValueError(f"eval_every must be a positive integer, got {eval_every!r}")
        self.eval_every = int(eval_every)
        if weights is None:
            from weightcast.torch._weights import layer_weights

            weights = layer_weights
        self._weights = weights
        self._steps = frozenset(self.steps)
        # snapshot step s -> the last step t that still needs W(s) (as W(t - tau))
        self._last_use: dict[int, int] = {}
        for t in self.steps:
            for tau in self.taus:
                if t - tau >= 0:
                    self._last_use[t - tau] = max(self._last_use.get(t - tau, -1), t)
        self._snapshots: dict[int, dict[str, np.ndarray]] = {}
        self._raw = _Rows(("t",))
        self._delta = _Rows(("t", "tau"))
        self._curve_rows: list[tuple[int, float, float]] = []
        self._loss_sum = 0.0
        self._loss_n = 0
        self._loss_bad = False
        self.diverged_step: int | None = None
        self.feature_time = 0.0

    # -- callbacks -------------------------------------------------------------------------

    def on_train_step(self, model: Any, step: int, loss: float) -> None:
        """After optimizer step ``step`` (``0``: the initial weights, before training)."""
        if math.isfinite(loss):
            self._loss_sum += loss
            self._loss_n += 1
        elif step > 0:
            self._loss_bad = True
            self._mark_diverged(step)
        if self.diverged_step is not None:
            return
        if step in self._steps or step in self._last_use:
            start = time.perf_counter()
            try:
                self._record(model, step)
            except NonFiniteWeightsError:
                self._mark_diverged(step)
            finally:
                self.feature_time += time.perf_counter() - start

    def on_eval(self, step: int, val_acc: float) -> None:
        """A learning-curve point at ``step``: mean minibatch loss since the previous one."""
        if self._loss_bad:
            train_loss = DIVERGED_LOSS
        elif self._loss_n:  # capped as curve_features caps it (an overflowing sum included)
            train_loss = min(self._loss_sum / self._loss_n, DIVERGED_LOSS)
        else:
            train_loss = math.nan
        self._curve_rows.append((int(step), train_loss, float(val_acc)))
        self._loss_sum, self._loss_n, self._loss_bad = 0.0, 0, False

    # -- results ---------------------------------------------------------------------------

    @property
    def curve(self) -> pd.DataFrame:
        """Learning curve: ``step`` (int), ``train_loss``, ``val_acc`` (float64)."""
        frame = pd.DataFrame(self._curve_rows, columns=["step", "train_loss", "val_acc"])
        return frame.astype({"step": np.int64, "train_loss": np.float64, "val_acc": np.float64})

    @property
    def raw(self) -> pd.DataFrame:
        """``t`` then the ``<layer>.raw.*`` features (float64), one row per recorded step."""
        return self._raw.frame()

    @property
    def delta(self) -> pd.DataFrame:
        """``t, tau`` then the ``<layer>.delta.*`` features (float64), one row per (t, tau)."""
        return self._delta.frame()

    # -- internals -------------------------------------------------------------------------

    def _mark_diverged(self, step: int) -> None:
        if self.diverged_step is None:
            self.diverged_step = step
            self._snapshots.clear()

    def _record(self, model: Any, step: int) -> None:
        weights = self._weights(model)
        # float64 copies of the layers the features use (a model's arrays may be views)
        layers = {name: np.array(weights[name], dtype=np.float64) for name in _used(weights)}
        if step in self._steps:
            raw = network_features(layers, parts=("raw",))
            deltas = [
                (tau, network_features(layers, self._snapshots[step - tau], parts=("delta",)))
                for tau in self.taus
                if step - tau in self._snapshots
            ]
            self._raw.add((step,), raw)
            for tau, delta in deltas:
                self._delta.add((step, tau), delta)
        else:  # a snapshot only: check it now, so divergence is marked at this step
            for name, w in layers.items():
                check_weights(w, name)
        if self._last_use.get(step, -1) > step:
            self._snapshots[step] = layers
        for s in [s for s in self._snapshots if self._last_use[s] <= step]:
            del self._snapshots[s]


def _used(weights: Mapping[str, np.ndarray]) -> list[str]:
    """The layer names the network features read, in forward order, without repeats."""
    return list(dict.fromkeys(select_layers(weights).values()))


class _Rows:
    """Feature rows as int keys plus a float64 vector each; the DataFrame is built on demand
    (once per change: assembling an 800-column frame from dicts took longer than the features).
    """

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys
        self.columns: list[str] | None = None
        self._index: list[tuple[int, ...]] = []
        self._values: list[np.ndarray] = []
        self._frame: pd.DataFrame | None = None

    def add(self, key: tuple[int, ...], features: Mapping[str, float]) -> None:
        names = list(features)
        if self.columns is None:
            self.columns = names
        elif names != self.columns:
            raise ValueError(
                f"the feature columns changed at {dict(zip(self.keys, key, strict=True))}: "
                "the recorder needs the same network (layers and shapes) at every step"
            )
        self._index.append(key)
        self._values.append(np.fromiter(features.values(), dtype=np.float64, count=len(names)))
        self._frame = None

    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            n, columns = len(self._index), self.columns or []
            keys = np.array(self._index, dtype=np.int64).reshape(n, len(self.keys))
            values = np.array(self._values, dtype=np.float64).reshape(n, len(columns))
            self._frame = pd.concat(
                [
                    pd.DataFrame(keys, columns=list(self.keys)),
                    pd.DataFrame(values, columns=columns),
                ],
                axis=1,
            )
        return self._frame.copy()


def _ints(name: str, values: Iterable[int], *, minimum: int) -> tuple[int, ...]:
    out = []
    for v in values:
        if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < minimum:
            raise ValueError(f"{name} must be integers >= {minimum}, got {v!r}")
        out.append(int(v))
    if not out:
        raise ValueError(f"{name} must not be empty")
    return tuple(sorted(set(out)))
