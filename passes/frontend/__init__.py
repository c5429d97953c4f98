"""The front end: C / CUDA / HIP source text -> ``passes.ir.Module``.

``parse_module(text, platform)`` translates a file; ``find_launch(module, kernel)`` gives the
launch geometry of a kernel in terms of its own parameters. Everything that cannot be
represented faithfully raises ``ir.UnsupportedConstruct`` naming the construct and its line.
"""

from passes.frontend.launch import LaunchInfo, find_launch
from passes.frontend.module import parse_module

__all__ = ["LaunchInfo", "find_launch", "parse_module"]
