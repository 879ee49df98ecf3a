"""Datasets of the searches: loading (IDX files, scikit-learn's digits), preprocessing, splits.

Preprocessing follows the paper: inputs scaled to [0, 1], then the per-pixel mean of the
training split subtracted from every split. The split into train / validation (the learning
curve) / test (the final accuracy) is fixed by a seed, independent of the runs' seeds, so every
run of a search sees the same data. Loaded arrays are cached per process and read-only.
"""

from __future__ import annotations

import functools
import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_ENV = "WEIGHTCAST_FASHION_MNIST"
MNIST_ENV = "WEIGHTCAST_MNIST"
DATASETS: tuple[str, ...] = ("digits", "fashion14", "idx28")

# IDX type codes -> big-endian numpy dtypes (http://yann.lecun.com/exdb/mnist/, "IDX file format")
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True, eq=False)
class Data:
    """Preprocessed splits: images ``float32 (n, channels, height, width)``, labels ``int64 (n,)``.

    >>> data = load_data("digits", n_val=100, n_test=100)
    >>> data.in_shape, data.n_classes, len(data.y_val)
    ((1, 8, 8), 10, 100)
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def in_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of one input."""
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)

    @property
    def n_val(self) -> int:
        """Size of the validation split (one learning-curve evaluation)."""
        return len(self.y_val)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (the MNIST format), gzipped (``.gz``) or not, into a numpy array.

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x-idx1-ubyte"
    >>> _ = f.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    >>> read_idx(f)
    array([7, 8, 9], dtype=uint8)
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4]!r})")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: IDX header says shape {shape} ({expected} bytes of data), "
            f"file has {len(raw) - header}"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def load_idx_folder(
    path: str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)`` from a folder of MNIST-format IDX files.

    The folder holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each optionally ``.gz``
    (``.idx3-ubyte`` spellings are accepted too). Images come back as stored (``uint8``,
    ``(n, height, width)``). Cached per process; the arrays are read-only.

    >>> x_train, y_train, x_test, y_test = load_idx_folder(FASHION_MNIST_DIR)  # doctest: +SKIP
    """
    return _load_idx_folder(str(Path(path).expanduser().resolve()))


@functools.lru_cache(maxsize=4)
def _load_idx_folder(folder: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    root = Path(folder)
    found: dict[str, Path] = {}
    for key, stem in _IDX_FILES.items():
        dotted = stem.replace("-idx", ".idx")
        candidates = [root / f"{s}{gz}" for s in (stem, dotted) for gz in ("", ".gz")]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is not None:
            found[key] = hit
    missing = [f"{_IDX_FILES[k]}[.gz]" for k in _IDX_FILES if k not in found]
    if missing:
        raise FileNotFoundError(
            f"no MNIST-format dataset in {root}: missing {', '.join(missing)}. Pass a folder "
            f"holding the four IDX files (for Fashion-MNIST: apt-get install dataset-fashion-mnist, "
            f"which puts them in {FASHION_MNIST_DIR})"
        )
    arrays = tuple(_readonly(read_idx(found[k])) for k in _IDX_FILES)
    x_train, y_train, x_test, y_test = arrays
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(
                f"{root}: {split} images {x.shape} and labels {y.shape} do not match "
                f"(expected (n, height, width) and (n,))"
            )
    return x_train, y_train, x_test, y_test


def load_fashion_mnist(
    path: str | os.PathLike[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fashion-MNIST as ``(x_train, y_train, x_test, y_test)`` (``uint8`` 28x28 images).

    The folder is ``path``, else ``$WEIGHTCAST_FASHION_MNIST``, else
    ``/usr/share/datasets/fashion-mnist`` (Debian/Ubuntu: ``apt-get install
    dataset-fashion-mnist``). A missing dataset raises :class:`FileNotFoundError` saying so.

    >>> x_train, y_train, x_test, y_test = load_fashion_mnist()  # doctest: +SKIP
    >>> x_train.shape  # doctest: +SKIP
    (60000, 28, 28)
    """
    folder = path if path is not None else os.environ.get(FASHION_MNIST_ENV, FASHION_MNIST_DIR)
    if not Path(folder).is_dir():
        raise FileNotFoundError(
            f"Fashion-MNIST not found: {folder} is not a folder. Install it with "
            f"`apt-get install dataset-fashion-mnist` (files go to {FASHION_MNIST_DIR}), or pass "
            f"a folder of MNIST-format IDX files (path=..., or ${FASHION_MNIST_ENV})"
        )
    return load_idx_folder(folder)


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (1,797 images, embedded in scikit-learn): ``(x, y)``, ``x`` in
    ``[0, 16]`` with shape ``(1797, 8, 8)``. Cached per process; read-only.

    >>> x, y = load_digits()
    >>> x.shape, int(x.max())
    ((1797, 8, 8), 16)
    """
    return _load_digits()


@functools.lru_cache(maxsize=1)
def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    return _readonly(bunch.images.astype(np.float32)), _readonly(bunch.target.astype(np.int64))


def load_data(
    dataset: str,
    path: str | os.PathLike[str] | None = None,
    *,
    n_val: int,
    n_test: int | None = None,
    n_train: int | None = None,
    split_seed: int = 0,
) -> Data:
    """A dataset by name, preprocessed and split; cached per process.

    ``dataset`` is ``"digits"`` (8x8, no official test set: the seeded split draws test,
    validation and train from all 1,797 images), ``"fashion14"`` (Fashion-MNIST average-pooled
    2x2 to 14x14) or ``"idx28"`` (any 28x28 MNIST-format folder: ``path``, else
    ``$WEIGHTCAST_MNIST``). For IDX data the test split is the first ``n_test`` of a seeded
    permutation of the official test set (all of it when None) and validation comes out of the
    official training set. ``n_train`` caps the training split (None: the rest).

    >>> data = load_data("digits", n_val=200, n_test=300)
    >>> len(data.y_train), len(data.y_val), len(data.y_test)
    (1297, 200, 300)
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; use one of {list(DATASETS)}")
    folder = None if path is None else str(Path(path).expanduser().resolve())
    return _load_data(dataset, folder, n_val, n_test, n_train, split_seed)


@functools.lru_cache(maxsize=8)
def _load_data(
    dataset: str,
    folder: str | None,
    n_val: int,
    n_test: int | None,
    n_train: int | None,
    split_seed: int,
) -> Data:
    rng = np.random.default_rng(split_seed)
    if dataset == "digits":
        x, y = load_digits()
        x = x / np.float32(16.0)
        if n_test is None:
            raise ValueError("digits has no official test set: give n_test, the size of its split")
        _check_sizes(dataset, len(y), n_val + n_test)
        order = rng.permutation(len(y))
        test, rest = order[:n_test], order[n_test:]
        x_test, y_test, x_pool, y_pool = x[test], y[test], x[rest], y[rest]
    else:
        if dataset == "fashion14":
            x_tr, y_tr, x_te, y_te = load_fashion_mnist(folder)
        else:
            x_tr, y_tr, x_te, y_te = load_idx_folder(_mnist_folder(folder))
        test = rng.permutation(len(y_te))[: len(y_te) if n_test is None else n_test]
        x_test, y_test = _scale_idx(x_te[test], dataset), y_te[test].astype(np.int64)
        x_pool, y_pool = _scale_idx(x_tr, dataset), y_tr.astype(np.int64)
    _check_sizes(dataset, len(y_pool), n_val + 1)
    order = rng.permutation(len(y_pool))
    val, train = order[:n_val], order[n_val:]
    if n_train is not None:
        train = train[:n_train]
    mean = x_pool[train].mean(axis=0, dtype=np.float64).astype(np.float32)

    def prep(images: np.ndarray) -> np.ndarray:
        return _readonly(np.ascontiguousarray((images - mean)[:, None], dtype=np.float32))

    n_classes = int(max(y_pool.max(), y_test.max() if len(y_test) else 0)) + 1
    return Data(
        name=dataset,
        x_train=prep(x_pool[train]),
        y_train=_readonly(y_pool[train]),
        x_val=prep(x_pool[val]),
        y_val=_readonly(y_pool[val]),
        x_test=prep(x_test),
        y_test=_readonly(np.asarray(y_test, dtype=np.int64)),
        n_classes=n_classes,
    )


def _scale_idx(images: np.ndarray, dataset: str) -> np.ndarray:
    x = images.astype(np.float32) / np.float32(255.0)
    if dataset == "fashion14":
        n, h, w = x.shape
        x = x[:, : h // 2 * 2, : w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
    return x


def _mnist_folder(folder: str | None) -> str:
    folder = folder or os.environ.get(MNIST_ENV)
    if folder is None:
        raise FileNotFoundError(
            f"the idx28 dataset needs a folder of MNIST-format IDX files: pass path=... or set "
            f"${MNIST_ENV} (Fashion-MNIST works too: apt-get install dataset-fashion-mnist, "
            f"then use {FASHION_MNIST_DIR})"
        )
    return folder


def _check_sizes(dataset: str, available: int, needed: int) -> None:
    if needed > available:
        raise ValueError(
            f"{dataset}: the validation/test splits need {needed} examples, only {available} exist"
        )


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
