"""``for`` loops: the C header ``init; var CMP bound; update`` -> ``ir.For`` fields.

Why: ``ir.For`` is a counted loop (one variable, one comparison, one update). The accepted
header forms are exactly those that map onto it faithfully; the comparison and update operator
are kept as written (``<=``, ``>>= 1``), so no bound arithmetic can change types or overflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tree_sitter import Node

from passes import ir
from passes.frontend import preproc
from passes.frontend.cst import fail, field, line, named, need_field, text
from passes.frontend.scope import SCALAR, Symbol
from passes.frontend.types import base_dtype, unwrap_declarator

if TYPE_CHECKING:
    from passes.frontend.statements import StmtBuilder

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "!=": "!="}
_UPDATE_OPS = {"+=": "+", "-=": "-", "*=": "*", "/=": "/", "<<=": "<<", ">>=": ">>"}


def for_statement(b: StmtBuilder, node: Node, pragma: Node | None) -> list[ir.Stmt]:
    kind, annotations = (ir.SERIAL, ()) if pragma is None else preproc.loop_pragma(pragma, b.ctx)
    b.scopes.push()
    after: list[ir.Stmt] = []
    try:
        continued = _continued_var(b, node)
        if continued is not None:
            # ``for (i = e; ...)`` / ``for (; i < n; ...)`` over an outer ``i``: the loop gets a
            # variable of its own and the outer one receives the final value afterwards.
            outer, init = continued
            source = text(_loop_var_node(b, node))
            sym = b.scopes.declare(source, Symbol(SCALAR, source, outer.dtype))
            b.env[sym.name] = outer.dtype
            var, var_dtype = sym.name, outer.dtype
        else:
            var, var_dtype, init = _init(b, node)
        bound, cmp = _condition(b, node, var)
        update, step = _update(b, node, var)
        bound, cmp = _normalise(bound, cmp, var_dtype)
        if continued is not None:
            final = _final_value(init, bound, cmp, update, step)
            if final is None:
                fail("value of an outer loop variable after a loop of this form", node,
                     "write the loop as 'for (int i = a; i < b; i += c)'")
            after.append(ir.Assign(continued[0].name, final))
        b.loop_vars.add(var)
        try:
            body = b.block(need_field(node, "body"))
        finally:
            b.loop_vars.discard(var)
    finally:
        b.scopes.pop()
    return [ir.For(var, init, bound, step, tuple(body), cmp, update, var_dtype, kind,
                   annotations=annotations, line=line(node)), *after]


def _loop_var_node(b: StmtBuilder, node: Node) -> Node:
    """The identifier of the loop variable: the left of the assignment, else of the condition."""
    init = field(node, "initializer")
    if init is not None and init.type == "assignment_expression":
        return need_field(init, "left")
    cond = field(node, "condition")
    if cond is not None and cond.type == "binary_expression":
        left = need_field(cond, "left")
        while left.type == "binary_expression":
            left = need_field(left, "left")
        if left.type == "identifier":
            return left
    fail("for loop without initialisation", node, "cannot tell which variable the loop runs over")


def _continued_var(b: StmtBuilder, node: Node) -> tuple[Symbol, ir.Expr] | None:
    """(outer symbol, initial value) when the header assigns or continues an outer variable."""
    init = field(node, "initializer")
    if init is not None and init.type == "declaration":
        return None
    if init is not None and not (init.type == "assignment_expression"
                                 and text(need_field(init, "operator")) == "="):
        fail("for loop initialisation", init, text(init)[:40])
    ident = _loop_var_node(b, node)
    found = b.scopes.lookup(text(ident)) if ident.type == "identifier" else None
    if found is None or found.kind != SCALAR or not ir.is_int(found.dtype):
        fail("for loop initialisation", init or node, "expected an integer variable")
    if found.name in b.loop_vars:
        fail(f"assignment to loop variable '{text(ident)}' inside its loop", init or node)
    b.scopes.check_assign(found.name, line(node))
    value = b.expr(need_field(init, "right")) if init is not None else ir.Var(found.name, found.dtype)
    return found, value


def _normalise(bound: ir.Expr, cmp: str, dtype: str) -> tuple[ir.Expr, str]:
    """``i <= n`` on a signed integer is ``i < n + 1`` (the analysable form)."""
    if cmp == "<=" and dtype in ("i32", "i64", "i16", "i8"):
        if isinstance(bound, ir.BinOp) and bound.op == "-" and isinstance(bound.b, ir.Const) \
                and isinstance(bound.b.value, int) and bound.b.value > 1:
            return ir.BinOp("-", bound.a, ir.Const(bound.b.value - 1, bound.b.dtype)), "<"
        return ir.BinOp("+", bound, ir.Const(1)), "<"
    return bound, cmp


def _final_value(init: ir.Expr, bound: ir.Expr, cmp: str, update: str, step: ir.Expr) -> ir.Expr | None:
    """Value of the loop variable after ``for (v = init; v < bound; v += step)`` ends."""
    if cmp != "<" or update != "+" or not (isinstance(step, ir.Const) and isinstance(step.value, int)
                                           and step.value > 0):
        return None
    if step.value == 1:
        trips = ir.BinOp("-", bound, init)
        return ir.Select(ir.BinOp("<", init, bound), ir.BinOp("+", init, trips), init)
    span = ir.BinOp("+", ir.BinOp("-", bound, init), ir.Const(step.value - 1))
    last = ir.BinOp("+", init, ir.BinOp("*", ir.BinOp("/", span, step), step))
    return ir.Select(ir.BinOp("<", init, bound), last, init)


def _init(b: StmtBuilder, node: Node) -> tuple[str, str, ir.Expr]:
    init = field(node, "initializer")
    if init is None:
        fail("for loop without initialisation", node)
    if init.type == "declaration":
        decls = init.children_by_field_name("declarator")
        if len(decls) != 1 or decls[0].type != "init_declarator":
            fail("for loop declaring several variables or none", init)
        d = unwrap_declarator(need_field(decls[0], "declarator"))
        if d.pointer or d.sizes:
            fail("for loop over a pointer or array variable", init)
        if any(c.type in ("type_qualifier", "storage_class_specifier") for c in init.children):
            fail("qualified loop variable", init)
        dtype = base_dtype(need_field(init, "type"))
        if not ir.is_int(dtype):
            fail(f"loop variable of type {dtype}", init)
        value = b.expr(need_field(decls[0], "value"))
        sym = b.declare(d.name_node, Symbol(SCALAR, d.name, dtype))
        b.env[sym.name] = dtype
        return sym.name, dtype, value
    fail("for loop initialisation", init, text(init)[:40])


def _is_var(b: StmtBuilder, node: Node, var: str) -> bool:
    if node.type != "identifier":
        return False
    sym = b.scopes.lookup(text(node))
    return sym is not None and sym.name == var


def _mentions(e: ir.Expr, var: str) -> bool:
    return var in ir.free_vars(e)


def _var_plus_const(b: StmtBuilder, node: Node, var: str) -> tuple[str, ir.Expr] | None:
    """('+', c) for the expression ``var + c`` (or '-' for ``var - c``), where c does not use var."""
    if node.type != "binary_expression":
        return None
    op = text(need_field(node, "operator"))
    left, right = need_field(node, "left"), need_field(node, "right")
    if op in ("+", "-") and _is_var(b, left, var):
        c = b.expr(right)
        if not _mentions(c, var):
            return op, c
    return None


def _condition(b: StmtBuilder, node: Node, var: str) -> tuple[ir.Expr, str]:
    cond = field(node, "condition")
    if cond is None:
        fail("for loop without condition", node)
    if cond.type == "binary_expression":
        op = text(need_field(cond, "operator"))
        left, right = need_field(cond, "left"), need_field(cond, "right")
        offset = _var_plus_const(b, left, var)
        if op in _FLIP and offset is not None:  # 'i + c <= n' is 'i <= n - c'
            bound = b.expr(right)
            if not _mentions(bound, var):
                return ir.BinOp("-" if offset[0] == "+" else "+", bound, offset[1]), op
        if op in _FLIP:
            if _is_var(b, left, var):
                bound = b.expr(right)
                if not _mentions(bound, var):
                    return bound, op
            elif _is_var(b, right, var):
                bound = b.expr(left)
                if not _mentions(bound, var):
                    return bound, _FLIP[op]
    fail("for loop condition", cond, f"expected '{var} < bound' (or <=, >, >=, !=), got '{text(cond)}'")


def _update(b: StmtBuilder, node: Node, var: str) -> tuple[str, ir.Expr]:
    upd = field(node, "update")
    if upd is None:
        fail("for loop without update", node)
    if upd.type == "update_expression" and _is_var(b, need_field(upd, "argument"), var):
        return ("+" if text(need_field(upd, "operator")) == "++" else "-"), ir.Const(1)
    if upd.type == "assignment_expression" and _is_var(b, need_field(upd, "left"), var):
        op = text(need_field(upd, "operator"))
        right = need_field(upd, "right")
        if op in _UPDATE_OPS:
            step = b.expr(right)
            if not _mentions(step, var):
                return _UPDATE_OPS[op], step
        if op == "=":
            while right.type == "parenthesized_expression":
                right = named(right)[0]
            if right.type == "binary_expression":
                bop = text(need_field(right, "operator"))
                rl, rr = need_field(right, "left"), need_field(right, "right")
                if bop in ("+", "-", "*", "/", "<<", ">>") and _is_var(b, rl, var):
                    step = b.expr(rr)
                    if not _mentions(step, var):
                        return bop, step
                if bop in ("+", "*") and _is_var(b, rr, var):
                    step = b.expr(rl)
                    if not _mentions(step, var):
                        return bop, step
    fail("for loop update", upd, f"expected '{var}++', '{var} += step' or similar, got '{text(upd)}'")
