"""Layer weights of a PyTorch model or checkpoint, as numpy arrays in PyTorch layout."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from weightcast._imports import require

__all__ = ["layer_weights", "load_state_dict_weights"]


def layer_weights(model: Any, *, copy: bool = False) -> dict[str, NDArray[np.generic]]:
    """The weights of a model's Conv2d, Conv1d and Linear layers, in module order.

    Keys are the modules' qualified names (``model.named_modules()``, so forward order
    for the usual models); other layers (batch norm, embeddings, ...) and biases are
    left out. A Conv2d weight is ``(C_out, C_in / groups, kh, kw)``, a Linear one
    ``(out, in)``; a Conv1d weight ``(C_out, C_in / groups, k)`` is returned as
    ``(C_out, C_in / groups, k, 1)``, a convolution with a k x 1 kernel.

    By default the arrays share memory with the parameters (no copy for a CPU model):
    they change when the optimizer steps. Pass ``copy=True`` to keep a snapshot.
    bfloat16 weights (which numpy lacks) and weights on another device are copied.

    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Conv1d(2, 4, 3), torch.nn.BatchNorm1d(4),
    ...                             torch.nn.Flatten(), torch.nn.Linear(8, 3))
    >>> {name: w.shape for name, w in layer_weights(model).items()}
    {'0': (4, 2, 3, 1), '3': (3, 8)}
    """
    torch = require("torch")
    nn = torch.nn
    if not isinstance(model, nn.Module):
        raise TypeError(f"layer_weights needs a torch.nn.Module, got {type(model).__name__}")
    out: dict[str, NDArray[np.generic]] = {}
    for name, module in model.named_modules():
        if not isinstance(module, nn.Conv2d | nn.Conv1d | nn.Linear):
            continue
        weight = module.weight
        if isinstance(weight, nn.parameter.UninitializedParameter):
            raise ValueError(
                f"layer {name!r} ({type(module).__name__}) is not initialised yet; "
                "run one forward pass before reading its weights"
            )
        arr = _to_numpy(weight, copy=copy)
        out[name] = arr[..., None] if isinstance(module, nn.Conv1d) else arr
    return out


def load_state_dict_weights(path: str | os.PathLike[str]) -> dict[str, NDArray[np.generic]]:
    """The layer weights of a PyTorch checkpoint, in file order.

    ``path`` is a file of ``torch.save(model.state_dict(), path)``, or of a dict with
    the state dict under ``"state_dict"`` or ``"model_state_dict"``; it is read with
    ``torch.load(weights_only=True)`` (no code from the file runs). Every 4-D and 2-D
    ``*.weight`` tensor is kept under its module name (the key without ``.weight``); a
    3-D one is taken as a Conv1d weight and returned as ``(C_out, C_in, k, 1)``, as
    :func:`layer_weights` does. A state dict does not say which module a tensor
    belongs to: every 2-D weight counts as fully connected (an embedding too).

    Raises ``ValueError`` saying what was expected for a file that cannot be read so
    or that holds no such weights.

    >>> import tempfile, pathlib, torch
    >>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4),
    ...                             torch.nn.Flatten(), torch.nn.Linear(16, 10))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.pt"
    >>> torch.save({"epoch": 3, "model_state_dict": model.state_dict()}, path)
    >>> {name: w.shape for name, w in load_state_dict_weights(path).items()}
    {'0': (4, 1, 3, 3), '3': (10, 16)}
    """
    torch = require("torch")
    expected = (
        "expected a PyTorch state_dict, as written by torch.save(model.state_dict(), path) "
        "(or a dict holding it under 'state_dict' or 'model_state_dict')"
    )
    try:
        obj = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # torch.load raises many types: pickle, zip, runtime errors
        message = str(exc).strip()
        found = re.search(r"Unsupported global: GLOBAL (\S+)", message)
        if found:
            reason = (
                f"it holds Python objects besides tensors ({found.group(1)}; e.g. a whole "
                "model saved with torch.save(model, path)), which a safe weights-only load "
                "refuses"
            )
        else:
            first = message.splitlines()[0] if message else ""
            reason = f"it is not a PyTorch checkpoint ({type(exc).__name__}: {first})"
        raise ValueError(f"cannot read {os.fspath(path)!r}: {reason}; {expected}") from exc
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model_state_dict"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping):
        raise ValueError(f"{os.fspath(path)!r} holds a {type(obj).__name__}; {expected}")
    out: dict[str, NDArray[np.generic]] = {}
    for key, value in obj.items():
        if not (isinstance(key, str) and isinstance(value, torch.Tensor)):
            continue
        if key != "weight" and not key.endswith(".weight"):
            continue
        if value.ndim in (2, 3, 4):
            arr = _to_numpy(value, copy=False)
            out[key[: -len("weight")].rstrip(".")] = arr[..., None] if arr.ndim == 3 else arr
    if not out:
        raise ValueError(
            f"{os.fspath(path)!r} has no 2-D, 3-D or 4-D '*.weight' tensors "
            f"(keys: {list(obj)[:10]}); {expected}"
        )
    return out


def _to_numpy(tensor: Any, *, copy: bool) -> NDArray[np.generic]:
    """A tensor's values as numpy, sharing memory where torch allows it."""
    torch = require("torch")
    t = tensor.detach()
    if t.device.type != "cpu":
        t, copy = t.cpu(), False  # already a copy
    if t.dtype == torch.bfloat16:
        t, copy = t.float(), False
    arr: NDArray[np.generic] = t.numpy()
    return arr.copy() if copy else arr
