"""Minibatch SGD as in the paper's searches, with plain callbacks and honest divergence handling.

Step ``t`` (1-based) draws a minibatch, computes the cross-entropy with the weights ``W(t-1)``
and updates them to ``W(t)`` with SGD (momentum, L2 weight decay) at the learning rate
:func:`learning_rate` of iteration ``t - 1`` (Caffe's ``inv`` policy counts iterations from 0).
Minibatches are consecutive slices of a seeded permutation of the training set, redrawn each
epoch.

Callbacks are any objects with some of ``on_train_step(model, step, loss)`` (called with
``step = 0`` and the initial minibatch loss before training, then after every update) and
``on_eval(step, val_acc)`` (at step 0, every ``eval_every`` steps and at step T). Whatever a
callback raises (``optuna.TrialPruned``, ``KeyboardInterrupt``) propagates unchanged.

Divergence: a non-finite loss or non-finite weights after step ``d`` mark the run diverged at
``d``. Training stops updating (the weights stay as step ``d`` left them, as a real run's would
have been), but the callbacks still see every step up to T (loss NaN) and every evaluation (the
diverged model's validation accuracy), so the learning curve covers 0..T, and the final accuracy
is the diverged model's real test accuracy. Accuracy counts an example whose logits are not all
finite as wrong (``argmax`` of NaN logits is meaningless). Nothing is raised for divergence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from weightcast._imports import require
from weightcast.search._data import Data

require("torch")  # an ImportError naming the "torch" extra when it is missing

import torch  # noqa: E402

EVAL_BATCH = 1000


@dataclass(frozen=True)
class TrainOutcome:
    """What :func:`train` returns: test and validation accuracy after T steps, divergence step."""

    final_acc: float
    final_val_acc: float
    diverged_step: int | None


def learning_rate(hparams: Mapping[str, Any], iteration: int) -> float:
    """The learning rate at ``iteration`` (0-based): ``lr`` for ``schedule="fixed"``, Caffe's
    ``inv`` policy ``lr * (1 + gamma * iteration) ** (-p)`` for ``schedule="inv"``.

    >>> learning_rate({"lr": 0.01, "schedule": "inv", "gamma": 1e-3, "p": 1.0}, 1000)
    0.005
    """
    lr = float(hparams["lr"])
    schedule = hparams.get("schedule", "fixed")
    if schedule == "fixed":
        return lr
    if schedule == "inv":
        return lr * (1.0 + float(hparams["gamma"]) * iteration) ** (-float(hparams["p"]))
    raise ValueError(f"unknown schedule {schedule!r}; use 'fixed' or 'inv'")


def accuracy(
    model: torch.nn.Module, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor
) -> float:
    """Top-1 accuracy of ``model`` (in eval mode, no gradients); non-finite logits count as wrong.

    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    >>> 0.0 <= accuracy(model, np.zeros((3, 1, 2, 2), np.float32), np.zeros(3, np.int64)) <= 1.0
    True
    """
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    if len(yt) == 0:
        return math.nan
    was_training = model.training
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(yt), EVAL_BATCH):
            logits = model(xt[start : start + EVAL_BATCH])
            ok = (logits.argmax(dim=1) == yt[start : start + EVAL_BATCH]) & torch.isfinite(
                logits
            ).all(dim=1)
            correct += int(ok.sum())
    model.train(was_training)
    return correct / len(yt)


def train(
    model: torch.nn.Module,
    data: Data,
    hparams: Mapping[str, Any],
    *,
    T: int,
    eval_every: int,
    seed: int,
    callbacks: Sequence[object] = (),
) -> TrainOutcome:
    """Train ``model`` for ``T`` SGD steps on ``data`` (see the module docstring for the contract).

    Uses ``lr, schedule, gamma, p, momentum, weight_decay, batch_size`` from ``hparams``.
    Torch's own RNG (dropout) is the caller's to seed; minibatches come from ``seed``.

    >>> from weightcast.search import build_cnn, load_data, get_preset
    >>> hp = get_preset("digits").sample(1, seed=0)[0]
    >>> data = load_data("digits", n_val=100, n_test=100)
    >>> out = train(build_cnn(hp, data.in_shape, 10), data, hp, T=5, eval_every=5, seed=0)
    >>> 0.0 <= out.final_acc <= 1.0
    True
    """
    if T < 0 or eval_every < 1:
        raise ValueError(f"need T >= 0 and eval_every >= 1, got T={T}, eval_every={eval_every}")
    batch_size = int(hparams["batch_size"])
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    step_hooks = [cb.on_train_step for cb in callbacks if hasattr(cb, "on_train_step")]
    eval_hooks = [cb.on_eval for cb in callbacks if hasattr(cb, "on_eval")]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(
        params,
        lr=learning_rate(hparams, 0),
        momentum=float(hparams["momentum"]),
        weight_decay=float(hparams["weight_decay"]),
    )
    batches = _Batches(data.x_train, data.y_train, batch_size, seed)
    x_val, y_val = _tensor(data.x_val), _tensor(data.y_val)

    model.train()
    xb, yb = batches.next()
    with torch.no_grad():
        loss0 = float(torch.nn.functional.cross_entropy(model(xb), yb))
    for hook in step_hooks:
        hook(model, 0, loss0)
    val_acc = accuracy(model, x_val, y_val)
    for hook in eval_hooks:
        hook(0, val_acc)

    diverged: int | None = None
    for step in range(1, T + 1):
        if diverged is None:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(hparams, step - 1)
            if step > 1:
                xb, yb = batches.next()
            optimizer.zero_grad(set_to_none=True)
            loss_t = torch.nn.functional.cross_entropy(model(xb), yb)
            loss_t.backward()
            optimizer.step()
            loss = loss_t.item()
            if not (math.isfinite(loss) and _finite(params)):
                diverged = step
                val_acc = accuracy(model, x_val, y_val)  # the diverged model's, from now on
        else:
            loss = math.nan
        for hook in step_hooks:
            hook(model, step, loss)
        if step % eval_every == 0 or step == T:
            if diverged is None:
                val_acc = accuracy(model, x_val, y_val)
            for hook in eval_hooks:
                hook(step, val_acc)
    final_acc = accuracy(model, _tensor(data.x_test), _tensor(data.y_test))
    return TrainOutcome(final_acc=final_acc, final_val_acc=val_acc, diverged_step=diverged)


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A tensor of a (possibly read-only, cached) array: a copy, torch wants writable memory."""
    return torch.from_numpy(np.array(array))


def _finite(params: Sequence[torch.Tensor]) -> bool:
    """All parameters finite (a sum per tensor: one reduction each, cheap next to a step)."""
    with torch.no_grad():
        return bool(torch.isfinite(torch.stack([p.sum() for p in params])).all())


class _Batches:
    """Consecutive minibatches of a seeded permutation, a new permutation each epoch."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> None:
        if len(y) == 0:
            raise ValueError("the training split is empty")
        self.x, self.y = x, y
        self.batch_size = min(batch_size, len(y))
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(y))
        self.pos = 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.pos + self.batch_size > len(self.order):
            self.order = self.rng.permutation(len(self.y))
            self.pos = 0
        idx = self.order[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return torch.from_numpy(self.x[idx]), torch.from_numpy(self.y[idx])
