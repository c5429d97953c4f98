"""Repeatability of the timing protocol: time the same kernels several times in one run.

For each kernel the protocol (measure.timing.measure_kernel) is run ``--runs`` times; we report
every median with its spread (IQR / median) and check that the medians agree within the reported
spread: max(median) / min(median) - 1 <= max(spread) (with a floor of 2%, the resolution the
shared machine allows). Usage:

    python benchmarks/repeatability.py [--runs 5] [--out benchmarks/results/repeatability.md]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure.spec import load_spec  # noqa: E402
from measure.timing import TimingOptions, measure_kernel  # noqa: E402
from measure.toolchain import cpu_info  # noqa: E402

KERNELS = [("gemm", "large"), ("softmax", "large"), ("relu", "large"), ("conv2d_nhwc", "large")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/repeatability.md"))
    args = ap.parse_args()
    lines = ["# Repeatability of the timing protocol", "",
             f"Command: `python benchmarks/repeatability.py --runs {args.runs}`  ",
             f"Machine: {cpu_info().model} ({platform.machine()}), 1 thread pinned, "
             f"{time.strftime('%Y-%m-%d')}", "",
             "| kernel | shape | medians (ms) | spreads | max/min - 1 | max spread | agree |",
             "|---|---|---|---|---|---|---|"]
    all_ok = True
    for op, shape in KERNELS:
        path = ROOT / "kernels" / op / f"{op}.c"
        spec = load_spec(path.with_name(path.name + ".toml")).with_shape(shape)
        medians, spreads = [], []
        for _ in range(args.runs):
            t = measure_kernel(path.read_text(), "cpu", spec, options=TimingOptions())
            if not t.ok:
                print(f"{op}: {t.reason}", file=sys.stderr)
                return 1
            medians.append(t.median_s)
            spreads.append(t.spread)
        ratio = max(medians) / min(medians) - 1
        bound = max(max(spreads), 0.02)
        ok = ratio <= bound
        all_ok &= ok
        lines.append(f"| {op} | {shape} | {' '.join(f'{m * 1e3:.3f}' for m in medians)} | "
                     f"{' '.join(f'{100 * s:.1f}%' for s in spreads)} | {100 * ratio:.1f}% | "
                     f"{100 * bound:.1f}% | {'yes' if ok else 'NO'} |")
        print(lines[-1], flush=True)
        print(f"  median of medians {statistics.median(medians) * 1e3:.3f} ms", flush=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"written {args.out}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
