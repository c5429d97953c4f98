"""Local declarations: scalars, arrays (local or ``__shared__``), local pointers, ``dim3``.

Why: a declaration decides the IR name (unique in the function), the dtype and memory scope of a
variable, and whether it exists in the IR at all: local pointers and ``dim3`` variables are
aliases substituted where they are used, so they produce no statement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tree_sitter import Node

from passes import ir
from passes.frontend import wmma
from passes.frontend.cst import fail, named, need_field, text
from passes.frontend.scope import ARRAY, DIM3, POINTER, SCALAR, Symbol
from passes.frontend.types import Declarator, base_dtype, unwrap_declarator

if TYPE_CHECKING:
    from passes.frontend.expressions import ExprBuilder


def qualifiers(node: Node) -> set[str]:
    """Type qualifiers and storage classes written before the type of a declaration."""
    out = set()
    for child in node.children:
        if child.type in ("type_qualifier", "storage_class_specifier"):
            out.add(text(child))
    return out


def declaration(b: ExprBuilder, node: Node) -> list[ir.Stmt]:
    quals = qualifiers(node)
    for bad, construct in (("static", "static local variable"), ("volatile", "volatile"),
                           ("__constant__", "__constant__ variable"), ("__device__", "__device__ variable"),
                           ("__managed__", "__managed__ variable"), ("thread_local", "thread_local")):
        if bad in quals:
            fail(construct, node)
    type_node = need_field(node, "type")
    if wmma.is_fragment_type(type_node, b):
        return wmma.fragment_declaration(b, node)
    out: list[ir.Stmt] = []
    for decl_node in node.children_by_field_name("declarator"):
        if decl_node.type == "function_declarator" and text(type_node) == "dim3":
            _dim3_vexing(b, decl_node)  # `dim3 g(A, B);` with identifiers reads as a prototype
            continue
        if decl_node.type == "init_declarator":
            target, value = need_field(decl_node, "declarator"), need_field(decl_node, "value")
        else:
            target, value = decl_node, None
        d = unwrap_declarator(target)
        if type_node.type == "type_identifier" and text(type_node) == "dim3":
            _dim3(b, d, value, node)
            continue
        dtype = base_dtype(type_node)
        if dtype == "void":
            fail("void variable", node)
        if d.pointer:
            _pointer(b, d, dtype, value, node)
            continue
        if "extern" in quals and not ("__shared__" in quals and d.sizes == (None,)):
            fail("extern declaration", node)
        out.append(_variable(b, d, dtype, value, quals, node))
    return out


def _variable(b: ExprBuilder, d: Declarator, dtype: str, value: Node | None,
              quals: set[str], node: Node) -> ir.Decl:
    shared = "__shared__" in quals
    if shared and b.kind != "kernel" and b.kind != "device":
        fail("__shared__ outside device code", node)
    if d.sizes and b.kind == "host":
        fail("array in a host function", node)
    if value is not None and value.type == "argument_list":
        fail("constructor-style initialisation", value)
    if shared and value is not None:
        fail("initialised __shared__ variable", node)
    init: ir.Expr | tuple[ir.Expr, ...] | None = None
    if d.sizes:
        shape = _shape(b, d, value, "extern" in quals)
        if value is not None:
            if value.type != "initializer_list":
                fail("array initialised from an expression", value)
            init = _initializer(b, value, shape)
    elif value is not None:
        if value.type == "initializer_list":
            fail("brace initialisation of a scalar", value)
        init = b.expr(value)
        shape = ()
    else:
        shape = ()
    scope = ir.SHARED if shared else (ir.LOCAL if d.sizes else ir.REGISTER)
    sym = b.declare(d.name_node, Symbol(ARRAY if d.sizes else SCALAR, d.name, dtype, shape, scope))
    b.env[sym.name] = dtype
    return ir.Decl(sym.name, dtype, shape, init, scope, "const" in quals)


def _shape(b: ExprBuilder, d: Declarator, value: Node | None, extern: bool) -> tuple[int, ...]:
    if extern:
        return (-1,)
    dims: list[int] = []
    for i, size in enumerate(d.sizes):
        if size is None:
            if i == 0 and value is not None and value.type == "initializer_list":
                dims.append(len(named(value)))
                continue
            fail("array without a size", d.name_node)
        n = b.const_int(size)
        if n <= 0:
            fail("array of non-positive size", size)
        dims.append(n)
    return tuple(dims)


def _initializer(b: ExprBuilder, node: Node, shape: tuple[int, ...]) -> tuple[ir.Expr, ...]:
    """Flatten ``{{1, 2}, {3, 4}}``; nested lists must be complete (else C pads each row)."""
    items = named(node)
    if len(items) > shape[0]:
        fail("too many initialisers", node)
    if len(shape) == 1:
        if any(i.type == "initializer_list" for i in items):
            fail("nested initialiser list for a one-dimensional array", node)
        return tuple(b.expr(i) for i in items)
    if not all(i.type == "initializer_list" for i in items):
        if all(i.type != "initializer_list" for i in items):
            return tuple(b.expr(i) for i in items)  # brace elision: row-major order
        fail("mixed initialiser list", node)
    out: list[ir.Expr] = []
    for i, item in enumerate(items):
        row = _initializer(b, item, shape[1:])
        size = 1
        for s in shape[1:]:
            size *= s
        if len(row) != size and i != len(items) - 1:
            fail("incomplete row in an initialiser list", item)
        out.extend(row)
    return tuple(out)


def _pointer(b: ExprBuilder, d: Declarator, dtype: str, value: Node | None, node: Node) -> None:
    if b.kind == "host":
        fail("pointer variable in a host function", node)
    if d.sizes:
        fail("array of pointers", node)
    if value is None or value.type in ("initializer_list", "argument_list"):
        fail(f"local pointer '{d.name}' without an initial value", node)
    ptr = b.pointer(value)
    if (ptr.view or ptr.elem) != dtype and dtype != "void":
        fail(f"local pointer '{d.name}'", node,
             f"a {dtype} pointer initialised from a {ptr.view or ptr.elem} pointer needs a cast")
    deps = frozenset(n.name for idx in ptr.indices for n in ir.walk(idx) if isinstance(n, ir.Var))
    b.declare(d.name_node, Symbol(POINTER, d.name, dtype, ptr=ptr, deps=deps))


def _dim3(b: ExprBuilder, d: Declarator, value: Node | None, node: Node) -> None:
    from passes.frontend.launch import dim3_value

    if b.kind != "host":
        fail("dim3 outside a host function", node)
    if d.pointer or d.sizes:
        fail("dim3 pointer or array", node)
    if value is None:
        dims: tuple[ir.Expr, ir.Expr, ir.Expr] = (ir.Const(1), ir.Const(1), ir.Const(1))
    elif value.type in ("argument_list", "initializer_list"):
        dims = dim3_value(b, named(value), value)
    else:
        dims = dim3_value(b, [value], value)
    deps = frozenset(n.name for e in dims for n in ir.walk(e) if isinstance(n, ir.Var))
    b.declare(d.name_node, Symbol(DIM3, d.name, "u32", dims=dims, deps=deps))


def _dim3_vexing(b: ExprBuilder, node: Node) -> None:
    from passes.frontend.cst import parse_expression
    from passes.frontend.launch import dim3_value

    name = need_field(node, "declarator")
    if name.type != "identifier" or b.kind != "host":
        fail("dim3 declaration", node)
    parts = []
    for p in named(need_field(node, "parameters")):
        expr_node = parse_expression(text(p))
        if expr_node is None:
            fail("dim3 declaration", p, text(p))
        parts.append(expr_node)
    try:
        dims = dim3_value(b, parts, node)
    except ir.UnsupportedConstruct as exc:
        fail(exc.construct, node, exc.detail)
    deps = frozenset(n.name for e in dims for n in ir.walk(e) if isinstance(n, ir.Var))
    b.declare(name, Symbol(DIM3, text(name), "u32", dims=dims, deps=deps))
