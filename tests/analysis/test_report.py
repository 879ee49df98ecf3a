"""The report writes a self-contained page, its figures and summary.json."""

from __future__ import annotations

import json

from weightcast.analysis import ReportConfig, build_report


def test_quick_report_writes_its_files(corpus_path, tmp_path):
    seen = []

    def progress(tasks):
        for name, run in tasks:
            seen.append(name)
            yield name, run

    cfg = ReportConfig.quick_config(n_estimators=10)
    summary = build_report(corpus_path, tmp_path / "r", cfg, progress=progress)
    out = tmp_path / "r"
    html = (out / "index.html").read_text()
    for png in ("fig3a", "fig3b", "fig4a", "fig4b", "fig5a", "fig5b", "fig6", "models"):
        assert (out / f"{png}.png").stat().st_size > 1000
        assert f'src="{png}.png"' in html
    assert "What the corpus shows" in html and "QUICK MODE" in html
    stored = json.loads((out / "summary.json").read_text())
    assert stored["errors"] == {} == summary["errors"]
    for key in (
        "best_per_t",
        "steps_needed",
        "samples_needed",
        "importance",
        "history",
        "tau",
        "correlation",
        "models",
        "top_share",
        "timings_s",
        "usable_runs",
    ):
        assert key in stored, key
    assert stored["settings"]["n_estimators"] == 10 and stored["settings"]["quick"] is True
    assert seen == list(stored["timings_s"])
