"""One run of a search: build the CNN, train it, record features and the learning curve."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from weightcast._imports import require
from weightcast.search._data import Data
from weightcast.search._presets import Preset
from weightcast.search._spaces import TABLE1

Status = Literal["ok", "diverged"]
#: Hyperparameters the CNN and the trainer read (Table 1's), besides the optional ``lrn``.
HPARAMS: tuple[str, ...] = tuple(h.name for h in TABLE1)
_OPTIONAL = ("lrn",)


@dataclass
class TrialResult:
    """The record of one run (the fields ``weightcast.corpus.write_run`` stores).

    ``final_acc``: top-1 test accuracy after ``T`` steps (also for a diverged run: its real
    accuracy, non-finite outputs counted wrong); ``status``: ``"ok"`` or ``"diverged"`` (with
    ``diverged_step``); ``wall_time``: seconds for the whole run (model, training, evaluations,
    features), of which ``feature_time`` went to the features; ``eval_cost``: one validation pass
    in training-iteration equivalents, ``n_val / (3 * batch_size)`` (a forward pass costs about a
    third of a forward+backward step); ``curve``/``raw``/``delta``: the recorder's DataFrames.
    """

    hparams: dict[str, Any]
    seed: int
    final_acc: float
    status: Status
    diverged_step: int | None
    wall_time: float
    feature_time: float
    T: int
    eval_cost: float
    curve: pd.DataFrame = field(repr=False)
    raw: pd.DataFrame = field(repr=False)
    delta: pd.DataFrame = field(repr=False)


def run_trial(
    preset: Preset,
    hparams: Mapping[str, Any],
    seed: int,
    data: Data | None = None,
    callbacks: Sequence[object] = (),
    progress: Callable[[int, int], None] | None = None,
    *,
    num_threads: int | None = 1,
    record: bool = True,
) -> TrialResult:
    """Train one configuration of ``preset`` and record it.

    ``seed`` fixes the initial weights, dropout and the minibatches (torch's global RNG state is
    restored afterwards). ``data`` defaults to ``preset.load_data()``. ``callbacks`` are extra
    training callbacks (``on_train_step(model, step, loss)``, ``on_eval(step, val_acc)``), called
    after the recorder; what they raise (e.g. ``optuna.TrialPruned``) propagates. ``progress(step,
    T)`` is called at every evaluation. ``num_threads`` sets torch's intra-op threads for the run
    (restored afterwards; None leaves them as they are); denormal floats are flushed to zero during
    the run (much faster on CPU). Divergence never raises: it is recorded. ``record=False``
    records neither features nor the curve (their tables come back empty): for a search whose
    callbacks compute what they need themselves (a live search's reporter).

    >>> from weightcast.search import get_preset
    >>> preset = get_preset("digits")
    >>> result = run_trial(preset, preset.sample(1, seed=0)[0], seed=0)  # doctest: +SKIP
    >>> result.status, result.curve["step"].iloc[-1]  # doctest: +SKIP
    ('ok', 500)
    """
    require("torch")
    import torch
    from weightcast.search._model import build_cnn
    from weightcast.search._train import train
    from weightcast.torch._recorder import FeatureRecorder

    _check_hparams(hparams)
    if data is None:
        data = preset.load_data()
    start = time.perf_counter()
    recorder = FeatureRecorder(preset.steps, preset.taus, preset.eval_every)
    hooks: list[object] = [recorder, *callbacks] if record else [*callbacks]
    if progress is not None:
        hooks.append(_Progress(progress, preset.T))
    with _cpu_settings(torch, num_threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_cnn(hparams, data.in_shape, data.n_classes)
        outcome = train(
            model,
            data,
            hparams,
            T=preset.T,
            eval_every=preset.eval_every,
            seed=seed,
            callbacks=hooks,
        )
    diverged = [s for s in (outcome.diverged_step, recorder.diverged_step) if s is not None]
    return TrialResult(
        hparams=dict(hparams),
        seed=int(seed),
        final_acc=outcome.final_acc,
        status="diverged" if diverged else "ok",
        diverged_step=min(diverged) if diverged else None,
        wall_time=time.perf_counter() - start,
        feature_time=recorder.feature_time,
        T=preset.T,
        eval_cost=data.n_val / (3 * int(hparams["batch_size"])),
        curve=recorder.curve,
        raw=recorder.raw,
        delta=recorder.delta,
    )


def _check_hparams(hparams: Mapping[str, Any]) -> None:
    missing = [k for k in HPARAMS if k not in hparams]
    unknown = sorted(set(hparams) - set(HPARAMS) - set(_OPTIONAL))
    if missing or unknown:
        raise ValueError(
            f"run_trial: hyperparameters missing {missing}, unknown {unknown}; "
            f"expected {list(HPARAMS)} (and optionally {list(_OPTIONAL)})"
        )


@contextlib.contextmanager
def _cpu_settings(torch: Any, n_threads: int | None) -> Iterator[None]:
    """Threads as asked, and denormal floats flushed to zero, for the run only.

    Tiny Gaussian initialisations (std 1e-5) drive activations into denormal floats, which make
    CPU arithmetic several times slower (a 3 s run took 15 s); accelerators flush them anyway.
    """
    before = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(before)


class _Progress:
    def __init__(self, fn: Callable[[int, int], None], T: int) -> None:
        self.fn, self.T = fn, T

    def on_eval(self, step: int, val_acc: float) -> None:
        self.fn(step, self.T)
