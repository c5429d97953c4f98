"""The ``autotune`` command line: one sub-command per module in ``autotune.commands``.

Exit status (all commands): 0 success, 1 the kernel failed (wrong results, crash, not verified),
2 bad usage or spec, 3 the kernel uses a construct autotune does not support.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence, Union

from autotune.commands import bench as bench_cmd
from autotune.commands import measure as measure_cmd
from autotune.commands import platforms as platforms_cmd
from autotune.commands import records as records_cmd
from autotune.commands import run as run_cmd
from autotune.commands import translate as translate_cmd
from autotune.commands import verify as verify_cmd


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autotune",
        description="Translate tensor kernels between CPU C, CUDA and HIP, verified.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    translate_cmd.add_parser(sub)
    verify_cmd.add_parser(sub)
    measure_cmd.add_parser(sub)
    platforms_cmd.add_parser(sub)
    bench_cmd.add_parser(sub)
    records_cmd.add_parser(sub)
    run_cmd.add_parser(sub)
    return parser


def main(argv: Union[Sequence[str], None] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
