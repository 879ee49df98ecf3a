"""The collector: resumable, parallel, lock-protected, failure-tolerant."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.corpus._fakes import SlowPreset, logged_run, started_seeds
from weightcast.corpus import Corpus, CorpusError, _locks, collect, run_id_for, run_seed
from weightcast.corpus.testing import FakePreset, fake_run

ROOT = Path(__file__).resolve().parents[2]


def _leftovers(out: Path) -> list[str]:
    tmp = [p.name for p in (out / "runs").glob(".tmp-*")]
    locks = [p.name for p in (out / ".locks").glob("*")] if (out / ".locks").exists() else []
    return tmp + locks


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_collect_runs_the_seeded_sample_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "c"
    preset = FakePreset()
    s = collect(preset, 5, out, seed=2, run_fn=fake_run, progress=False)
    assert (s.done, s.already, s.failed, s.corpus_runs, s.missing) == (5, 0, 0, 5, 0)
    c = Corpus(out)
    assert c.meta["preset"] == "fake" and c.meta["seed"] == 2 and c.steps == [0, 10, 20, 50]
    assert c.run_ids == [run_id_for(i) for i in range(5)]
    assert c.runs()["seed"].tolist() == [run_seed(2, i) for i in range(5)]
    assert c.runs()["index"].tolist() == list(range(5))
    assert c.hparams().to_dict("records") == preset.sample(5, 2, "random")
    assert s.diverged == int((c.runs()["status"] == "diverged").sum())
    assert s.best_acc == pytest.approx(c.runs()["final_acc"].max())
    # the same call again: nothing to do; a bigger one extends the corpus
    again = collect(preset, 5, out, seed=2, run_fn=fake_run, progress=False)
    assert (again.done, again.already) == (0, 5)
    more = collect(preset, 7, out, seed=2, run_fn=fake_run, progress=False)
    assert (more.done, more.already, more.corpus_runs) == (2, 5, 7)
    assert _leftovers(out) == []
    with pytest.raises(CorpusError, match="T: 100 != 50"):
        collect(FakePreset(T=50), 7, out, seed=2, run_fn=fake_run, progress=False)
    with pytest.raises(CorpusError, match="seed: 2 != 3"):
        collect(preset, 7, out, seed=3, run_fn=fake_run, progress=False)


def test_failing_run_is_counted_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "c"
    bad = SlowPreset(fail_seeds=(run_seed(0, 1), run_seed(0, 3)))
    s = collect(bad, 5, out, run_fn=logged_run, progress=False)
    assert (s.done, s.failed, s.missing) == (3, 2, 2)
    assert s.failures == {
        "run-000001": "ValueError: boom at seed 1",
        "run-000003": "ValueError: boom at seed 3",
    }
    assert "run-000001 failed" in caplog.text and "logged_run" in caplog.text
    assert Corpus(out).run_ids == ["run-000000", "run-000002", "run-000004"]
    assert "failed run-000003" in s.format() and "rerun the same command" in s.format()
    assert _leftovers(out) == []
    s = collect(SlowPreset(), 5, out, run_fn=logged_run, progress=False)
    assert (s.done, s.failed, s.missing) == (2, 0, 0)


def test_keyboard_interrupt_stops_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "c"

    def interrupted(preset: FakePreset, hparams: dict, seed: int):  # type: ignore[no-untyped-def]
        if seed == 2:
            raise KeyboardInterrupt
        return fake_run(preset, hparams, seed)

    s = collect(FakePreset(), 5, out, run_fn=interrupted, progress=False)
    assert s.interrupted and s.done == 2 and s.missing == 3
    assert "interrupted" in capsys.readouterr().err
    assert _leftovers(out) == []
    assert collect(FakePreset(), 5, out, run_fn=fake_run, progress=False).done == 3


def test_stale_locks_are_taken_over_live_and_foreign_ones_respected(tmp_path: Path) -> None:
    locks = tmp_path / ".locks"
    locks.mkdir()
    dead = {"pid": _dead_pid(), "host": _locks.HOST, "start": None}
    (locks / "run-000000.lock").write_text(json.dumps(dead))
    live = {"pid": os.getppid(), "host": _locks.HOST, "start": None}
    (locks / "run-000001.lock").write_text(json.dumps(live))
    foreign = {"pid": 1, "host": _locks.HOST + "-elsewhere", "start": None}
    (locks / "run-000002.lock").write_text(json.dumps(foreign))
    reused = {"pid": os.getppid(), "host": _locks.HOST, "start": "1"}  # pid reused since
    (locks / "run-000003.lock").write_text(json.dumps(reused))

    claimed = _locks.try_claim(locks, "run-000000")
    assert claimed is not None
    assert json.loads(claimed.read_text())["pid"] == os.getpid()
    assert _locks.try_claim(locks, "run-000000") is None  # now held by us
    assert _locks.try_claim(locks, "run-000001") is None
    assert _locks.try_claim(locks, "run-000002") is None
    if _locks.process_start(os.getppid()) is not None:
        assert _locks.try_claim(locks, "run-000003") is not None
    _locks.release(claimed)
    assert _locks.lock_state(locks, "run-000000") == "absent"


def test_collect_skips_runs_held_elsewhere_and_cleans_leftovers(tmp_path: Path) -> None:
    out = tmp_path / "c"
    collect(FakePreset(), 1, out, run_fn=fake_run, progress=False)
    locks = out / ".locks"
    locks.mkdir(exist_ok=True)
    held = {"pid": os.getppid(), "host": _locks.HOST, "start": None}
    (locks / "run-000002.lock").write_text(json.dumps(held))
    dead = _dead_pid()
    (locks / "run-000003.lock").write_text(json.dumps({"pid": dead, "host": _locks.HOST}))
    (out / "runs" / f".tmp-run-000003-{dead}-0badc0de").mkdir()
    (out / "runs" / f".tmp-run-000004-{dead}-0badc0de").mkdir()  # no lock at all
    (out / "runs" / ".tmp-run-000002-1-0badc0de").mkdir()  # held: left alone
    s = collect(FakePreset(), 5, out, run_fn=fake_run, progress=False)
    assert (s.done, s.elsewhere, s.already, s.missing) == (3, 1, 1, 1)
    assert sorted(_leftovers(out)) == [".tmp-run-000002-1-0badc0de", "run-000002.lock"]
    assert Corpus(out).run_ids == [run_id_for(i) for i in (0, 1, 3, 4)]


def test_two_workers_share_the_runs(tmp_path: Path) -> None:
    out, log = tmp_path / "c", str(tmp_path / "log")
    preset = SlowPreset(log=log, delay=0.05)
    s = collect(preset, 8, out, workers=2, run_fn=logged_run, progress=False)
    assert (s.done, s.failed, s.missing) == (8, 0, 0)
    assert sorted(started_seeds(log)) == list(range(8))  # each trained once
    pids = {line.split()[1] for line in Path(log).read_text().splitlines()}
    assert 1 <= len(pids) <= 2 and str(os.getpid()) not in pids  # trained in the workers
    assert _leftovers(out) == []


def _collect_script(out: Path, n: int, workers: int, log: str, delay: float) -> list[str]:
    code = (
        "from tests.corpus._fakes import SlowPreset, logged_run\n"
        "from weightcast.corpus import collect\n"
        "if __name__ == '__main__':\n"
        f"    collect(SlowPreset(log={log!r}, delay={delay}), {n}, {str(out)!r},"
        f" workers={workers}, run_fn=logged_run, progress=False)\n"
    )
    return [sys.executable, "-c", code]


def _popen(cmd: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)


def test_two_commands_on_one_corpus(tmp_path: Path) -> None:
    out, log = tmp_path / "c", str(tmp_path / "log")
    procs = [_popen(_collect_script(out, 12, 1, log, 0.1)) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    assert sorted(started_seeds(log)) == list(range(12))  # no run trained twice
    assert len(Corpus(out)) == 12 and _leftovers(out) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_then_rerun_completes_without_duplicates(tmp_path: Path, workers: int) -> None:
    out, log = tmp_path / "c", str(tmp_path / "log")
    proc = _popen(_collect_script(out, 12, workers, log, 0.15))
    deadline = time.monotonic() + 30
    while len(started_seeds(log)) < 4 + workers and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the command and its workers, as `kill -9 -PGID`
    proc.wait(timeout=10)
    done_before = len(Corpus(out))
    assert 0 < done_before < 12
    assert list((out / ".locks").glob("*.lock"))  # runs in flight left their locks behind
    (out / "runs" / f".tmp-run-000011-{proc.pid}-0badc0de").mkdir()  # as if killed mid-write

    s = collect(SlowPreset(log=log), 12, out, run_fn=logged_run, progress=False)
    assert s.already == done_before and s.done == 12 - done_before and s.missing == 0
    assert Corpus(out).run_ids == [run_id_for(i) for i in range(12)]
    assert sorted((out / "runs").iterdir()) == [out / "runs" / run_id_for(i) for i in range(12)]
    assert _leftovers(out) == []
    redone = [seed for seed, k in Counter(started_seeds(log)).items() if k > 1]
    assert len(redone) <= workers  # only the runs in flight were trained again
