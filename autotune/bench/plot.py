"""The PNG of ``autotune bench``: speedup of each implementation over the vendor library, per
operator, on a log scale (1 = as fast as the vendor; above 1 = faster).

matplotlib is an optional dependency (the ``bench`` extra); it is imported here only, with the
Agg backend, so that the rest of the bench runs without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence, Union

Speedups = Mapping[str, Union[float, None]]


def plot_speedups(groups: Sequence[tuple[str, Speedups]], series: Sequence[tuple[str, str]],
                  path: Path, title: str) -> None:
    """Grouped bars: one group per ``(label, {series key: speedup or None})``, one bar per
    ``(series key, legend label)``. A missing speedup is drawn as the text ``n/a`` instead of a
    bar, so a failed or unavailable implementation is visible, not silently absent."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_series = max(1, len(series))
    width = 0.8 / n_series
    fig, ax = plt.subplots(figsize=(max(7.0, 1.4 * len(groups) + 2.0), 5.0))
    values = [v for _, sp in groups for v in sp.values() if v is not None and v > 0]
    low = min(values + [1.0]) / 2.0
    high = max(values + [1.0]) * 2.0
    for i, (key, legend) in enumerate(series):
        xs, ys = [], []
        for g, (_, speedups) in enumerate(groups):
            x = g - 0.4 + width * (i + 0.5)
            value = speedups.get(key)
            if value is None or value <= 0:
                ax.text(x, low * 1.15, "n/a", ha="center", va="bottom", rotation=90, fontsize=7)
                continue
            xs.append(x)
            ys.append(value)
        bars = ax.bar(xs, ys, width=width, label=legend)
        for bar, y in zip(bars, ys):
            ax.text(bar.get_x() + bar.get_width() / 2, y, f"{y:.2g}", ha="center", va="bottom",
                    fontsize=7)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylim(low, high)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([label for label, _ in groups], rotation=20, ha="right")
    ax.set_ylabel("speedup over the vendor (vendor time / time)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=len(series),
              frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
