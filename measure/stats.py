"""Statistics of timing samples, shared by the native protocol and the baseline runner.

Kept free of heavy imports: the baseline runner process imports it before numpy or torch.
"""

from __future__ import annotations

import statistics


def relative_spread(samples: list[float]) -> float:
    """Inter-quartile range over the median: robust to one descheduled sample."""
    if len(samples) < 2:
        return 0.0
    q = statistics.quantiles(samples, n=4, method="inclusive")
    med = statistics.median(samples)
    return (q[2] - q[0]) / med if med > 0 else 0.0
