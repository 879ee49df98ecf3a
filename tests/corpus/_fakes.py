"""Run functions for the collector tests, importable by spawned workers and subprocesses."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from weightcast.corpus.testing import FakePreset, SyntheticResult, fake_run


@dataclass(frozen=True)
class SlowPreset(FakePreset):
    """A FakePreset whose runs log their seed to ``log``, sleep ``delay`` s, and raise for
    the seeds in ``fail_seeds``."""

    log: str = ""
    delay: float = 0.0
    fail_seeds: tuple[int, ...] = ()


def logged_run(preset: SlowPreset, hparams: dict[str, Any], seed: int) -> SyntheticResult:
    if preset.log:
        fd = os.open(preset.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{seed} {os.getpid()}\n".encode())
        finally:
            os.close(fd)
    time.sleep(preset.delay)
    if seed in preset.fail_seeds:
        raise ValueError(f"boom at seed {seed}")
    return fake_run(preset, hparams, seed)


def started_seeds(log: str) -> list[int]:
    """The seeds trained so far, one entry per start."""
    if not os.path.exists(log):
        return []
    with open(log) as f:
        return [int(line.split()[0]) for line in f if line.strip()]
