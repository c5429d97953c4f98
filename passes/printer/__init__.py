"""Printers: IR -> source text a person can read and edit, for ``cpu`` (C with OpenMP and x86
intrinsics), ``cuda`` and ``hip``.

Each call builds a fresh printer, because a printer accumulates what the text it printed needs
(headers, helper functions) while it prints.
"""

from __future__ import annotations

from passes import ir
from passes.printer.base import BasePrinter
from passes.printer.c import CPrinter
from passes.printer.cuda import CudaPrinter
from passes.printer.hip import HipPrinter

PRINTERS: dict[str, type[BasePrinter]] = {"cpu": CPrinter, "cuda": CudaPrinter, "hip": HipPrinter}


def make_printer(platform: str) -> BasePrinter:
    try:
        return PRINTERS[platform]()
    except KeyError:
        raise ValueError(f"no printer for platform {platform!r}; known: {sorted(PRINTERS)}") from None


def print_module(module: ir.Module, platform: str) -> str:
    """The whole translation unit: includes, helpers, then functions with callees first."""
    return make_printer(platform).module(module)


def print_function(fn: ir.Function, platform: str) -> str:
    """One function definition (no includes); calls to other functions print as plain calls."""
    printer = make_printer(platform)
    printer.functions = {fn.name}
    return printer.function(fn)


def print_expr(expr: ir.Expr, platform: str) -> str:
    """One expression, with minimal parentheses."""
    return make_printer(platform).expr(expr)


__all__ = ["PRINTERS", "make_printer", "print_expr", "print_function", "print_module"]
