"""Hyperparameter features (beyond the paper): numbers, log10 of scale parameters, one-hot."""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Mapping, Sequence

import numpy as np

__all__ = ["LOG_SCALED", "hparam_features"]

#: Hyperparameters given as their log10 by default: scale parameters of the paper's search.
LOG_SCALED: tuple[str, ...] = ("lr", "weight_decay", "gaussian_std", "init_bias", "gamma")


def hparam_features(
    hparams: Mapping[str, object],
    space: Mapping[str, Sequence[object]] | None = None,
    *,
    log_scaled: Collection[str] = LOG_SCALED,
) -> dict[str, float]:
    """Hyperparameter features of one run.

    - numbers: ``hp.<name>`` (the log10 for names in ``log_scaled``, which must then
      be positive); ``None`` (not applicable, e.g. a decay rate without decay): nan;
    - booleans: ``hp.<name>`` as 0 or 1;
    - anything else (strings, ...): categorical, one-hot ``hp.<name>=<value>``. With a
      ``space`` (name -> the possible values), every value of that name gets its
      column, so that all runs of a search share the same columns; without it only
      the run's own value appears (missing one-hot columns mean 0).

    >>> hparam_features({"lr": 0.01, "momentum": 0.9, "pooling": "max", "dropout": True})
    {'hp.lr': -2.0, 'hp.momentum': 0.9, 'hp.pooling=max': 1.0, 'hp.dropout': 1.0}
    >>> hparam_features({"pooling": "avg"}, space={"pooling": ["max", "avg"]})
    {'hp.pooling=max': 0.0, 'hp.pooling=avg': 1.0}
    """
    out: dict[str, float] = {}
    for name, value in hparams.items():
        if isinstance(value, bool | np.bool_):
            out[f"hp.{name}"] = float(value)
        elif value is None:
            out[f"hp.{name}"] = math.nan
        elif isinstance(value, numbers.Real):
            x = float(value)
            if name in log_scaled:
                if not x > 0 or not math.isfinite(x):
                    raise ValueError(
                        f"hyperparameter {name!r} = {value!r} is log-scaled and must be a "
                        "positive finite number; leave it out of log_scaled to use it as is"
                    )
                x = math.log10(x)
            out[f"hp.{name}"] = x
        elif space is not None and name in space:
            values = list(space[name])
            if value not in values:
                raise ValueError(
                    f"hyperparameter {name!r} = {value!r} is not one of its values {values} "
                    "in the search space"
                )
            out.update({f"hp.{name}={v}": float(v == value) for v in values})
        else:
            out[f"hp.{name}={value}"] = 1.0
    return out
