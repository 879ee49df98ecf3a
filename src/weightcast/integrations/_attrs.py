"""How the reporter stores features in a trial's attributes, and how the pruner reads them.

One user attribute per decision step ``t``, key ``weightcast:f@<t>``, value a small JSON object:

- ``{"v": 1, "tau": tau, "names": <names>, "x": <values>}``: ``names`` is the feature names
  joined by newlines, zlib-compressed and base64-encoded (the names of a network repeat a lot, so
  1,614 names take about 3 KB); ``x`` is the values as little-endian float32, base64-encoded
  (about 8.6 KB for 1,614 features). An attribute stays far below the 64 KB of a MySQL ``TEXT``
  column, so it fits every Optuna storage (in-memory, SQLite, RDB, journal, gRPC).
- ``{"v": 1, "diverged": true}``: the weights were not finite at ``t`` (no features).

``weightcast:diverged`` (int) marks the step at which weights or training loss became
non-finite. The pruner writes its own bookkeeping as system attributes: ``weightcast:rung@<t>``
(the trial's value at a rung), ``weightcast:pruned`` (``{"step", "reason", "label"}``) and
``weightcast:explore`` (the step at which it was let go on by the exploration share).
"""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from weightcast.policy import FeatureBlock

FEATURES_PREFIX = "weightcast:f@"
DIVERGED_KEY = "weightcast:diverged"
RUNG_PREFIX = "weightcast:rung@"
PRUNED_KEY = "weightcast:pruned"
EXPLORE_KEY = "weightcast:explore"
FORMAT_VERSION = 1


def features_key(step: int) -> str:
    """The user-attribute key of the features at ``step``.

    >>> features_key(20)
    'weightcast:f@20'
    """
    return f"{FEATURES_PREFIX}{int(step)}"


def rung_key(step: int) -> str:
    """The system-attribute key of a trial's value at the rung ``step``.

    >>> rung_key(20)
    'weightcast:rung@20'
    """
    return f"{RUNG_PREFIX}{int(step)}"


def steps_of(attrs: Mapping[str, Any], prefix: str) -> dict[int, Any]:
    """``{step: value}`` of the attributes whose key is ``prefix`` followed by a step.

    >>> steps_of({"weightcast:f@20": 1, "other": 2}, FEATURES_PREFIX)
    {20: 1}
    """
    out: dict[int, Any] = {}
    for key, value in attrs.items():
        if key.startswith(prefix):
            try:
                out[int(key[len(prefix) :])] = value
            except ValueError:
                continue
    return out


@lru_cache(maxsize=64)
def _encode_names(names: tuple[str, ...]) -> str:
    return base64.b64encode(zlib.compress("\n".join(names).encode(), 9)).decode("ascii")


@lru_cache(maxsize=64)
def _decode_names(blob: str) -> tuple[str, ...]:
    text = zlib.decompress(base64.b64decode(blob)).decode()
    return tuple(text.split("\n")) if text else ()


def encode_features(
    features: Mapping[str, float] | FeatureBlock, tau: int | None = None
) -> dict[str, Any]:
    """The attribute value for ``features`` (a dict, or names and values).

    >>> payload = encode_features({"conv_last.delta.all.std": 0.5, "lc.train_loss.q4": 1.25})
    >>> decode_features(payload)
    (('conv_last.delta.all.std', 'lc.train_loss.q4'), array([0.5 , 1.25]))
    """
    if isinstance(features, Mapping):
        names = tuple(str(k) for k in features)
        values = np.fromiter(
            (float(v) for v in features.values()), dtype=np.float64, count=len(names)
        )
    else:
        names, values = tuple(features[0]), np.asarray(features[1], dtype=np.float64)
    with np.errstate(over="ignore"):
        x = np.clip(values, -3.0e38, 3.0e38).astype("<f4")
    payload: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "names": _encode_names(names),
        "x": base64.b64encode(x.tobytes()).decode("ascii"),
    }
    if tau is not None:
        payload["tau"] = int(tau)
    return payload


def diverged_payload() -> dict[str, Any]:
    """The attribute value at a decision step whose weights were not finite."""
    return {"v": FORMAT_VERSION, "diverged": True}


def decode_features(payload: Mapping[str, Any]) -> FeatureBlock | None:
    """Names and values (float64) from an attribute value; None for a diverged mark.

    Raises ValueError for a payload this version cannot read.
    """
    if not isinstance(payload, Mapping) or payload.get("v") != FORMAT_VERSION:
        raise ValueError(f"not a weightcast features attribute of version {FORMAT_VERSION}")
    if payload.get("diverged"):
        return None
    names = _decode_names(str(payload["names"]))
    x = np.frombuffer(base64.b64decode(payload["x"]), dtype="<f4").astype(np.float64)
    if x.size != len(names):
        raise ValueError(f"features attribute has {len(names)} names but {x.size} values")
    return names, x


def encode_params(params: Mapping[str, Any], distributions: Mapping[str, Any]) -> dict[str, float]:
    """Hyperparameters as numbers for the model, from Optuna params and their distributions.

    Numbers stay numbers (log10 for log-scaled distributions, and for categorical choices that
    are all positive numbers spanning a factor of 100 or more); other categorical values become
    the index of the value among the choices.

    >>> from optuna.distributions import CategoricalDistribution, FloatDistribution
    >>> encode_params({"lr": 0.01, "act": "tanh"},
    ...               {"lr": FloatDistribution(1e-5, 1, log=True),
    ...                "act": CategoricalDistribution(["relu", "tanh"])})
    {'act': 1.0, 'lr': -2.0}
    """
    out: dict[str, float] = {}
    for name in sorted(params):
        value = params[name]
        dist = distributions.get(name)
        choices: Sequence[Any] | None = getattr(dist, "choices", None)
        if choices is not None:
            numeric = all(_is_number(c) for c in choices)
            if not numeric:
                out[name] = float(list(choices).index(value)) if value in choices else math.nan
                continue
            log = all(float(c) > 0 for c in choices) and max(map(float, choices)) >= 100 * min(
                map(float, choices)
            )
        else:
            log = bool(getattr(dist, "log", False))
        if not _is_number(value):
            out[name] = math.nan
        elif log and float(value) > 0:
            out[name] = math.log10(float(value))
        else:
            out[name] = float(value)
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
