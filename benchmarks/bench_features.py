"""Time ``layer_features`` against a plain Python loop over numpy/scipy functions.

Run on one core, e.g.::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c 0 \\
        python benchmarks/bench_features.py

For each layer shape it prints the best of a few runs of ``layer_features``, as CPU time
of this process and as wall time (the same on an idle core; CPU time is the fairer
figure on a shared machine), and the CPU time of a plain loop: one ``g`` per unit and
per kernel with numpy.quantile, numpy.histogram and scipy.stats' moment, skew and
kurtosis, and one ``scipy.stats.ks_2samp(a, b, method="asymp")`` per pair (the
statistic without ks_2samp's slow exact p-value). Where the loop would take long it
runs on the first units, kernels and pairs of each group only and is extrapolated
linearly to all of them; the output marks those rows. Above ``KS_MAX_UNITS`` units
both sides use the same ``KS_SAMPLE_PAIRS`` sampled pairs.

Then it prints the CPU time of one ``network_features`` call on networks of the
``digits`` preset (what ``FeatureRecorder`` computes at each recorded step): raw
features only, and raw plus delta (the change since an earlier step).
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np
import scipy.stats

from weightcast.features import (
    KS_MAX_UNITS,
    KS_SAMPLE_PAIRS,
    N_BINS,
    layer_features,
    network_features,
    unit_pairs,
)

SHAPES: list[tuple[int, ...]] = [
    (16, 1, 5, 5),
    (64, 32, 5, 5),
    (128, 128, 7, 7),
    (10, 512),
    (512, 4096),
]


# Networks of the digits preset (8x8 inputs, three convolutions, one fc layer): the
# brief's mix of widths, and the largest configuration (32 filters of 5x5).
DIGITS_NETWORKS: dict[str, list[tuple[int, ...]]] = {
    "digits 16x1x3x3, 32x16x3x3, 32x32x3x3, fc 10x32": [
        (16, 1, 3, 3),
        (32, 16, 3, 3),
        (32, 32, 3, 3),
        (10, 32),
    ],
    "digits 32x1x5x5, 32x32x5x5 (x2), fc 10x32": [
        (32, 1, 5, 5),
        (32, 32, 5, 5),
        (32, 32, 5, 5),
        (10, 32),
    ],
}


def network_times(shapes: list[tuple[int, ...]], repeats: int) -> tuple[float, float]:
    """Best CPU seconds per ``network_features`` call: raw only, and raw plus delta.

    Weights as the recorder passes them: float64 copies of float32 weights, the
    previous ones a small step away.
    """
    rng = np.random.default_rng(1)
    now = {f"layer{i}": rng.normal(0, 0.1, size=s).astype(np.float32) for i, s in enumerate(shapes)}
    before = {k: (v + rng.normal(0, 0.01, size=v.shape)).astype(np.float32) for k, v in now.items()}
    now64 = {k: v.astype(np.float64) for k, v in now.items()}
    before64 = {k: v.astype(np.float64) for k, v in before.items()}
    best = []
    for call in (
        lambda: network_features(now64, parts=("raw",)),
        lambda: network_features(now64, before64),
    ):
        call()  # warm-up: caches per layer shape
        per_call = float("inf")
        for _ in range(repeats):
            start = time.process_time()
            for _ in range(10):
                call()
            per_call = min(per_call, (time.process_time() - start) / 10)
        best.append(per_call)
    return best[0], best[1]


def plain_g(x: np.ndarray) -> list[float]:
    """The 13 statistics of one vector, the straightforward way."""
    cm2 = scipy.stats.moment(x, 2)
    counts = np.histogram(x, bins=N_BINS)[0]
    p = counts[counts > 0] / x.size
    return [
        float(np.mean(x)),
        *np.quantile(x, [0.25, 0.5, 0.75]).tolist(),
        float(np.std(x)),
        float(scipy.stats.skew(x)) if cm2 > 0 else 0.0,
        float(scipy.stats.kurtosis(x, fisher=False)) if cm2 > 0 else 0.0,
        *(float(scipy.stats.moment(x, k)) for k in range(1, 6)),
        float(-(p * np.log(p)).sum()),
    ]


def plain_groups(W: np.ndarray) -> list[tuple[int, Callable[[int], object]]]:
    """(number of items, work on item k) for every feature group of the plain loop."""
    n_out, n_in = W.shape[:2]
    ins = [np.ascontiguousarray(W[:, i]).ravel() for i in range(n_in)]
    outs = [W[j].ravel() for j in range(n_out)]
    groups: list[tuple[int, Callable[[int], object]]] = [
        (1, lambda k: plain_g(W.ravel())),
        (n_in, lambda k: plain_g(ins[k])),
        (n_out, lambda k: plain_g(outs[k])),
    ]
    if W.ndim == 4:
        groups.append((n_out * n_in, lambda k: plain_g(W[k // n_in, k % n_in].ravel())))
    for rows in (ins, outs):
        ia, ib = unit_pairs(len(rows))

        def ks(k: int, r: list = rows, a: np.ndarray = ia, b: np.ndarray = ib) -> object:
            return scipy.stats.ks_2samp(r[a[k]], r[b[k]], method="asymp").statistic

        groups.append((len(ia), ks))
    return groups


def plain_loop(W: np.ndarray, budget: float) -> tuple[float, bool]:
    """CPU seconds of the plain loop over all units, kernels and pairs of W (or an estimate).

    Each group runs on as many items as fit in ``budget`` CPU seconds and is scaled
    linearly to all of them; returns (seconds, whether any group was extrapolated).
    """
    total, extrapolated = 0.0, False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for count, work in plain_groups(W):
            start, done = time.process_time(), 0
            while done < count and (time.process_time() - start) < budget:
                work(done)
                done += 1
            extrapolated |= done < count
            total += (time.process_time() - start) * count / max(done, 1)
    return total, extrapolated


def best_time(W: np.ndarray, repeats: int) -> tuple[float, float]:
    """Best CPU time and best wall time of ``layer_features(W)`` over ``repeats`` runs."""
    cpu = wall = float("inf")
    for _ in range(repeats):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        layer_features(W)
        cpu = min(cpu, time.process_time() - start_cpu)
        wall = min(wall, time.perf_counter() - start_wall)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of layer_features")
    parser.add_argument(
        "--budget",
        type=float,
        default=2.0,
        help="CPU seconds of plain loop per feature group before extrapolating",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(
        "layer_features vs a plain loop (numpy/scipy per unit and kernel, ks_2samp per pair); "
        f"KS over all pairs up to {KS_MAX_UNITS} units, else {KS_SAMPLE_PAIRS} sampled pairs"
    )
    header = (
        f"{'shape':>14} {'kind':>4} {'features':>8} {'layer_features cpu':>19} "
        f"{'(wall)':>9} {'plain loop cpu':>15}  {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for shape in SHAPES:
        W = (rng.normal(size=shape) * 0.05).astype(np.float32)
        cpu, wall = best_time(W, args.repeats)
        plain, extrapolated = plain_loop(W.astype(np.float64), args.budget)
        mark = "*" if extrapolated else " "
        kind = "conv" if W.ndim == 4 else "fc"
        n_features = len(layer_features(W))
        print(
            f"{'x'.join(map(str, shape)):>14} {kind:>4} {n_features:>8} {cpu:>17.4f} s "
            f"{wall:>7.4f} s {plain:>13.2f} s{mark} {plain / cpu:>6.0f}x"
        )
    print(
        "* plain loop timed on the first units, kernels and pairs of each group within the "
        "budget, then extrapolated linearly to all of them"
    )
    print("\nnetwork_features per call (CPU, best of the repeats of 10 calls)")
    print(f"{'network':<50} {'raw':>9} {'raw+delta':>10}")
    for name, shapes in DIGITS_NETWORKS.items():
        raw, both = network_times(shapes, args.repeats)
        print(f"{name:<50} {raw * 1e3:>6.2f} ms {both * 1e3:>7.2f} ms")


if __name__ == "__main__":
    main()
