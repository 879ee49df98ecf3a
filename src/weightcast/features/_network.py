"""Features of a network at step t: the spec's layers, raw weights and weight changes."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from weightcast.features._layer import _layer_vector, _names, check_weights

__all__ = ["PARTS", "load_npz_weights", "network_features", "select_layers"]

#: The two feature families of a network: features of W(t) and of W(t) - W(t - tau).
PARTS: tuple[str, ...] = ("raw", "delta")


def select_layers(layers: Mapping[str, ArrayLike]) -> dict[str, str]:
    """The spec's layers of a network: canonical name -> name in ``layers``.

    ``layers`` maps layer names to weights in forward order; 4-D arrays are
    convolutions, 2-D arrays fully connected layers, anything else is ignored. The
    result names ``conv_first``, ``conv_second``, ``conv_last`` (first, second and last
    convolution; with two convolutions ``conv_last`` is the second, with one all three
    are the same layer) and ``fc1`` .. ``fcK``, in that order.

    >>> import numpy as np
    >>> net = {"c1": np.ones((4, 1, 3, 3)), "b1": np.ones(4), "c2": np.ones((8, 4, 3, 3)),
    ...        "fc": np.ones((10, 8))}
    >>> select_layers(net)
    {'conv_first': 'c1', 'conv_second': 'c2', 'conv_last': 'c2', 'fc1': 'fc'}
    """
    convs = [name for name, w in layers.items() if np.ndim(w) == 4]
    fcs = [name for name, w in layers.items() if np.ndim(w) == 2]
    selected: dict[str, str] = {}
    if convs:
        selected["conv_first"] = convs[0]
        selected["conv_second"] = convs[min(1, len(convs) - 1)]
        selected["conv_last"] = convs[-1]
    for k, name in enumerate(fcs, start=1):
        selected[f"fc{k}"] = name
    return selected


def network_features(
    layers: Mapping[str, ArrayLike],
    previous: Mapping[str, ArrayLike] | None = None,
    *,
    parts: Sequence[str] | None = None,
) -> dict[str, float]:
    """The spec's features of a network at step t.

    ``layers`` maps layer names to weights W(t) in forward order (4-D convolution,
    2-D fully connected; other arrays such as biases are ignored), ``previous`` the
    same layers' weights W(t - tau). Returns ``<layer>.raw.<feature>`` (features of
    W(t)) and, when ``previous`` is given, ``<layer>.delta.<feature>`` (features of
    W(t) - W(t - tau), computed in float64), for the layers of
    :func:`select_layers`; a layer selected under several names is computed once.

    ``parts`` picks the families to compute: by default ``("raw", "delta")`` with
    ``previous`` and ``("raw",)`` without; e.g. ``parts=("delta",)`` for the change
    at another tau when the raw features of W(t) are already known.

    Raises ``ValueError`` naming the layer for weights that are not finite
    (:class:`~weightcast.features.NonFiniteWeightsError`), a layer missing from
    ``previous`` or of another shape there, and a network with no 4-D or 2-D weights.

    >>> rng = np.random.default_rng(0)
    >>> w0 = {"conv": rng.normal(size=(6, 1, 5, 5)), "fc": rng.normal(size=(10, 24))}
    >>> w1 = {k: v + 0.01 * rng.normal(size=v.shape) for k, v in w0.items()}
    >>> f = network_features(w1, w0)
    >>> len(f), f["conv_last.raw.all.mean"] == f["conv_first.raw.all.mean"]
    (1614, True)
    >>> sorted({k.split(".")[1] for k in network_features(w1, w0, parts=("delta",))})
    ['delta']
    """
    if parts is None:
        parts = PARTS if previous is not None else PARTS[:1]
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise ValueError(f"parts must be a non-empty subset of {PARTS}, got {tuple(parts)!r}")
    if "delta" in parts and previous is None:
        raise ValueError(
            "delta features need the previous weights: pass previous= (the same layers "
            "at step t - tau), or parts=('raw',)"
        )
    selected = select_layers(layers)
    if not selected:
        shapes = {name: np.shape(w) for name, w in layers.items()}
        raise ValueError(
            "no convolution (4-D) or fully connected (2-D) weights among the layers "
            f"{shapes}; pass weights in PyTorch layout, e.g. weightcast.torch.layer_weights(model)"
        )
    current = {name: check_weights(layers[name], name) for name in dict.fromkeys(selected.values())}
    wanted = tuple(part for part in PARTS if part in parts)
    vectors: list[NDArray[np.float64]] = []
    for part in wanted:
        done: dict[str, NDArray[np.float64]] = {}  # original layer name -> feature vector
        for name in selected.values():
            if name not in done:
                W = current[name]
                if part == "delta":
                    assert previous is not None
                    W = W - _previous_layer(name, W.shape, previous)
                done[name] = _layer_vector(W)
            vectors.append(done[name])
    layout = tuple((canonical, current[name].ndim == 4) for canonical, name in selected.items())
    keys = _output_names(layout, wanted)
    return dict(zip(keys, np.concatenate(vectors).tolist(), strict=True))


@lru_cache(maxsize=64)
def _output_names(layout: tuple[tuple[str, bool], ...], parts: tuple[str, ...]) -> tuple[str, ...]:
    """``<layer>.<part>.<feature>`` for the canonical layers ``layout`` (name, is a
    convolution), part by part: the keys of :func:`network_features`, in its order."""
    return tuple(
        f"{canonical}.{part}.{feature}"
        for part in parts
        for canonical, conv in layout
        for feature in _names(conv)
    )


def _previous_layer(
    name: str, shape: tuple[int, ...], previous: Mapping[str, ArrayLike]
) -> NDArray[np.float64]:
    """W(t - tau) of one layer, checked, in float64."""
    if name not in previous:
        raise ValueError(
            f"layer {name!r} is missing from previous (it has {sorted(previous)}); pass the "
            "same model's layers at step t - tau, under the same names"
        )
    before = check_weights(previous[name], f"{name} (previous)")
    if before.shape != shape:
        raise ValueError(
            f"layer {name!r} has shape {shape} but {before.shape} in previous; pass the "
            "same model's layers at step t - tau"
        )
    return before


def load_npz_weights(path: str | os.PathLike[str]) -> dict[str, NDArray[np.generic]]:
    """A network's layers from an ``.npz`` file (``numpy.savez``), in file order.

    Keeps the 4-D (convolution) and 2-D (fully connected) arrays under their names; a
    3-D array is taken as a Conv1d weight ``(C_out, C_in, k)`` and returned as
    ``(C_out, C_in, k, 1)``; other arrays (biases, scalars) are left out. Raises
    ``ValueError`` for a file that is not an npz archive of numeric arrays.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "net.npz"
    >>> np.savez(path, conv=np.ones((4, 1, 3, 3)), bias=np.ones(4), fc=np.ones((10, 4)))
    >>> {k: v.shape for k, v in load_npz_weights(path).items()}
    {'conv': (4, 1, 3, 3), 'fc': (10, 4)}
    """
    where = repr(os.fspath(path))
    how = "write one with numpy.savez(path, **{layer_name: weight_array})"
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"cannot read {where} as an .npz of weight arrays ({exc}); {how}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{where} holds a single array, not an .npz of named arrays; {how}")
    with archive:
        arrays = {name: archive[name] for name in archive.files}
    out: dict[str, NDArray[np.generic]] = {}
    for name, arr in arrays.items():
        if arr.ndim == 3:
            arr = arr[..., None]
        if arr.ndim in (2, 4):
            out[name] = arr
    if not out:
        shapes = {name: arr.shape for name, arr in arrays.items()}
        raise ValueError(f"{where} has no 2-D, 3-D or 4-D weight arrays (it has {shapes}); {how}")
    return out
