"""What every part of the front end needs to know about the module being translated.

Why: expressions refer to things declared elsewhere in the file (``#define`` constants, helper
functions and their return types, kernels named by launches); collecting them first lets bodies be
translated in one pass, in any order of definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from passes import ir


@dataclass(frozen=True)
class Signature:
    """A function of the module as seen by its callers."""

    name: str
    kind: str
    ret_dtype: str
    params: tuple[ir.Param, ...]
    line: int


@dataclass
class ModuleContext:
    platform: str
    defines: dict[str, ir.Expr | None] = field(default_factory=dict)
    functions: dict[str, Signature] = field(default_factory=dict)
    # namespaces opened by file-level ``using namespace`` (nvcuda, nvcuda::wmma); see frontend/wmma.py
    wmma_namespaces: set[str] = field(default_factory=set)
