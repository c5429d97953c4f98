"""``autotune measure KERNEL``: verify and time one kernel on its own platform."""

from __future__ import annotations

import argparse
import sys

from autotune.commands.common import EXIT_FAILED, EXIT_OK, EXIT_UNSUPPORTED, EXIT_USAGE, load_kernel
from measure.spec import SpecError
from measure.timing import TimingOptions, measure_kernel
from passes import ir
from passes.translate import launch_plan


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = TimingOptions()
    p = sub.add_parser(
        "measure", help="verify and time one kernel on its own platform",
        description="Verify KERNEL against its reference, then time it in native code: warm-up, "
                    "an inner count grown until a sample lasts --min-repeat-ms, --repeats samples; "
                    "prints the median and the spread (IQR / median). Pinned to the last --threads "
                    "cores. Exit status 0 only for a verified, timed kernel.")
    p.add_argument("kernel", help="kernel source (.c, .cu, .hip)")
    p.add_argument("--spec", help="spec file (default: KERNEL.toml or STEM.toml beside it)")
    p.add_argument("--shape", default="default", help="shape of the spec to use (default: [dims])")
    p.add_argument("--threads", type=int, default=d.threads, help=f"OpenMP threads (default {d.threads})")
    p.add_argument("--repeats", type=int, default=d.repeats, help=f"samples (default {d.repeats}, min 5)")
    p.add_argument("--min-repeat-ms", type=float, default=d.min_repeat_ms,
                   help=f"minimum duration of one sample (default {d.min_repeat_ms:g} ms)")
    p.add_argument("--processes", type=int, default=d.processes,
                   help=f"separate timed processes whose samples are pooled (default {d.processes})")
    p.add_argument("--flush", action="store_true", help="flush caches before every sample")
    p.add_argument("--max-spread", type=float, default=d.max_spread,
                   help=f"repeat a measurement whose spread exceeds this (default {d.max_spread:g})")
    p.add_argument("--seed", type=int, default=0, help="input seed (default 0)")
    p.set_defaults(func=run)


def format_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3f} {unit}"
    return f"{seconds / 1e-9:.1f} ns"


def run(args: argparse.Namespace) -> int:
    try:
        path, text, spec, platform = load_kernel(args.kernel, args.spec)
        spec = spec.with_shape(args.shape)
        options = TimingOptions(repeats=args.repeats, min_repeat_ms=args.min_repeat_ms,
                                flush=args.flush, threads=args.threads, max_spread=args.max_spread,
                                seed=args.seed, processes=args.processes)
        plan = launch_plan(text, platform, spec) if platform != "cpu" else None
    except (SpecError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ir.UnsupportedConstruct as exc:
        print(f"error: {args.kernel}: {exc}", file=sys.stderr)
        return EXIT_UNSUPPORTED
    t = measure_kernel(text, platform, spec, options=options,
                       geometry=plan.geometry if plan else None, launcher=plan.launcher if plan else None)
    if not t.ok:
        print(f"{path} on {platform}: FAILED: {t.reason}", file=sys.stderr)
        return EXIT_FAILED
    mode = t.verdict.mode if t.verdict else "?"
    print(f"{path} on {platform} (shape {args.shape}, {t.threads} thread(s) on cores "
          f"{','.join(map(str, t.cores))}): verified ({mode})")
    print(f"  median {format_time(t.median_s)}  spread {100 * t.spread:.1f}%  "
          f"({len(t.samples_s)} samples of {t.inner} calls, attempt {t.attempts})")
    medians = t.details.get("process_medians_s", [])
    if medians:
        print("  per-process medians: " + " ".join(format_time(m) for m in medians))
    if t.noisy:
        print(f"  warning: noisy measurement (spread above {100 * args.max_spread:.0f}% after "
              f"{t.attempts} attempts); the machine is busy", file=sys.stderr)
    print("  samples: " + " ".join(format_time(s) for s in t.samples_s))
    return EXIT_OK
