"""Function definitions: signatures (kind, parameters, launch bounds) and bodies.

Why: the kind of a function decides what its body may contain (a host launcher may not touch
buffers; a kernel may not launch) and how passes treat it; on the CPU, where no qualifier says
it, a function called by another function of the file is a helper (``device``), the others are
kernels.
"""

from __future__ import annotations

from typing import Iterator

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
    body = _fold_outer_loop_vars(tuple(builder.block(need_field(node, "body"))), builder.outer_loop_vars)
    return ir.Function(sig.name, sig.params, body, sig.kind, sig.ret_dtype,
                       launch_bounds(node, ctx), sig.line)


def _fold_outer_loop_vars(body: tuple[ir.Stmt, ...], outer: dict[str, int]) -> tuple[ir.Stmt, ...]:
    """``int i; for (i = 0; ...)``: the ``For`` declares ``i`` itself, which is only faithful when
    ``i`` is used nowhere outside such loops; then the separate declaration is dropped."""
    for name, loop_line in outer.items():
        for node in _outside_loops(body, name):
            if isinstance(node, ir.Decl) and node.name == name:
                if node.init is not None and not isinstance(node.init, ir.Const):
                    raise ir.UnsupportedConstruct(
                        f"loop variable '{name}' declared outside its loop", loop_line,
                        "its declaration has a non-constant initial value")
                continue
            raise ir.UnsupportedConstruct(
                f"loop variable '{name}' declared outside its loop", loop_line,
                "it is also used outside the loops that run over it")
        body = _drop_decl(body, name)
    return body


def _outside_loops(stmts: tuple[ir.Stmt, ...], name: str) -> Iterator[ir.Node]:
    """Nodes that read, write or declare ``name`` outside ``For`` loops over ``name``."""
    for s in stmts:
        if isinstance(s, ir.For) and s.var == name:
            continue
        if isinstance(s, (ir.Decl, ir.Assign)) and s.name == name:
            yield s
        if isinstance(s, ir.For):
            if name in ir.free_vars(s.init) | ir.free_vars(s.bound) | ir.free_vars(s.step):
                yield s
            yield from _outside_loops(s.body, name)
        elif isinstance(s, ir.If):
            if name in ir.free_vars(s.cond):
                yield s
            yield from _outside_loops(s.then, name)
            yield from _outside_loops(s.orelse, name)
        elif isinstance(s, ir.While):
            if name in ir.free_vars(s.cond):
                yield s
            yield from _outside_loops(s.body, name)
        elif not isinstance(s, ir.Decl) and name in ir.free_vars(s):
            yield s
        elif isinstance(s, ir.Decl) and isinstance(s.init, ir.Node) and name in ir.free_vars(s.init):
            yield s
        elif isinstance(s, ir.Decl) and isinstance(s.init, tuple) and any(
                name in ir.free_vars(e) for e in s.init):
            yield s


def _drop_decl(stmts: tuple[ir.Stmt, ...], name: str) -> tuple[ir.Stmt, ...]:
    def fn(n: ir.Node) -> ir.Node:
        if isinstance(n, ir.Decl) and n.name == name:
            return ()  # type: ignore[return-value]  # spliced away by transform
        return n

    return ir.transform_stmts(stmts, fn)
