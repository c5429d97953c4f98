"""``autotune translate KERNEL --to PLATFORM``: translate, write kernel + spec, verify.

The translated kernel is written with a spec beside it (``OUT.toml``) that keeps the source's
arguments, dims and reference, so ``autotune verify OUT`` re-checks it at any time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Union

import tomli_w

from autotune.commands.common import EXIT_UNSUPPORTED, EXIT_USAGE, load_kernel, report_verdict
from measure.platforms import get_platform
from measure.spec import KernelSpec, SpecError, spec_to_dict
from passes import ir
from passes.translate import Translation, translate

SUFFIX = {"cpu": ".c", "cuda": ".cu", "hip": ".hip"}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "translate", help="translate a kernel to another platform and verify it",
        description="Translate KERNEL (CPU C .c, CUDA .cu, HIP .hip) to another platform, write "
                    "the result and its spec, and verify it against the reference. Exit status 0 "
                    "only when the result is verified.")
    p.add_argument("kernel", help="kernel source file")
    p.add_argument("--to", required=True, choices=sorted(SUFFIX), help="target platform")
    p.add_argument("--spec", help="spec file (default: KERNEL.toml or STEM.toml beside it)")
    p.add_argument("-o", "--output", help="output file (default: STEM.from_SOURCE.EXT in the "
                                          "current directory)")
    p.add_argument("--seed", type=int, default=0, help="seed of the verification inputs")
    p.add_argument("--no-verify", action="store_true",
                   help="write the translation without verifying it (exit status 2 is never "
                        "'verified')")
    p.set_defaults(func=run)


def output_path(kernel: Path, source: str, target: str, explicit: Union[str, None]) -> Path:
    if explicit:
        return Path(explicit)
    return Path.cwd() / f"{kernel.stem}.from_{source}{SUFFIX[target]}"


def translated_spec(spec: KernelSpec, t: Translation, out: Path) -> KernelSpec:
    """The spec of the translated kernel: same arguments and reference, new entry and launch."""
    new = replace(spec, entry=t.entry, path=out.with_name(out.name + ".toml"))
    if t.target_platform == "cpu" or t.launcher is not None:
        new = replace(new, launch=None)
    if spec.reference_source and spec.path is not None:
        ref = (spec.path.parent / spec.reference_source).resolve()
        new = replace(new, reference_source=os.path.relpath(ref, out.parent.resolve()))
    return new


def run(args: argparse.Namespace) -> int:
    try:
        path, text, spec, source = load_kernel(args.kernel, args.spec)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    start = time.perf_counter()
    try:
        t = translate(text, source, args.to, spec)
    except ir.UnsupportedConstruct as exc:
        print(f"error: {path}: cannot translate {source} -> {args.to}: {exc}", file=sys.stderr)
        return EXIT_UNSUPPORTED
    except ir.NotApplicable as exc:
        print(f"error: {path}: cannot translate {source} -> {args.to}: {exc}", file=sys.stderr)
        return EXIT_UNSUPPORTED
    out = output_path(path, source, args.to, args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(t.text)
    new_spec = translated_spec(spec, t, out)
    spec_file = out.with_name(out.name + ".toml")
    spec_file.write_text(tomli_w.dumps(spec_to_dict(new_spec)))
    print(f"translated {path} ({source}) -> {out} ({args.to}) in {time.perf_counter() - start:.2f} s")
    print(f"  passes: {', '.join(t.passes) or 'none'}")
    for note in t.notes:
        print(f"  - {note}")
    print(f"  spec: {spec_file}")
    if args.no_verify:
        print("  not verified (--no-verify)")
        return EXIT_USAGE
    verdict = get_platform(args.to).verify(t.text, new_spec, launcher=t.launcher, seed=args.seed)
    return report_verdict(verdict, f"{out} on {args.to}")
