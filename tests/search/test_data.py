"""Datasets: IDX parsing, folders, the missing-dataset error, preprocessing and splits."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from weightcast.search import load_data, load_digits, load_fashion_mnist, load_idx_folder, read_idx
from weightcast.search._data import FASHION_MNIST_ENV, MNIST_ENV

NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _idx_bytes(array: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def _write(path: Path, array: np.ndarray, gz: bool) -> Path:
    data = _idx_bytes(array)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def _folder(root: Path, gz: bool, n_train: int = 30, n_test: int = 12, size: int = 4) -> dict:
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 3).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 3).astype(np.uint8),
    }
    root.mkdir(parents=True, exist_ok=True)
    for key, name in NAMES.items():
        _write(root / name, arrays[key], gz)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.array([7, 8, 9], dtype=np.uint8),
        np.array([[-1, 2], [3, 2**30]], dtype=">i4"),
        np.array([0.5, -1.25], dtype=">f4"),
    ],
)
def test_read_idx_round_trip(tmp_path: Path, array: np.ndarray, gz: bool) -> None:
    out = read_idx(_write(tmp_path / "x-idx", array, gz))
    np.testing.assert_array_equal(out, array)
    assert out.dtype.isnative and out.shape == array.shape


def test_read_idx_rejects_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x12\x34\x08\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(_idx_bytes(np.arange(6, dtype=np.uint8))[:-2])
    with pytest.raises(ValueError, match="header says shape"):
        read_idx(short)


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_folder(tmp_path: Path, gz: bool) -> None:
    arrays = _folder(tmp_path / "data", gz)
    got = load_idx_folder(tmp_path / "data")
    for key, value in zip(NAMES, got, strict=True):
        np.testing.assert_array_equal(value, arrays[key])
        assert not value.flags.writeable  # cached arrays are read-only
    assert load_idx_folder(str(tmp_path / "data"))[0] is got[0]  # cached per process


def test_load_idx_folder_missing_files(tmp_path: Path) -> None:
    _folder(tmp_path, gz=False)
    (tmp_path / NAMES["test_labels"]).unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_idx_folder(tmp_path)


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path / "nowhere")


def test_fashion_env_override_and_pooling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = _folder(tmp_path / "fm", gz=True, n_train=40, n_test=20, size=4)
    monkeypatch.setenv(FASHION_MNIST_ENV, str(tmp_path / "fm"))
    np.testing.assert_array_equal(load_fashion_mnist()[0], arrays["train_images"])
    data = load_data("fashion14", n_val=10, n_test=8)
    assert data.in_shape == (1, 2, 2) and data.n_classes == 3
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (30, 10, 8)
    # 2x2 average pooling of [0, 1]-scaled pixels, minus the training mean
    x = arrays["train_images"].astype(np.float32) / 255
    pooled = x.reshape(40, 2, 2, 2, 2).mean(axis=(2, 4))
    recon = np.concatenate([data.x_train, data.x_val])[:, 0]
    mean = pooled.mean(axis=0) - recon.mean(axis=0)  # pool mean minus centred mean
    np.testing.assert_allclose(
        np.sort((recon + mean).ravel()), np.sort(pooled.ravel()), rtol=1e-5, atol=1e-6
    )


def test_idx28_needs_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MNIST_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=MNIST_ENV):
        load_data("idx28", n_val=5)
    _folder(tmp_path / "m", gz=False, size=6)
    data = load_data("idx28", tmp_path / "m", n_val=5)
    assert data.in_shape == (1, 6, 6) and len(data.y_test) == 12  # whole official test set


def test_digits_splits_and_preprocessing() -> None:
    x, y = load_digits()
    assert x.shape == (1797, 8, 8) and x.max() == 16 and set(np.unique(y)) == set(range(10))
    data = load_data("digits", n_val=200, n_test=300)
    assert data is load_data("digits", n_val=200, n_test=300)  # cached
    assert (len(data.y_train), data.n_val, len(data.y_test)) == (1297, 200, 300)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert data.in_shape == (1, 8, 8) and data.n_classes == 10
    # per-pixel mean of the training split subtracted; inputs were scaled to [0, 1]
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0, atol=1e-6)
    assert np.ptp(data.x_train, axis=0).max() <= 1 + 1e-6
    # the splits partition the images: their multisets of (centred) images add up
    all_images = np.concatenate([data.x_train, data.x_val, data.x_test]).reshape(1797, -1)
    assert len(np.unique(all_images, axis=0)) == len(np.unique(x.reshape(1797, -1), axis=0))
    assert not data.x_train.flags.writeable
    other = load_data("digits", n_val=200, n_test=300, split_seed=1)
    assert not np.array_equal(other.y_test, data.y_test)


def test_bad_sizes_and_names() -> None:
    with pytest.raises(ValueError, match="unknown dataset"):
        load_data("cifar", n_val=1)
    with pytest.raises(ValueError, match="only 1797"):
        load_data("digits", n_val=1700, n_test=300)
    with pytest.raises(ValueError, match="give n_test"):
        load_data("digits", n_val=10)
