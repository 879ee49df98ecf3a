"""Recorder overhead: time spent on weight features over time spent training, per run.

For each preset, a few configurations of its random design are trained with ``run_trial`` on
one core; training time is the run's wall time minus its feature time. Target: at most 5 %.
``cpu s`` is the process CPU time of the run: on a shared machine the wall times stretch, the
CPU time much less (the overhead ratio, wall over wall, is affected on both sides alike).

    python benchmarks/bench_recorder.py [--presets digits fashion14] [--runs 4] [--seed 0]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from weightcast.search import get_preset, run_trial


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["digits", "fashion14"])
    parser.add_argument("--runs", type=int, default=4, help="configurations per preset")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    header = f"{'preset':<10} {'run':>3} {'conv':>4} {'filt':>4} {'size':>4} {'batch':>5} "
    header += (
        f"{'status':<8} {'wall s':>7} {'cpu s':>7} {'train s':>7} {'feat s':>7} {'overhead':>8}"
    )
    print(header)
    print("-" * len(header))
    for name in args.presets:
        preset = get_preset(name)
        data = preset.load_data()
        # warm-up: the first run in a process pays torch's lazy imports
        run_trial(preset, preset.sample(1, seed=args.seed + 1)[0], seed=0, data=data)
        ratios, walls, cpus = [], [], []
        for i, hp in enumerate(preset.sample(args.runs, seed=args.seed)):
            cpu = time.process_time()
            r = run_trial(preset, hp, seed=i, data=data)
            cpus.append(time.process_time() - cpu)
            train_time = r.wall_time - r.feature_time
            ratios.append(r.feature_time / train_time)
            walls.append(r.wall_time)
            print(
                f"{name:<10} {i:>3} {hp['n_conv']:>4} {hp['filters']:>4} {hp['filter_size']:>4} "
                f"{hp['batch_size']:>5} {r.status:<8} {r.wall_time:>7.2f} {cpus[-1]:>7.2f} {train_time:>7.2f} "
                f"{r.feature_time:>7.3f} {ratios[-1]:>8.1%}",
                flush=True,
            )
        print(
            f"{name}: T={preset.T}, {len(preset.steps)} steps x (1 raw + {len(preset.taus)} "
            f"taus); median wall {statistics.median(walls):.2f} s, cpu "
            f"{statistics.median(cpus):.2f} s; overhead median "
            f"{statistics.median(ratios):.1%}, max {max(ratios):.1%}\n"
        )


if __name__ == "__main__":
    main()
