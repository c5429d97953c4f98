"""Function definitions: signatures (kind, parameters, launch bounds) and bodies.

Why: the kind of a function decides what its body may contain (a host launcher may not touch
buffers; a kernel may not launch) and how passes treat it; on the CPU, where no qualifier says
it, a function called by another function of the file is a helper (``device``), the others are
kernels.
"""

from __future__ import annotations

from tree_sitter import Node

from passes import ir
from passes.frontend.context import ModuleContext, Signature
from passes.frontend.cst import fail, field, line, named, need_field, text
from passes.frontend.declarations import qualifiers
from passes.frontend.expressions import ExprBuilder
from passes.frontend.scope import BUFFER, SCALAR, Scopes, Symbol
from passes.frontend.statements import StmtBuilder
from passes.frontend.types import base_dtype, unwrap_declarator

_SPECIFIERS = {"__global__", "__device__", "__host__", "__forceinline__", "__noinline__", "inline",
               "static", "extern", "__inline", "__inline__"}


def specifiers(node: Node) -> set[str]:
    out = set()
    for child in node.children:
        if child == node.child_by_field_name("type"):
            break
        word = text(child)
        if child.type in ("storage_class_specifier", "type_qualifier") or not child.is_named:
            if word not in _SPECIFIERS and word != "const":
                fail(f"function specifier '{word}'", child)
            out.add(word)
        elif child.type == "attribute_specifier" or child.type == "attribute_declaration":
            fail("attribute", child)
    return out


def function_name(node: Node) -> str:
    decl = need_field(node, "declarator")
    if decl.type != "function_declarator":
        fail("function returning a pointer or reference", decl)
    name = need_field(decl, "declarator")
    if name.type != "identifier":
        fail(f"function name '{text(name)}'", name)
    return text(name)


def called_names(node: Node) -> set[str]:
    """Identifiers called anywhere in ``node`` (for the CPU helper/kernel decision)."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "call_expression":
            fn = n.child_by_field_name("function")
            if fn is not None and fn.type == "identifier":
                out.add(text(fn))
        stack.extend(n.children)
    return out


def signature(node: Node, ctx: ModuleContext, kind: str) -> Signature:
    decl = need_field(node, "declarator")
    ret = base_dtype(need_field(node, "type"))
    params: list[ir.Param] = []
    plist = named(need_field(decl, "parameters"))
    for p in plist:
        if p.type == "variadic_parameter":
            fail("variadic function", p)
        if p.type != "parameter_declaration":
            fail(f"parameter '{text(p)}'", p)
        dtype = base_dtype(need_field(p, "type"))
        pdecl = field(p, "declarator")
        if pdecl is None:
            if dtype == "void" and len(plist) == 1:
                break
            fail("unnamed parameter", p)
        d = unwrap_declarator(pdecl)
        quals = qualifiers(p)
        if quals - {"const", "__restrict__", "restrict", "__grid_constant__"}:
            fail(f"parameter qualifier '{sorted(quals - {'const'})[0]}'", p)
        if len(d.sizes) > 1:
            fail("multi-dimensional array parameter", p)
        pointer = d.pointer or bool(d.sizes)
        if dtype == "void":
            fail("void parameter", p)
        params.append(ir.Param(d.name, dtype, pointer, "const" in quals, d.restrict))
    return Signature(function_name(node), kind, ret, tuple(params), line(node))


def launch_bounds(node: Node, ctx: ModuleContext) -> tuple[int, ...] | None:
    lb = next((c for c in node.children if c.type == "launch_bounds"), None)
    if lb is None:
        return None
    b = ExprBuilder(ctx, None, Scopes())
    return tuple(b.const_int(c) for c in named(lb))


def build_function(node: Node, ctx: ModuleContext, sig: Signature) -> ir.Function:
    scopes = Scopes(reserved=set(ctx.defines))
    builder = StmtBuilder(ctx, sig, scopes)
    for p in sig.params:
        scopes.declare(p.name, Symbol(BUFFER if p.pointer else SCALAR, p.name, p.dtype))
        builder.env[p.name] = p.dtype
    body = tuple(builder.block(need_field(node, "body")))
    return ir.Function(sig.name, sig.params, body, sig.kind, sig.ret_dtype,
                       launch_bounds(node, ctx), sig.line)
