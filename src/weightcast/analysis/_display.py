"""Display objects for the analyses' tables (matplotlib imported lazily, Agg backend)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from weightcast._imports import require

__all__ = ["BarDisplay", "CurveDisplay", "save_figure"]


def _pyplot() -> Any:
    mpl = require("matplotlib", "report")
    if mpl.get_backend().lower() != "agg":
        mpl.use("Agg")
    return require("matplotlib.pyplot", "report")


class CurveDisplay:
    """Lines of ``y`` against ``x``, one per value of ``hue``, with a band of +-``err``.

    Used for RMSE against t (Fig. 3A), n (3B) and tau (5B), and the best correlation
    against t (Fig. 6). Build with :meth:`from_frame`, draw with :meth:`plot`.

    >>> df = pd.DataFrame({"set": ["lc", "lc", "weights", "weights"], "t": [10, 20, 10, 20],
    ...                    "rmse_mean": [0.3, 0.2, 0.25, 0.2], "rmse_std": 0.01})
    >>> d = CurveDisplay.from_frame(df, x="t", y="rmse_mean", err="rmse_std")
    >>> d.ax_.get_xlabel(), len(d.ax_.get_lines())
    ('t', 2)
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        x: str,
        y: str,
        hue: str = "set",
        err: str | None = None,
        title: str | None = None,
        xlabel: str | None = None,
        ylabel: str | None = None,
        logx: bool = False,
        style: str | None = None,
    ) -> None:
        self.frame, self.x, self.y, self.hue, self.err = frame, x, y, hue, err
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.logx, self.style = logx, style

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, ax: Any = None, **kwargs: Any) -> CurveDisplay:
        """Make the display from a tidy table and plot it (``kwargs``: see the class)."""
        return cls(frame, **kwargs).plot(ax=ax)

    def plot(self, ax: Any = None) -> CurveDisplay:
        """Draw on ``ax`` (a new figure if None); returns self with ``ax_``, ``figure_``."""
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 4.2))
        styles = self.frame[self.style].unique() if self.style else [None]
        hues = list(self.frame[self.hue].unique())
        cmap = plt.get_cmap("tab10" if len(hues) <= 10 else "tab20")
        for i, (_, g) in enumerate(self.frame.groupby(self.hue, sort=False)):
            h = g[self.hue].iloc[0]
            color = cmap(i % cmap.N)
            for k, s in enumerate(styles):
                part = g if s is None else g[g[self.style] == s]
                if part.empty:
                    continue
                part = part.sort_values(self.x)
                xs = part[self.x].to_numpy(float)
                ys = part[self.y].to_numpy(float)
                label = str(h) if s is None else f"{h} ({s})"
                (line,) = ax.plot(
                    xs, ys, marker="o", ms=3, label=label, color=color, ls=["-", "--", ":"][k % 3]
                )
                color = line.get_color()
                if self.err and self.err in part:
                    e = np.nan_to_num(part[self.err].to_numpy(float))
                    ax.fill_between(xs, ys - e, ys + e, color=color, alpha=0.15, lw=0)
        if self.logx:
            xs_all = self.frame[self.x].to_numpy(float)
            positive = xs_all[xs_all > 0]
            linthresh = float(positive.min()) if positive.size else 1.0
            ax.set_xscale("symlog", linthresh=linthresh)
            ticks = np.unique(xs_all[np.isfinite(xs_all)])
            if len(ticks) <= 12:  # label the recorded steps themselves
                ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
                ax.minorticks_off()
        ax.set_xlabel(self.xlabel or self.x)
        ax.set_ylabel(self.ylabel or self.y)
        if self.title:
            ax.set_title(self.title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        self.ax_, self.figure_ = ax, ax.figure
        return self


class BarDisplay:
    """Horizontal bars of ``value`` per ``label`` (Fig. 4: importance per group or feature).

    >>> df = pd.DataFrame({"group": ["delta", "raw"], "total": [0.05, 0.01]})
    >>> BarDisplay.from_frame(df, label="group", value="total").ax_.get_xlabel()
    'total'
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        label: str,
        value: str,
        err: str | None = None,
        title: str | None = None,
        xlabel: str | None = None,
        top: int | None = None,
    ) -> None:
        self.frame, self.label, self.value, self.err = frame, label, value, err
        self.title, self.xlabel, self.top = title, xlabel, top

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, ax: Any = None, **kwargs: Any) -> BarDisplay:
        """Make the display from a table and plot it (``kwargs``: see the class)."""
        return cls(frame, **kwargs).plot(ax=ax)

    def plot(self, ax: Any = None) -> BarDisplay:
        """Draw on ``ax`` (a new figure if None); returns self with ``ax_``, ``figure_``."""
        plt = _pyplot()
        frame = self.frame.head(self.top) if self.top else self.frame
        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 0.6 + 0.28 * max(len(frame), 3)))
        ys = np.arange(len(frame))[::-1]
        xerr = frame[self.err].to_numpy(float) if self.err else None
        ax.barh(ys, frame[self.value].to_numpy(float), xerr=xerr, color="#4477aa")
        ax.set_yticks(ys, [str(v) for v in frame[self.label]], fontsize=7)
        ax.set_xlabel(self.xlabel or self.value)
        if self.title:
            ax.set_title(self.title)
        ax.grid(alpha=0.3, axis="x")
        self.ax_, self.figure_ = ax, ax.figure
        return self


def save_figure(display: CurveDisplay | BarDisplay, path: Any) -> None:
    """Write the display's figure as a PNG and close it."""
    plt = _pyplot()
    display.figure_.tight_layout()
    display.figure_.savefig(path, dpi=110)
    plt.close(display.figure_)
