"""Collecting a corpus: run a preset's seeded sample of trials, resumably, in parallel.

Run ``i`` of ``collect(preset, n_runs, out, seed=s, design=d)`` trains
``preset.sample(n_runs, s, d)[i]`` with the seed ``s * 100003 + i`` and is stored as
``runs/run-%06d``. A run is claimed by an exclusive lock file (see ``_locks``), computed, written
atomically, then released; finished runs are skipped. So the same command can be rerun after a
crash or a kill (it redoes only the runs that were in flight), and several processes or
machines can collect into one corpus side by side without duplicates.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing as mp
import os
import queue
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from weightcast.corpus import _locks
from weightcast.corpus._reader import Corpus
from weightcast.corpus._schema import LOCKS_DIR, RUNS_DIR, TMP_PREFIX, CorpusError, run_id_for
from weightcast.corpus._writer import create_corpus, write_run

logger = logging.getLogger(__name__)

SEED_STRIDE = 100003
"""Run ``i`` of a collection with seed ``s`` trains with the seed ``s * SEED_STRIDE + i``."""

RunFn = Callable[..., Any]
"""``run_fn(preset, hparams, seed[, data=...]) -> TrialResult`` (``data`` only when given)."""


def run_seed(seed: int, index: int) -> int:
    """The training seed of run ``index`` of a collection with seed ``seed``.

    >>> run_seed(0, 5), run_seed(1, 5)
    (5, 100008)
    """
    return seed * SEED_STRIDE + index


@dataclass
class CollectSummary:
    """What one :func:`collect` call did, and the state of the corpus after it.

    ``done``/``diverged``/``failed``: runs finished (and how many of them diverged) or failed by
    this call; ``already``: runs found finished at the start; ``elsewhere``: runs skipped because
    another live process held them; ``worker_deaths``: worker processes that died (each logged,
    and its run in flight counted as failed); ``corpus_runs``: runs in the corpus at the end; ``missing``:
    runs of ``range(n_runs)`` still not in it. Accuracy figures are over all runs in the corpus
    with a finite final accuracy.
    """

    out: Path
    n_runs: int
    already: int = 0
    done: int = 0
    diverged: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    elsewhere: int = 0
    interrupted: bool = False
    worker_deaths: int = 0
    wall_time: float = 0.0
    corpus_runs: int = 0
    missing: int = 0
    best_acc: float | None = None
    median_acc: float | None = None
    share_under_0_3: float | None = None

    @property
    def failed(self) -> int:
        """How many runs raised (they are not in the corpus; a rerun retries them)."""
        return len(self.failures)

    def format(self) -> str:
        """The summary as a few lines of text."""
        m, s = divmod(int(round(self.wall_time)), 60)
        h, m = divmod(m, 60)
        took = f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"
        lines = [
            f"{'interrupted after' if self.interrupted else 'finished'} {self.done} runs in "
            f"{took} ({self.diverged} diverged, {self.failed} failed"
            + (f", {self.elsewhere} left to other processes" if self.elsewhere else "")
            + (f", {self.worker_deaths} worker processes died" if self.worker_deaths else "")
            + f"); corpus {self.out}: {self.corpus_runs} runs, {self.missing} of the "
            f"{self.n_runs} still missing"
        ]
        if self.best_acc is not None:
            lines.append(
                f"final accuracy: best {self.best_acc:.4f}, median {self.median_acc:.4f}, "
                f"under 0.3: {100 * (self.share_under_0_3 or 0.0):.1f} %"
            )
        for run_id, error in self.failures.items():
            lines.append(f"failed {run_id}: {error}")
        if self.missing > self.elsewhere:
            lines.append(
                "rerun the same command to resume: finished runs are kept and skipped, "
                "failed and interrupted ones are redone"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class _Job:
    """Everything a worker needs, pickled once."""

    preset: Any
    out: Path
    seed: int
    samples: Sequence[dict[str, Any]]
    run_fn: RunFn
    data: Any


def _summarize_exception(exc: BaseException) -> str:
    frames = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-3)
    return "".join(frames).strip()


def _tmp_folders(out: Path) -> Iterator[tuple[Path, str, int]]:
    """The temp folders ``runs/.tmp-<run_id>-<pid>-<random>``: (path, run_id, pid)."""
    for tmp in (out / RUNS_DIR).glob(f"{TMP_PREFIX}*"):
        run_id, _, rest = tmp.name[len(TMP_PREFIX) :].rpartition("-")[0].rpartition("-")
        yield tmp, run_id, int(rest) if rest.isdigit() else -1


def _remove_tmp(out: Path, run_id: str) -> None:
    for tmp, owner, _ in _tmp_folders(out):
        if owner == run_id:
            shutil.rmtree(tmp, ignore_errors=True)


def _do_run(job: _Job, index: int) -> tuple[Any, ...]:
    """Claim, train, write and release run ``index``; an event tuple for the main process."""
    run_id = run_id_for(index)
    folder = job.out / RUNS_DIR / run_id
    if folder.exists():
        return ("present", index, run_id)
    lock = _locks.try_claim(job.out / LOCKS_DIR, run_id)
    if lock is None:
        return ("elsewhere", index, run_id)
    try:
        if folder.exists():  # finished by another process between the check and the claim
            return ("present", index, run_id)
        _remove_tmp(job.out, run_id)  # we hold the run: any temp folder of it is a leftover
        hparams = dict(job.samples[index])
        try:
            data = job.data
            if isinstance(data, (str, os.PathLike)):
                data = job.preset.load_data(data)  # cached per process by the preset
            if data is None:
                result = job.run_fn(job.preset, hparams, run_seed(job.seed, index))
            else:
                result = job.run_fn(job.preset, hparams, run_seed(job.seed, index), data=data)
            write_run(job.out, run_id, index, result)
        except Exception as exc:
            return ("failed", index, run_id, _summarize_exception(exc))
        return ("done", index, run_id, float(result.final_acc), str(result.status))
    finally:
        _locks.release(lock)


def _limit_threads() -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this worker when its parent dies (killed collections)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover
        pass


def _worker_main(job: _Job, tasks: Any, events: Any, parent: int) -> None:
    """A collection worker: pull indices from ``tasks`` until None, report on ``events``."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (finally) when stopped
    _die_with_parent()
    if os.getppid() != parent:
        return
    _limit_threads()
    try:
        while True:
            index = tasks.get()
            if index is None:
                break
            events.put(("start", index, run_id_for(index), os.getpid()))
            events.put(_do_run(job, index))
    except KeyboardInterrupt:
        events.cancel_join_thread()


def _clean_leftovers(out: Path) -> None:
    """Remove stale locks of this host and temp folders no live claim covers."""
    locks = out / LOCKS_DIR
    _locks.sweep(locks)
    for tmp, run_id, _ in _tmp_folders(out):
        if _locks.lock_state(locks, run_id) != "held":
            shutil.rmtree(tmp, ignore_errors=True)


def _corpus_meta(preset: Any, design: str, seed: int) -> dict[str, Any]:
    from weightcast import __version__

    return {
        "preset": getattr(preset, "name", str(preset)),
        "T": preset.T,
        "eval_every": preset.eval_every,
        "steps": list(preset.steps),
        "taus": list(preset.taus),
        "design": design,
        "seed": seed,
        "weightcast_version": __version__,
    }


class _Progress:
    """The tqdm bar (runs done/total, ETA, best accuracy) and the running counts."""

    def __init__(self, summary: CollectSummary, best: float | None, show: bool) -> None:
        self.summary = summary
        self.best = best
        self.bar: Any = None
        if show:
            tqdm = _tqdm()
            self.bar = tqdm(
                total=summary.n_runs,
                initial=summary.already,
                unit="run",
                desc="collect",
                dynamic_ncols=True,
                file=sys.stderr,
            )
            self._postfix()

    def _postfix(self) -> None:
        if self.bar is None:
            return
        post = {"best": "-" if self.best is None else f"{self.best:.3f}"}
        if self.summary.failed:
            post["failed"] = str(self.summary.failed)
        self.bar.set_postfix(post, refresh=True)

    def event(self, ev: tuple[Any, ...]) -> None:
        """Count the outcome of one run index (done, present, failed or elsewhere)."""
        kind, _, run_id = ev[:3]
        s = self.summary
        if kind == "done":
            s.done += 1
            acc, status = ev[3], ev[4]
            s.diverged += status == "diverged"
            if math.isfinite(acc) and (self.best is None or acc > self.best):
                self.best = acc
        elif kind == "failed":
            s.failures[run_id] = ev[3].splitlines()[-1]
            logger.warning("run %s failed; the collection goes on:\n%s", run_id, ev[3])
        elif kind == "elsewhere":
            s.elsewhere += 1
        if self.bar is not None and kind in ("done", "present"):
            self.bar.update(1)
        self._postfix()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _tqdm() -> Any:
    from weightcast._imports import require

    return require("tqdm").tqdm


@contextlib.contextmanager
def _redirect_logging(show: bool) -> Iterator[None]:
    if not show:
        yield
        return
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm():
        yield


def collect(
    preset: Any,
    n_runs: int,
    out: str | os.PathLike[str],
    workers: int = 1,
    seed: int = 0,
    design: str = "random",
    run_fn: RunFn | None = None,
    progress: bool = True,
    data: Any = None,
) -> CollectSummary:
    """Train the first ``n_runs`` runs of ``preset``'s seeded sample into the corpus ``out``.

    ``preset`` is a ``weightcast.search.Preset`` or a preset name. Run ``i`` trains
    ``preset.sample(n_runs, seed, design)[i]`` with the seed :func:`run_seed` ``(seed, i)`` via
    ``run_fn(preset, hparams, seed)`` (default ``weightcast.search.run_trial``; ``data=data`` is
    passed when given: a loaded dataset, or a folder path that each process loads once with
    ``preset.load_data(path)``) and is stored as ``runs/run-%06d``. Runs already in the corpus are
    skipped, so rerunning the same call resumes it (the sample is prefix-stable, so a larger
    ``n_runs`` extends a corpus). A run that raises is logged and counted in
    ``summary.failures``, not written; the collection goes on.

    ``workers > 1`` trains in that many spawned processes (each with one torch thread); with 1
    the runs are trained in this process. Each run is claimed by an exclusive lock file in
    ``out/.locks``, so other ``collect`` calls (other processes, or other machines with distinct
    hostnames on a shared filesystem) can fill the same corpus at the same time. On
    KeyboardInterrupt the runs in flight are abandoned, this call's locks removed, and the
    summary returned with ``interrupted=True``. ``progress`` shows a tqdm bar on stderr and
    prints the summary at the end.

    >>> import tempfile
    >>> from weightcast.corpus.testing import FakePreset, fake_run
    >>> s = collect(FakePreset(), 3, tempfile.mkdtemp() + "/c", run_fn=fake_run, progress=False)
    >>> s.done, s.failed, s.corpus_runs
    (3, 0, 3)
    """
    if n_runs < 0:
        raise ValueError(f"n_runs is >= 0, got {n_runs}")
    if workers < 1:
        raise ValueError(f"workers is >= 1, got {workers}")
    if isinstance(preset, str):
        from weightcast.search import get_preset

        preset = get_preset(preset)
    if run_fn is None:
        from weightcast.search import run_trial

        run_fn = run_trial
    started = time.perf_counter()
    root = create_corpus(out, _corpus_meta(preset, design, seed))
    samples = list(preset.sample(n_runs, seed, design))
    if len(samples) != n_runs:
        raise CorpusError(f"preset.sample returned {len(samples)} configurations, not {n_runs}")
    _clean_leftovers(root)

    corpus = Corpus(root)
    finished = set(corpus.run_ids)
    pending = [i for i in range(n_runs) if run_id_for(i) not in finished]
    summary = CollectSummary(out=root, n_runs=n_runs, already=n_runs - len(pending))
    accs = corpus.runs()["final_acc"].to_numpy(dtype="float64")
    finite = accs[np.isfinite(accs)]
    bar = _Progress(summary, float(finite.max()) if finite.size else None, progress)
    job = _Job(preset, root, seed, samples, run_fn, data)
    own_pids = {os.getpid()}
    try:
        with _redirect_logging(progress):
            if workers == 1 or len(pending) <= 1:
                for index in pending:
                    bar.event(_do_run(job, index))
            else:
                _run_pool(job, pending, min(workers, len(pending)), bar, own_pids)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        bar.close()
        _locks.sweep(root / LOCKS_DIR, own_pids)
        for tmp, _, pid in _tmp_folders(root):
            if pid in own_pids:
                shutil.rmtree(tmp, ignore_errors=True)
    _finish(summary, started)
    if progress or summary.interrupted:
        print(summary.format(), file=sys.stderr, flush=True)
    return summary


def _run_pool(job: _Job, pending: list[int], n: int, bar: _Progress, own_pids: set[int]) -> None:
    """Train ``pending`` in ``n`` spawned workers fed from one task queue."""
    ctx = mp.get_context("spawn")
    tasks = ctx.Queue()
    events = ctx.Queue()
    for index in [*pending, *[None] * n]:
        tasks.put(index)
    procs = [
        ctx.Process(target=_worker_main, args=(job, tasks, events, os.getpid()), daemon=True)
        for _ in range(n)
    ]
    in_flight: dict[int, str] = {}  # worker pid -> the run it trains

    def handle(ev: tuple[Any, ...]) -> int:
        if ev[0] == "start":
            in_flight[ev[3]] = ev[2]
            return 0
        for pid in [pid for pid, run_id in in_flight.items() if run_id == ev[2]]:
            del in_flight[pid]
        bar.event(ev)
        return 1

    try:
        for p in procs:
            p.start()
            own_pids.add(p.pid or -1)
        settled = 0
        while settled < len(pending):
            try:
                settled += handle(events.get(timeout=0.2))
            except queue.Empty:
                if not any(p.is_alive() for p in procs):
                    break
        with contextlib.suppress(queue.Empty):  # what dead workers sent last
            while settled < len(pending):
                settled += handle(events.get(timeout=0.1))
        for p in procs:
            p.join(timeout=30)
            if p.exitcode in (0, None):
                continue
            bar.summary.worker_deaths += 1
            logger.warning("worker process %s died (exit code %s)", p.pid, p.exitcode)
            if p.pid in in_flight:
                error = f"its worker process died (exit code {p.exitcode})"
                bar.event(("failed", -1, in_flight.pop(p.pid), error))
    except BaseException:
        _stop(procs)
        raise
    finally:
        tasks.cancel_join_thread()
        events.cancel_join_thread()


def _stop(procs: list[Any]) -> None:
    """Interrupt the workers, then terminate the ones that do not stop."""
    for p in procs:
        if p.is_alive() and p.pid:
            with contextlib.suppress(OSError):
                os.kill(p.pid, signal.SIGINT)
    deadline = time.monotonic() + 10
    for p in procs:
        p.join(timeout=max(deadline - time.monotonic(), 0.1))
    for p in procs:
        if p.is_alive():
            p.terminate()
            p.join(timeout=5)
        if p.is_alive():  # pragma: no cover
            p.kill()
            p.join()


def _finish(summary: CollectSummary, started: float) -> None:
    summary.wall_time = time.perf_counter() - started
    corpus = Corpus(summary.out)
    present = set(corpus.run_ids)
    summary.corpus_runs = len(corpus)
    summary.missing = sum(run_id_for(i) not in present for i in range(summary.n_runs))
    acc = corpus.summary()["final_acc"]
    if acc is not None:
        summary.best_acc = acc["max"]
        summary.median_acc = acc["median"]
        summary.share_under_0_3 = acc["share_under_0_3"]
