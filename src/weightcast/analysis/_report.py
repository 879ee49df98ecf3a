"""The report: every analysis on one corpus, as an HTML page, PNG figures and summary.json."""

from __future__ import annotations

import html
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import pandas as pd

from weightcast.analysis._correlation import max_correlation
from weightcast.analysis._display import BarDisplay, CurveDisplay, save_figure
from weightcast.analysis._experiment import Experiment
from weightcast.analysis._history import rmse_vs_history, rmse_vs_tau
from weightcast.analysis._importance import feature_importance, importance_by_group
from weightcast.analysis._ranking import top_share
from weightcast.analysis._rmse import (
    PAPER_SETS,
    compare_models,
    reference_step,
    rmse_vs_n,
    rmse_vs_t,
    samples_needed,
    steps_needed,
)
from weightcast.predict import FEATURE_SETS
from weightcast.predict._dataset import CorpusLike

__all__ = ["ReportConfig", "build_report"]

Progress = Callable[[Sequence[tuple[str, Callable[[], None]]]], Iterable[tuple[str, Any]]]


@dataclass
class ReportConfig:
    """What the report computes, and how much.

    The defaults fit a 300-run corpus with ~9 recorded steps, 2 taus and ~1,600 weight
    features into 10 minutes on 2 cores: 100 trees (the predictor's default is the paper's
    400) and 3 repeated splits; ``quick()`` is a small version for tests and first looks.
    """

    n_estimators: int = 100
    repeats: int = 3
    n: int | float | None = None
    seed: int = 0
    tau: int | None = None
    t_ref: int | None = None
    # every set but weights+hp, which `all` contains (saves a fifth of the RMSE-vs-t fits)
    sets: tuple[str, ...] = tuple(s for s in FEATURE_SETS if s != "weights+hp")
    key_sets: tuple[str, ...] = ("lc", "weights", "weights+lc")
    max_key_steps: int = 3
    importance_repeats: int = 3
    group_importance_repeats: int = 20
    importance_set: str = "weights"
    history_set: str = "weights"
    classifier: bool = True
    top: float = 0.2
    quick: bool = False

    @classmethod
    def quick_config(cls, **overrides: Any) -> ReportConfig:
        """A small report: 30 trees, 2 repeats, the paper's sets plus two combinations."""
        base = {
            "n_estimators": 30,
            "repeats": 2,
            "sets": (*PAPER_SETS, "weights+lc", "all"),
            "importance_repeats": 2,
            "group_importance_repeats": 5,
            "quick": True,
        }
        return cls(**{**base, **overrides})


def _key_steps(steps: Sequence[int], t_ref: int, k: int) -> list[int]:
    positive = sorted(s for s in steps if s > 0) or sorted(steps)
    picks = {positive[0], t_ref, positive[-1]}
    return sorted(picks)[: max(k, 1)] if k < len(picks) else sorted(picks)


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _pct(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:.0f} %"


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(float(obj)) else None
    if isinstance(obj, pd.DataFrame):
        return _jsonable(obj.to_dict(orient="records"))
    return obj


def build_report(
    corpus: CorpusLike,
    out: str | Path,
    config: ReportConfig | None = None,
    *,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run every analysis on ``corpus`` and write ``out/index.html``, the PNGs, ``summary.json``.

    ``progress`` wraps the list of (name, step) pairs while they run (the CLI passes tqdm).
    Returns the summary (what ``summary.json`` holds). An analysis the corpus cannot
    support (e.g. no step with a history) is listed under ``errors``; the rest goes on.

    >>> import tempfile, os
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> out = tempfile.mkdtemp()
    >>> s = build_report(make_synthetic_corpus(out + "/c", 30), out + "/r",
    ...                  ReportConfig.quick_config(n_estimators=10))
    >>> s["errors"], "index.html" in os.listdir(out + "/r")
    ({}, True)
    """
    cfg = config or ReportConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    exp = Experiment(
        corpus,
        n=cfg.n,
        repeats=cfg.repeats,
        seed=cfg.seed,
        n_estimators=cfg.n_estimators,
        tau=cfg.tau,
    )
    steps = exp.steps
    if not steps:
        raise ValueError(f"{exp.corpus.path} records no steps")
    t_ref = int(cfg.t_ref if cfg.t_ref is not None else reference_step(steps))
    exp.store.check_t(t_ref)
    key_steps = _key_steps(steps, t_ref, cfg.max_key_steps)
    R: dict[str, Any] = {}
    timings: dict[str, float] = {}

    def task(name: str, fn: Callable[[], Any]) -> tuple[str, Callable[[], None]]:
        def run() -> None:
            t0 = time.perf_counter()
            try:
                R[name] = fn()
            except ValueError as exc:  # an analysis the corpus cannot support
                R[name] = exc
            timings[name] = round(time.perf_counter() - t0, 2)

        return name, run

    tasks = [
        task("runs", lambda: exp.usable_runs(steps)),
        task("rmse_vs_t", lambda: rmse_vs_t(exp, cfg.sets, steps)),
        task("rmse_vs_n", lambda: rmse_vs_n(exp, t_ref, cfg.key_sets)),
        task(
            "importance",
            lambda: feature_importance(
                exp, t_ref, cfg.importance_set, n_repeats=cfg.importance_repeats
            ),
        ),
        task("importance_groups", lambda: _importance_groups(exp, t_ref, cfg)),
        task("history", lambda: rmse_vs_history(exp, cfg.history_set, key_steps)),
        task("tau", lambda: rmse_vs_tau(exp, steps=key_steps)),
        task("correlation", lambda: max_correlation(exp, steps)),
        task("models", lambda: compare_models(exp, cfg.key_sets, sorted({t_ref, max(steps)}))),
        task(
            "top_share",
            lambda: top_share(
                exp, (*cfg.key_sets, "all"), key_steps, share=cfg.top, classifier=cfg.classifier
            ),
        ),
    ]
    runner = progress(tasks) if progress is not None else tasks
    for _, run in runner:
        run()
    summary = _summarize(exp, cfg, R, t_ref, key_steps)
    summary["timings_s"] = timings
    summary["elapsed_s"] = round(time.perf_counter() - started, 1)
    figures = _figures(R, out, t_ref)
    (out / "summary.json").write_text(json.dumps(_jsonable(summary), indent=2))
    (out / "index.html").write_text(_html(exp, cfg, R, summary, figures))
    return summary


# -- the numbers ---------------------------------------------------------------------------------
def _ok(value: object) -> TypeGuard[pd.DataFrame]:
    return isinstance(value, pd.DataFrame) and not value.empty


_GROUP_BY = {"kind": "A", "layer": "B"}  # Fig. 4A, 4B
_GROUP_COLUMNS = [
    "group",
    "n_features",
    "importance_mean",
    "importance_std",
    "importance_rel",
    "share",
]
_GROUP_METHOD = (
    "grouped permutation importance: all of a group's columns shuffled together with one row "
    "permutation (correlations inside the group kept, its information destroyed), the mean "
    "increase of the test runs' RMSE over the seeded shuffles"
)


def _importance_groups(exp: Experiment, t: int, cfg: ReportConfig) -> pd.DataFrame:
    """Fig. 4A and 4B in one table (column ``by``: kind or layer)."""
    frames = [
        importance_by_group(
            exp, t, cfg.importance_set, by, n_repeats=cfg.group_importance_repeats
        ).assign(by=by)
        for by in _GROUP_BY
    ]
    out = pd.concat(frames, ignore_index=True)
    keep = ("t", "tau", "feature_set", "n_train", "n_test", "base_rmse", "n_repeats")
    out.attrs = {k: frames[0].attrs[k] for k in keep}
    return out


def _groups(table: pd.DataFrame, by: str) -> pd.DataFrame:
    return table.loc[table["by"] == by, _GROUP_COLUMNS].reset_index(drop=True)


def _summarize(
    exp: Experiment, cfg: ReportConfig, R: dict[str, Any], t_ref: int, key_steps: list[int]
) -> dict[str, Any]:
    corpus = exp.corpus
    runs = exp.store.runs()
    acc = runs["final_acc"].to_numpy(np.float64)
    acc = acc[np.isfinite(acc)]
    s: dict[str, Any] = {
        "corpus": {
            "path": str(corpus.path),
            "preset": corpus.meta.get("preset"),
            "runs": len(runs),
            "status": {str(k): int(v) for k, v in runs["status"].value_counts().items()},
            "T": corpus.T,
            "steps": exp.steps,
            "taus": exp.store.taus,
            "final_acc": {
                "max": float(acc.max()) if acc.size else None,
                "median": float(np.median(acc)) if acc.size else None,
                "share_under_0_3": float(np.mean(acc < 0.3)) if acc.size else None,
            },
        },
        "settings": {
            **exp.describe(),
            "t_ref": t_ref,
            "key_steps": key_steps,
            "quick": cfg.quick,
            "sets": list(cfg.sets),
            "predictor_default_trees": 400,
        },
        "errors": {k: str(v) for k, v in R.items() if isinstance(v, Exception)},
    }
    if _ok(R.get("runs")):
        s["usable_runs"] = R["runs"]
    curve = R.get("rmse_vs_t")
    if _ok(curve):
        s["rmse_vs_t"] = curve[
            ["set", "t", "tau", "n_train", "n_test", "rmse_mean", "rmse_std", "r2_mean", "rho_mean"]
        ]
        best = []
        for _, g in curve.groupby("t", sort=True):
            t = int(g["t"].iloc[0])
            row = g.iloc[int(np.argmin(g["rmse_mean"].to_numpy()))]
            lc = g.loc[g["set"] == "lc", "rmse_mean"]
            lc_rmse = float(lc.iloc[0]) if len(lc) else float("nan")
            w = g.loc[g["set"] == "weights", "rmse_mean"]
            w_rmse = float(w.iloc[0]) if len(w) else float("nan")
            best.append(
                {
                    "t": t,
                    "share_of_T": t / corpus.T,
                    "best_set": row["set"],
                    "best_rmse": float(row["rmse_mean"]),
                    "lc_rmse": lc_rmse,
                    "weights_rmse": w_rmse,
                    "weights_vs_lc": w_rmse / lc_rmse - 1,
                    "best_vs_lc": float(row["rmse_mean"]) / lc_rmse - 1,
                }
            )
        s["best_per_t"] = best
        first_w = _first_usable(curve, "weights")
        targets: list[tuple[str, tuple[str, int] | None]] = [("steps_needed", None)]
        if first_w is not None:
            targets.append(("steps_needed_paper", ("weights", first_w)))
        for key, target in targets:
            try:
                s[key] = steps_needed(curve, target)
            except ValueError as exc:
                s["errors"][key] = str(exc)
    if _ok(R.get("rmse_vs_n")):
        s["rmse_vs_n"] = R["rmse_vs_n"][["set", "t", "n", "rmse_mean", "rmse_std"]]
        if "lc" in set(R["rmse_vs_n"]["set"]):
            s["samples_needed"] = samples_needed(R["rmse_vs_n"])
    imp, groups = R.get("importance"), R.get("importance_groups")
    if _ok(imp) or _ok(groups):
        entry: dict[str, Any] = {}
        if _ok(groups):  # the same fitted predictor and test runs as the per-feature numbers
            entry.update({str(k): v for k, v in groups.attrs.items() if k != "n_repeats"})
            entry["group_method"] = _GROUP_METHOD
            entry["group_repeats"] = groups.attrs["n_repeats"]
            for by in _GROUP_BY:
                entry[f"by_{by}"] = _groups(groups, by)
        if _ok(imp):
            entry.update({str(k): v for k, v in imp.attrs.items() if str(k) not in entry})
            entry["feature_repeats"] = cfg.importance_repeats
            entry["top_features"] = imp.head(10)[["feature", "importance_mean", "importance_std"]]
        s["importance"] = entry
    if _ok(R.get("history")):
        h = R["history"].pivot_table(index="t", columns="variant", values="rmse_mean")
        s["history"] = [
            {
                "t": int(t),
                "rmse_single": float(r["F(t)"]),
                "rmse_history": float(r["history"]),
                "change": float(r["history"] / r["F(t)"] - 1),
            }
            for t, r in h.iterrows()
        ]
    if _ok(R.get("tau")):
        s["tau"] = R["tau"][["set", "t", "tau", "rmse_mean", "rmse_std"]]
    corr = R.get("correlation")
    if _ok(corr):
        kinds = corr[corr["group"].isin(["raw", "delta", "lc", "hp"])]
        s["correlation"] = kinds[["t", "group", "max_abs_rho", "feature"]]
    models = R.get("models")
    if _ok(models):
        piv = models.pivot_table(index=["set", "t"], columns="model", values="rmse_mean")
        if {"forest", "boosting"} <= set(piv.columns):
            piv = piv.assign(boosting_vs_forest=piv["boosting"] / piv["forest"] - 1)
        s["models"] = piv.reset_index()
    if _ok(R.get("top_share")):
        s["top_share"] = R["top_share"]
    return s


def _first_usable(curve: pd.DataFrame, name: str) -> int | None:
    ts = sorted(curve.loc[curve["set"] == name, "t"])
    return int(ts[0]) if ts else None


# -- the figures ---------------------------------------------------------------------------------
def _figures(R: dict[str, Any], out: Path, t_ref: int) -> dict[str, str]:
    figs: dict[str, str] = {}

    def save(name: str, display: Any) -> None:
        save_figure(display, out / f"{name}.png")
        figs[name] = f"{name}.png"

    curve = R.get("rmse_vs_t")
    if _ok(curve):
        paper = curve[curve["set"].isin(PAPER_SETS)]
        if not paper.empty:
            save(
                "fig3a",
                CurveDisplay(
                    paper,
                    x="t",
                    y="rmse_mean",
                    err="rmse_std",
                    title="Fig. 3A: RMSE against t (the paper's sets)",
                    ylabel="held-out RMSE",
                    logx=True,
                ).plot(),
            )
        save(
            "fig3a_all",
            CurveDisplay(
                curve,
                x="t",
                y="rmse_mean",
                title="RMSE against t, every feature set",
                ylabel="held-out RMSE",
                logx=True,
            ).plot(),
        )
    if _ok(R.get("rmse_vs_n")):
        save(
            "fig3b",
            CurveDisplay(
                R["rmse_vs_n"],
                x="n",
                y="rmse_mean",
                err="rmse_std",
                title=f"Fig. 3B: RMSE against n (t={t_ref})",
                xlabel="training runs n",
                ylabel="held-out RMSE",
            ).plot(),
        )
    groups = R.get("importance_groups")
    if _ok(groups):
        for by, panel in _GROUP_BY.items():
            save(
                f"fig4{panel.lower()}",
                BarDisplay(
                    _groups(groups, by),
                    label="group",
                    value="importance_mean",
                    err="importance_std",
                    title=f"Fig. 4{panel}: grouped permutation importance by {by} "
                    f"(t={groups.attrs['t']})",
                    xlabel="RMSE increase, the group's columns shuffled together",
                ).plot(),
            )
    imp = R.get("importance")
    if _ok(imp):
        save(
            "fig4_top",
            BarDisplay(
                imp,
                label="feature",
                value="importance_mean",
                err="importance_std",
                top=20,
                title="The 20 most important features, one shuffled at a time",
                xlabel="RMSE increase when the feature alone is shuffled",
            ).plot(),
        )
    if _ok(R.get("history")):
        save(
            "fig5a",
            CurveDisplay(
                R["history"],
                x="t",
                y="rmse_mean",
                err="rmse_std",
                hue="variant",
                title="Fig. 5A: a history of features vs F(t) alone",
                ylabel="held-out RMSE",
            ).plot(),
        )
    if _ok(R.get("tau")):
        tau = R["tau"].assign(label=lambda d: d["set"] + " t=" + d["t"].astype(str))
        save(
            "fig5b",
            CurveDisplay(
                tau,
                x="tau",
                y="rmse_mean",
                err="rmse_std",
                hue="label",
                title="Fig. 5B: RMSE against tau",
                ylabel="held-out RMSE",
            ).plot(),
        )
    corr = R.get("correlation")
    if _ok(corr):
        save(
            "fig6",
            CurveDisplay(
                corr[corr["group"].str.contains(":") | corr["group"].isin(["lc", "hp"])],
                x="t",
                y="max_abs_rho",
                hue="group",
                title="Fig. 6: max |Spearman rho| with the eventual accuracy",
                ylabel="max |rho| in the group",
                logx=True,
            ).plot(),
        )
    if _ok(R.get("models")):
        save(
            "models",
            CurveDisplay(
                R["models"],
                x="t",
                y="rmse_mean",
                err="rmse_std",
                style="model",
                title="Random forest (solid) vs gradient boosting (dashed)",
                ylabel="held-out RMSE",
                logx=True,
            ).plot(),
        )
    return figs


# -- the text ------------------------------------------------------------------------------------
def _findings(s: dict[str, Any], cfg: ReportConfig) -> list[str]:
    lines: list[str] = []
    c = s["corpus"]
    acc = c["final_acc"]
    status = ", ".join(f"{v} {k}" for k, v in c["status"].items())
    lines.append(
        f"The corpus has {c['runs']} runs ({status}) of T = {c['T']} iterations; the best "
        f"reached {_fmt(acc['max'])}, the median {_fmt(acc['median'])}, and "
        f"{_pct(acc['share_under_0_3'] or float('nan'))} ended under 0.3."
    )
    best = s.get("best_per_t", [])
    if best:
        parts = []
        for b in best:
            parts.append(
                f"t = {b['t']} ({_pct(b['share_of_T'])} of T): {b['best_set']} "
                f"({_fmt(b['best_rmse'])}"
                + (
                    f", {_pct(-b['best_vs_lc'])} below lc"
                    if math.isfinite(b["best_vs_lc"]) and b["best_vs_lc"] < 0
                    else ""
                )
                + ")"
            )
        lines.append("Lowest held-out RMSE at each step: " + "; ".join(parts) + ".")
        diffs = [b for b in best if math.isfinite(b["weights_vs_lc"])]
        if diffs:
            wins = [b for b in diffs if b["weights_vs_lc"] < 0]
            rel = [-b["weights_vs_lc"] for b in wins]
            text = f"Weight features beat the learning curve at {len(wins)} of {len(diffs)} steps"
            if wins:
                text += (
                    f" ({_pct(min(rel))} to {_pct(max(rel))} lower RMSE, at t = "
                    + ", ".join(str(b["t"]) for b in wins)
                    + ")"
                )
            losses = [b for b in diffs if b["weights_vs_lc"] >= 0]
            if losses:
                text += "; they trail it at t = " + ", ".join(
                    f"{b['t']} ({100 * b['weights_vs_lc']:+.1f} %)" for b in losses
                )
            lines.append(
                text + ". (The paper: 10-33 % lower RMSE at every t, on Caffe runs of MNIST, "
                "CIFAR-10 and ImageNet.)"
            )
    sn = s.get("samples_needed")
    if isinstance(sn, pd.DataFrame) and not sn.empty:
        parts = []
        for _, r in sn.iterrows():
            if r["set"] == "lc":
                continue
            if math.isfinite(r["n_needed"]):
                parts.append(
                    f"{r['set']} needs n = {r['n_needed']:.0f}{' or fewer' if r['flag'] == '<=' else ''}"
                    f" ({_pct(r['saving'])} fewer runs)"
                )
            else:
                parts.append(f"{r['set']} does not reach it with up to n = {r['n_reference']:.0f}")
        lines.append(
            f"Fig. 3B at t = {int(sn['t'].iloc[0])}: to match the learning curve's RMSE with "
            f"n = {sn['n_reference'].iloc[0]:.0f} ({_fmt(sn['target_rmse'].iloc[0])}), "
            + "; ".join(parts)
            + "."
        )
    for key, what in (
        ("steps_needed", "the learning curve's RMSE at the last step"),
        ("steps_needed_paper", "the weight features' RMSE at their first step"),
    ):
        st = s.get(key)
        if isinstance(st, pd.DataFrame) and not st.empty:
            parts = []
            for _, r in st.iterrows():
                if r["set"] not in ("lc", "weights", "weights+lc", "all"):
                    continue
                if math.isfinite(r["t_needed"]):
                    parts.append(f"{r['set']} at t {r['flag'] or '~'} {r['t_needed']:.0f}")
                else:
                    parts.append(f"{r['set']} never")
            lines.append(
                f"Fig. 3C, target {what} ({_fmt(st['target_rmse'].iloc[0])}): "
                + ", ".join(parts)
                + "."
            )
    imp = s.get("importance")
    if imp:
        lines.append(_importance_finding(imp))
    hist = s.get("history")
    if hist:
        ch = [h["change"] for h in hist]
        lines.append(
            "Fig. 5A: adding the two earlier recorded steps' features changes the RMSE by "
            + ", ".join(f"{100 * c:+.0f} %" for c in ch)
            + " at t = "
            + ", ".join(str(h["t"]) for h in hist)
            + " (the paper: a history adds little)."
        )
    tau = s.get("tau")
    if isinstance(tau, pd.DataFrame) and not tau.empty and tau["tau"].nunique() > 1:
        parts = []
        for (name, t), g in tau.groupby(["set", "t"], sort=False):
            g = g.sort_values("tau")
            parts.append(
                f"{name} at t = {t}: "
                + ", ".join(
                    f"tau {a}: {_fmt(b)}" for a, b in zip(g["tau"], g["rmse_mean"], strict=True)
                )
            )
        lines.append("Fig. 5B, RMSE by tau: " + "; ".join(parts) + ".")
    corr = s.get("correlation")
    if isinstance(corr, pd.DataFrame) and not corr.empty:
        first_t = int(corr["t"].min())
        last_t = int(corr["t"].max())
        parts = []
        for t in sorted({first_t, last_t}):
            g = corr[corr["t"] == t].sort_values("max_abs_rho", ascending=False)
            parts.append(
                f"at t = {t}: "
                + ", ".join(f"{r['group']} {r['max_abs_rho']:.2f}" for _, r in g.iterrows())
            )
        lines.append(
            "Fig. 6, the best |Spearman rho| per kind of feature " + "; ".join(parts) + "."
        )
    models = s.get("models")
    if isinstance(models, pd.DataFrame) and "boosting_vs_forest" in models:
        ratio = models["boosting_vs_forest"].dropna().to_numpy(np.float64)
        if len(ratio):
            lines.append(
                f"Gradient boosting against the forest: {100 * np.median(ratio):+.0f} % RMSE "
                f"(median over sets and steps; range {100 * ratio.min():+.0f} to "
                f"{100 * ratio.max():+.0f} %)."
            )
    ts = s.get("top_share")
    if isinstance(ts, pd.DataFrame) and not ts.empty:
        reg = ts[ts["scorer"] == "regression"]
        best = reg.loc[reg.groupby("t")["auc_mean"].idxmax()]
        lines.append(
            f"Top {_pct(cfg.top)} of the runs (what a pruner needs): best ROC AUC "
            + ", ".join(
                f"{r['set']} {r['auc_mean']:.2f} at t = {r['t']} (keeps "
                f"{_pct(r['top_kept_mean'])} of the top runs when half are pruned)"
                for _, r in best.iterrows()
            )
            + "."
        )
    return lines


def _increase(row: Any) -> str:
    """``+0.0251 ± 0.0040 (+14 %)``: a group's RMSE increase, its std, relative to the base."""
    rel = float(row["importance_rel"])
    return f"{row['importance_mean']:+.4f} ± {row['importance_std']:.4f}" + (
        f" ({100 * rel:+.0f} %)" if math.isfinite(rel) else ""
    )


def _importance_finding(imp: dict[str, Any]) -> str:
    text = f"Fig. 4 (set {imp['feature_set']}, t = {imp['t']}"
    if "by_kind" in imp:
        kinds, layers = imp["by_kind"], imp["by_layer"]
        text += (
            f", held-out RMSE {_fmt(imp['base_rmse'])}; every column of a group shuffled "
            f"together, {imp['group_repeats']} times): shuffling "
            + ", ".join(
                f"{_KIND_WORDS.get(r['group'], r['group'])}"
                f"{' raises the RMSE' if i == 0 else ''} by {_increase(r)}"
                for i, (_, r) in enumerate(kinds.iterrows())
            )
            + "; by layer, "
            + ", ".join(f"{r['group']} {_increase(r)}" for _, r in layers.iterrows())
        )
    else:
        text += ")"
    top = imp.get("top_features")
    if isinstance(top, pd.DataFrame) and not top.empty:
        text += (
            f"; shuffled alone, the most important feature is {top['feature'].iloc[0]} "
            f"({top['importance_mean'].iloc[0]:+.4f})"
        )
    return text + ". (The paper: changes above raw values, the last convolution first.)"


_KIND_WORDS = {
    "raw": "the raw weights",
    "delta": "the weight changes",
    "rel": "the relative changes",
    "lc": "the learning curve",
    "hp": "the hyperparameters",
}


def _table(df: pd.DataFrame, digits: int = 4) -> str:
    return df.to_html(index=False, float_format=lambda x: f"{x:.{digits}g}", border=0, na_rep="")


def _html(
    exp: Experiment,
    cfg: ReportConfig,
    R: dict[str, Any],
    s: dict[str, Any],
    figs: dict[str, str],
) -> str:
    st = s["settings"]
    esc = html.escape
    body: list[str] = [
        f"<h1>weightcast report: {esc(str(s['corpus']['path']))}</h1>",
        "<h2>What the corpus shows</h2><ul>"
        + "".join(f"<li>{esc(x)}</li>" for x in _findings(s, cfg))
        + "</ul>",
        "<h2>Settings</h2><p>"
        + esc(
            f"Random forest regression, {st['n_estimators']} trees in this report (the "
            f"predictor's default is the paper's 400), max_features = {st['max_features']} "
            f"of the features per split (one third, the classic choice for regression and the "
            f"default of MATLAB's TreeBagger, which the paper used), min_samples_leaf = "
            f"{st['min_samples_leaf']}; {st['repeats']} seeded random splits per point (fewer "
            "trees and repeats than the predictor's defaults, to fit the time budget), n = "
            f"{'two thirds of the usable runs' if st['n'] is None else st['n']} to train, the "
            f"rest to test; tau = {st['tau']}; single-step analyses at t = {st['t_ref']}, "
            f"reduced analyses at t = {st['key_steps']}. Runs that diverged at or before t are "
            "left out at that t (they can be pruned at once) and counted below. Feature sets "
            f"evaluated at every t: {', '.join(cfg.sets)}; the others of the table below "
            "(e.g. weights+hp, contained in all) with `weightcast evaluate --sets`."
            + (" QUICK MODE: few trees and repeats, for a first look only." if cfg.quick else "")
            + f" Computed in {s['elapsed_s']} s."
        )
        + "</p>",
    ]
    if s["errors"]:
        body.append(
            "<h3>Analyses not possible on this corpus</h3><ul>"
            + "".join(f"<li>{esc(k)}: {esc(v)}</li>" for k, v in s["errors"].items())
            + "</ul>"
        )
    if _ok(R.get("runs")):
        body.append("<h3>Usable runs per step</h3>" + _table(R["runs"]))

    def section(
        title: str, fig_names: Sequence[str], tables: Sequence[Any], note: str = ""
    ) -> None:
        parts = [f"<h2>{esc(title)}</h2>"]
        if note:
            parts.append(f"<p>{esc(note)}</p>")
        parts += [f'<img src="{figs[f]}" alt="{f}">' for f in fig_names if f in figs]
        parts += [_table(t) for t in tables if isinstance(t, pd.DataFrame) and not t.empty]
        body.append("\n".join(parts))

    desc = pd.DataFrame({"set": list(FEATURE_SETS), "description": list(FEATURE_SETS.values())})
    curve = R.get("rmse_vs_t")
    section(
        "Fig. 3A: RMSE against t",
        ["fig3a", "fig3a_all"],
        [
            curve.pivot_table(index="set", columns="t", values="rmse_mean").reset_index()
            if _ok(curve)
            else None,
            curve if _ok(curve) else None,
            desc,
        ],
    )
    section(
        "Fig. 3B: RMSE against the number of training runs n",
        ["fig3b"],
        [s.get("samples_needed"), R.get("rmse_vs_n")],
    )
    section(
        "Fig. 3C: the step t needed to reach a target RMSE",
        [],
        [s.get("steps_needed"), s.get("steps_needed_paper")],
        "Interpolated between recorded steps; '<=' reached at the first step, '>' never.",
    )
    imp, groups = R.get("importance"), R.get("importance_groups")
    section(
        "Fig. 4: permutation importance",
        ["fig4a", "fig4b", "fig4_top"],
        [
            _groups(groups, "kind") if _ok(groups) else None,
            _groups(groups, "layer") if _ok(groups) else None,
            imp.head(25) if _ok(imp) else None,
        ],
        "Fig. 4A (by kind: raw weights, weight changes, ...) and 4B (by layer): for each group, "
        "all of its columns are shuffled together, with one row permutation, over the test runs "
        "of one split (the correlations inside the group are kept, its information is "
        "destroyed); the bars are the mean increase of the held-out RMSE over "
        f"{cfg.group_importance_repeats} seeded shuffles (± their std), importance_rel that "
        "increase over the unpermuted RMSE, share its part of the groups' positive increases "
        "(a group whose information another group also carries loses little when shuffled, so "
        "these are not additive). "
        "The last figure and table shuffle one feature at a time "
        f"(sklearn.inspection.permutation_importance, {cfg.importance_repeats} shuffles): among "
        "hundreds of correlated weight statistics the forest finds a feature's information in "
        "its neighbours, so these numbers are near zero and their sums per group mean nothing.",
    )
    section("Fig. 5A: history of features", ["fig5a"], [R.get("history")])
    section("Fig. 5B: RMSE against tau", ["fig5b"], [R.get("tau")])
    section("Fig. 6: best rank correlation per feature group", ["fig6"], [R.get("correlation")])
    section(
        "Beyond the paper: gradient boosting beside the forest",
        ["models"],
        [s.get("models")],
    )
    section(
        f"Beyond the paper: the top {_pct(cfg.top)} of the runs (a pruning decision)",
        [],
        [R.get("top_share")],
        "ROC AUC of telling the top runs from the rest, from the regression forest's predicted "
        "accuracy and from a random-forest classifier; top_kept: share of the top runs kept "
        "when only the best half by the score goes on.",
    )
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
        "table{border-collapse:collapse;font-size:12px;margin:0.5em 0}"
        "td,th{padding:2px 6px;border-bottom:1px solid #ddd;text-align:right}"
        "img{max-width:49%;vertical-align:top}"
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>weightcast report</title>"
        f"<style>{style}</style></head><body>" + "\n".join(body) + "</body></html>\n"
    )
