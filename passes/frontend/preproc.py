"""Preprocessor lines: ``#include`` names, object-like ``#define`` constants, pragmas.

Why: tree-sitter keeps preprocessor lines as nodes instead of expanding them. The front end
expands what is safe to expand at the IR level (a ``#define`` whose value is a constant
expression is substituted wherever its name is used) and rejects the rest (function-like
macros, conditional compilation) rather than guessing which branch or expansion was meant.
"""

from __future__ import annotations

from typing import Any

from tree_sitter import Node

from passes import ir
from passes.frontend.context import ModuleContext
from passes.frontend.cst import fail, field, parse_expression, text


def include_name(node: Node) -> str:
    """``#include <x.h>`` -> ``x.h``; local headers (``"x.h"``) are not read, so rejected."""
    path = field(node, "path")
    if path is None:
        fail("#include", node)
    raw = text(path)
    if path.type == "system_lib_string":
        return raw.strip("<>")
    fail(f"#include {raw}", node, "local headers are not read by the front end")


def define(node: Node, ctx: ModuleContext) -> None:
    """Record ``#define NAME value``; the value must be a constant expression."""
    from passes.frontend.expressions import ExprBuilder, const_value
    from passes.frontend.scope import Scopes

    if node.type == "preproc_function_def":
        fail(f"function-like macro '{text(field(node, 'name') or node)}'", node)
    name = text(field(node, "name") or node)
    value_node = field(node, "value")
    if value_node is None or not text(value_node).strip():
        ctx.defines[name] = None
        return
    value_text = text(value_node).strip()
    init = parse_expression(value_text)
    if init is None:
        fail(f"#define {name}", node, f"cannot parse value '{value_text}'")
    builder = ExprBuilder(ctx, None, Scopes())
    try:
        value = builder.expr(init)
    except ir.UnsupportedConstruct as exc:
        fail(f"#define {name}", node, f"value '{value_text}' is not a constant expression: {exc}")
    if const_value(value) is None and not _is_constant_tree(value):
        fail(f"#define {name}", node, f"value '{value_text}' is not a constant expression")
    ctx.defines[name] = value


def _is_constant_tree(e: ir.Expr) -> bool:
    """Constants that do not fold to a number in Python but are still constants (casts of
    infinities and the like): no variables, no memory, no builtins."""
    return not any(isinstance(n, (ir.Var, ir.Load, ir.Builtin, ir.AddressOf)) for n in ir.walk(e))


def undef(node: Node, ctx: ModuleContext) -> None:
    arg = field(node, "argument")
    ctx.defines.pop(text(arg).strip() if arg is not None else "", None)


def pragma_text(node: Node) -> str:
    """Text after ``#pragma`` of a ``preproc_call`` node, whitespace-normalised."""
    arg = field(node, "argument")
    return " ".join(text(arg).split()) if arg is not None else ""


def loop_pragma(node: Node, ctx: ModuleContext) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """Loop kind and annotations of a pragma placed before a ``for``."""
    from passes.frontend.expressions import ExprBuilder, const_value
    from passes.frontend.scope import Scopes

    words = pragma_text(node)
    if words.startswith("omp "):
        rest = words[4:].strip()
        if rest.startswith("parallel for") or rest == "for" or rest.startswith("for "):
            return ir.PARALLEL, (("omp", rest),)
        if rest.startswith("simd"):
            return ir.VECTORIZED, (("omp", rest),)
        fail(f"#pragma {words}", node, "only 'omp parallel for', 'omp for' and 'omp simd' loops")
    if words == "unroll" or words.startswith("unroll "):
        count_text = words[len("unroll"):].strip()
        if not count_text:
            return ir.UNROLLED, (("unroll", 0),)
        init = parse_expression(count_text)
        if init is None:
            fail(f"#pragma {words}", node)
        count = const_value(ExprBuilder(ctx, None, Scopes()).expr(init))
        if not isinstance(count, int) or count < 0:
            fail(f"#pragma {words}", node, "unroll count is not a constant integer")
        return ir.UNROLLED, (("unroll", count),)
    fail(f"#pragma {words}", node)


def directive(node: Node) -> str:
    d = field(node, "directive")
    return text(d).strip() if d is not None else ""


def is_include_guard(node: Node) -> bool:
    """``#ifndef X`` whose first child is ``#define X`` (the content is the whole file)."""
    if node.type != "preproc_ifdef" or not text(node).startswith("#ifndef"):
        return False
    name = text(field(node, "name") or node)
    body = [c for c in node.named_children if c.type != "comment" and c != field(node, "name")]
    return bool(body) and body[0].type == "preproc_def" and text(field(body[0], "name") or body[0]) == name \
        and field(body[0], "value") is None and field(node, "alternative") is None
