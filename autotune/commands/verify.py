"""``autotune verify KERNEL``: run a kernel on its own platform against its spec's reference."""

from __future__ import annotations

import argparse
import sys

from autotune.commands.common import EXIT_UNSUPPORTED, EXIT_USAGE, load_kernel, report_verdict
from measure.platforms import get_platform
from measure.spec import SpecError
from passes import ir
from passes.translate import launch_plan


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("verify", help="verify a kernel on its own platform against its reference",
                       description="Build and run KERNEL on seeded inputs (edge values included) "
                                   "and compare with its spec's reference.")
    p.add_argument("kernel", help="kernel source (.c, .cu, .hip)")
    p.add_argument("--spec", help="spec file (default: KERNEL.toml or STEM.toml beside it)")
    p.add_argument("--seed", type=int, default=0, help="input seed (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        path, text, spec, platform = load_kernel(args.kernel, args.spec)
        plan = launch_plan(text, platform, spec) if platform != "cpu" else None
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ir.UnsupportedConstruct as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return EXIT_UNSUPPORTED
    verdict = get_platform(platform).verify(
        text, spec, geometry=plan.geometry if plan else None,
        launcher=plan.launcher if plan else None, seed=args.seed)
    return report_verdict(verdict, f"{path} on {platform}")
