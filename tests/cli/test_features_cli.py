"""weightcast features, through click's test runner."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from click.testing import CliRunner

from weightcast.cli import main
from weightcast.features import network_features

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.filterwarnings("error")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("features")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.ReLU(),
        torch.nn.Conv2d(4, 6, 3),
        torch.nn.Flatten(),
        torch.nn.Linear(6 * 4 * 4, 10),
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    paths = {"now": tmp / "now.pt", "before": tmp / "before.pth", "npz": tmp / "now.npz"}
    torch.save(model.state_dict(), paths["now"])
    torch.save({"model_state_dict": before, "step": 0}, paths["before"])
    np.savez(paths["npz"], **{k: v.numpy() for k, v in model.state_dict().items()})
    layers = {
        k[: -len(".weight")]: v.numpy()
        for k, v in model.state_dict().items()
        if k.endswith(".weight")
    }
    previous = {k[: -len(".weight")]: v.numpy() for k, v in before.items() if k.endswith(".weight")}
    return paths, layers, previous


def test_csv_of_a_state_dict(checkpoints):
    paths, layers, _ = checkpoints
    result = run("features", paths["now"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == ["feature", "value"]
    got = {name: float(value) for name, value in rows[1:]}
    assert got == network_features(layers)


def test_json_with_previous_to_a_file(checkpoints, tmp_path):
    paths, layers, previous = checkpoints
    out = tmp_path / "f.json"
    result = run(
        "features", paths["now"], "--previous", paths["before"], "--format", "json", "--out", out
    )
    assert result.exit_code == 0, result.output
    assert result.output == ""
    got = json.loads(out.read_text())
    assert got == network_features(layers, previous)
    assert len(got) == 2 * (3 * 218 + 153)


def test_npz_gives_the_same_features(checkpoints):
    paths, layers, _ = checkpoints
    result = run("features", paths["npz"], "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == network_features(layers)


def test_bad_checkpoints_are_clean_errors(checkpoints, tmp_path):
    paths, _, _ = checkpoints
    junk = tmp_path / "junk.pt"
    junk.write_text("hello")
    result = run("features", junk)
    assert result.exit_code == 1 and "Error:" in result.output and "state_dict" in result.output
    assert isinstance(result.exception, SystemExit)  # a click error, not a traceback
    lonely = tmp_path / "lonely.npz"
    np.savez(lonely, bias=np.ones(3))
    result = run("features", lonely)
    assert result.exit_code == 1 and "numpy.savez" in result.output
    mismatch = tmp_path / "other.npz"
    np.savez(
        mismatch, **{"0": np.ones((4, 1, 5, 5)), "2": np.ones((6, 4, 3, 3)), "4": np.ones((10, 96))}
    )
    result = run("features", paths["npz"], "--previous", mismatch)
    assert result.exit_code == 1 and "missing from previous" in result.output
    result = run("features", tmp_path / "absent.pt")
    assert result.exit_code == 2 and "does not exist" in result.output
