"""Expressions: CST expression nodes -> IR expressions, with pointers resolved to buffer positions.

Why: the IR has no pointers. A pointer value of the source (a buffer parameter, ``&A[i]``,
``x + i*n``, ``(const int*)A``, a local ``const float* row``) is tracked as a ``PtrVal`` (buffer,
element position, view type) while an expression is translated, and disappears when it is used:
dereferenced (``Load`` / store target), passed to a call (``AddressOf``) or rejected.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Union

from tree_sitter import Node

from passes import ir, typeinfer
from passes.frontend import literals
from passes.frontend.context import ModuleContext, Signature
from passes.frontend.cst import fail, field, named, need_field, text
from passes.frontend.scope import ARRAY, BUFFER, DIM3, FRAGMENT, POINTER, SCALAR, PtrVal, Scopes, Symbol
from passes.frontend.types import abstract_pointer, base_dtype, dtype_size

Value = Union[ir.Expr, PtrVal]

BINARY_OPS = frozenset({"+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "<", "<=", ">", ">=",
                        "==", "!=", "&&", "||"})

_INF = float("inf")
KNOWN_CONSTANTS: dict[str, ir.Const] = {
    "INFINITY": ir.Const(_INF, "f32"), "HUGE_VALF": ir.Const(_INF, "f32"),
    "HUGE_VAL": ir.Const(_INF, "f64"), "CUDART_INF_F": ir.Const(_INF, "f32"),
    "FLT_MAX": ir.Const(3.4028234663852886e38, "f32"),
    "FLT_MIN": ir.Const(1.1754943508222875e-38, "f32"),
    "FLT_EPSILON": ir.Const(1.1920928955078125e-07, "f32"),
    "DBL_MAX": ir.Const(1.7976931348623157e308, "f64"),
    "M_PI": ir.Const(math.pi, "f64"), "M_E": ir.Const(math.e, "f64"),
    "M_SQRT2": ir.Const(math.sqrt(2), "f64"),
    "M_SQRT1_2": ir.Const(math.sqrt(0.5), "f64"), "M_2_SQRTPI": ir.Const(2 / math.sqrt(math.pi), "f64"),
    "M_LN2": ir.Const(math.log(2), "f64"), "M_LOG2E": ir.Const(1 / math.log(2), "f64"),
    "M_PI_2": ir.Const(math.pi / 2, "f64"), "M_PI_4": ir.Const(math.pi / 4, "f64"),
    "M_1_PI": ir.Const(1 / math.pi, "f64"), "M_2_PI": ir.Const(2 / math.pi, "f64"),
    "INT_MAX": ir.Const(2**31 - 1, "i32"), "INT_MIN": ir.Const(-(2**31), "i32"),
    "UINT_MAX": ir.Const(2**32 - 1, "u32"),
}
_HIP_BUILTINS = {f"hip{b[0].upper()}{b[1:]}_{a}": f"{b}.{a}" for b in
                 ("threadIdx", "blockIdx", "blockDim", "gridDim") for a in "xyz"}


def add(a: ir.Expr, b: ir.Expr) -> ir.Expr:
    """``a + b`` without the ``0 + i`` noise that pointer arithmetic would leave in indices."""
    if isinstance(a, ir.Const) and a.value == 0 and a.dtype == "i32" and not isinstance(a.value, float):
        return b
    if isinstance(b, ir.Const) and b.value == 0 and b.dtype == "i32" and not isinstance(b.value, float):
        return a
    if (isinstance(a, ir.Const) and isinstance(b, ir.Const) and a.dtype == b.dtype == "i32"
            and isinstance(a.value, int) and isinstance(b.value, int)):
        return ir.Const(a.value + b.value, "i32")
    return ir.BinOp("+", a, b)


def const_value(e: ir.Expr) -> int | float | None:
    """Fold an expression of constants (``#define`` values, array sizes); None if not constant."""
    if isinstance(e, ir.Const):
        return e.value
    if isinstance(e, ir.Cast):
        v = const_value(e.a)
        if v is None:
            return None
        return float(v) if ir.is_float(e.dtype) else int(v)
    if isinstance(e, ir.UnOp):
        v = const_value(e.a)
        if v is None:
            return None
        return {"-": lambda: -v, "!": lambda: int(not v), "~": lambda: ~int(v)}[e.op]()
    if isinstance(e, ir.BinOp):
        a, b = const_value(e.a), const_value(e.b)
        if a is None or b is None:
            return None
        return _fold(e.op, a, b)
    if isinstance(e, ir.Select):
        c = const_value(e.cond)
        return None if c is None else const_value(e.a if c else e.b)
    return None


def _fold(op: str, a: int | float, b: int | float) -> int | float | None:
    both_int = isinstance(a, int) and isinstance(b, int)
    if op in ("/", "%") and b == 0:
        return None
    if op == "/":
        return int(a / b) if both_int else a / b
    if op == "%":
        return int(math.fmod(a, b)) if both_int else None
    ops = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
           "<": lambda: int(a < b), "<=": lambda: int(a <= b), ">": lambda: int(a > b),
           ">=": lambda: int(a >= b), "==": lambda: int(a == b), "!=": lambda: int(a != b),
           "&&": lambda: int(bool(a) and bool(b)), "||": lambda: int(bool(a) or bool(b))}
    if op in ops:
        return ops[op]()
    if not both_int:
        return None
    ia, ib = int(a), int(b)
    int_ops = {"<<": lambda: ia << ib, ">>": lambda: ia >> ib, "&": lambda: ia & ib,
               "|": lambda: ia | ib, "^": lambda: ia ^ ib}
    return int_ops[op]() if op in int_ops else None


class ExprBuilder:
    """Translates expressions of one function (``fn`` None: a ``#define`` value)."""

    def __init__(self, ctx: ModuleContext, fn: Signature | None, scopes: Scopes):
        self.ctx = ctx
        self.fn = fn
        self.kind = fn.kind if fn is not None else "const"
        self.scopes = scopes
        self.env: dict[str, str] = {}
        self.wmma_namespaces = set(ctx.wmma_namespaces)  # plus function-level using directives

    # -------------------------------------------------------------- entry points

    def declare(self, name_node: Node, sym: Symbol) -> Symbol:
        """Declare a local; a ``#define`` name cannot be one (the preprocessor would expand it)."""
        name = text(name_node)
        if name in self.ctx.defines:
            fail(f"declaration of macro name '{name}'", name_node)
        return self.scopes.declare(name, sym)

    def expr(self, node: Node) -> ir.Expr:
        """An rvalue that is a number (not a pointer)."""
        v = self.value(node)
        if isinstance(v, PtrVal):
            fail("pointer used as a value", node, text(node)[:40])
        return v

    def dtype(self, e: ir.Expr) -> str:
        return typeinfer.dtype_of(e, self.env)

    def pointer(self, node: Node) -> PtrVal:
        v = self.value(node)
        if not isinstance(v, PtrVal):
            fail("pointer expected", node, f"'{text(node)[:40]}' is not a pointer into a buffer")
        return v

    def call_arg(self, node: Node) -> ir.Expr:
        """A call argument: pointers become ``AddressOf`` of the element they point at."""
        v = self.value(node)
        if isinstance(v, PtrVal):
            return ir.AddressOf(v.buffer, v.indices)
        return v

    def const_int(self, node: Node) -> int:
        v = const_value(self.expr(node))
        if not isinstance(v, int) or isinstance(v, bool):
            fail("non-constant size", node, f"'{text(node)}' is not an integer constant")
        return v

    def element(self, node: Node) -> PtrVal:
        """The element designated by an lvalue (``A[i]``, ``s[i][j]``, ``*p``)."""
        if node.type == "parenthesized_expression":
            return self.element(named(node)[0])
        if node.type == "subscript_expression":
            ptr, is_element = self._subscript(node)
        elif node.type == "pointer_expression" and text(need_field(node, "operator")) == "*":
            ptr = self.pointer(need_field(node, "argument"))
            is_element = ptr.at_element
        else:
            fail("assignment target", node, text(node)[:40])
        if not is_element:
            fail("assignment to an array row", node, text(node)[:40])
        if ptr.view == "void":
            fail("dereference of void pointer", node)
        return ptr

    # -------------------------------------------------------------- dispatch

    def value(self, node: Node) -> Value:
        kind = node.type
        handler = getattr(self, f"_v_{kind}", None)
        if handler is None:
            fail(_NODE_NAMES.get(kind, f"expression '{kind}'"), node, text(node)[:40])
        result: Value = handler(node)
        return result

    def _v_parenthesized_expression(self, node: Node) -> Value:
        inner = named(node)
        if len(inner) != 1:
            fail("comma expression", node)
        return self.value(inner[0])

    def _v_number_literal(self, node: Node) -> Value:
        return literals.number(node)

    def _v_char_literal(self, node: Node) -> Value:
        return literals.char(node)

    def _v_true(self, node: Node) -> Value:
        return ir.Const(True, "bool")

    def _v_false(self, node: Node) -> Value:
        return ir.Const(False, "bool")

    def _v_identifier(self, node: Node) -> Value:
        name = text(node)
        if name in self.ctx.defines:
            value = self.ctx.defines[name]
            if value is None:
                fail(f"macro '{name}'", node, "defined without a value")
            return value
        sym = self.scopes.lookup(name)
        if sym is not None:
            if sym.kind == SCALAR:
                return ir.Var(sym.name, sym.dtype)
            if sym.kind in (BUFFER, ARRAY):
                ndim = max(len(sym.shape), 1)
                return PtrVal(sym.name, sym.dtype, (ir.Const(0),) * ndim)
            if sym.kind == POINTER:
                assert sym.ptr is not None
                return sym.ptr
            if sym.kind == DIM3:
                fail(f"dim3 variable '{name}' used as a value", node)
            if sym.kind == FRAGMENT:
                fail(f"WMMA fragment '{name}' used outside a wmma:: call", node)
        if name == "warpSize" and self.kind in ("kernel", "device"):
            return ir.Builtin("warpSize")
        if name in _HIP_BUILTINS and self.ctx.platform == "hip" and self.kind in ("kernel", "device"):
            return ir.Builtin(_HIP_BUILTINS[name])
        if name in KNOWN_CONSTANTS:
            return KNOWN_CONSTANTS[name]
        if name in ("NULL", "nullptr"):
            fail("null pointer", node)
        fail(f"unknown identifier '{name}'", node)

    def _v_field_expression(self, node: Node) -> Value:
        arg, fld = need_field(node, "argument"), need_field(node, "field")
        op = text(need_field(node, "operator"))
        full = f"{text(arg)}.{text(fld)}"
        if op == "." and arg.type == "identifier" and full in ir.THREAD_BUILTINS:
            if self.scopes.lookup(text(arg)) is None:
                if self.kind not in ("kernel", "device"):
                    fail(f"'{full}' outside device code", node)
                return ir.Builtin(full)
        if op == "." and arg.type == "identifier" and text(fld) in ("x", "y", "z"):
            sym = self.scopes.lookup(text(arg))
            if sym is not None and sym.kind == DIM3 and sym.dims is not None:
                return sym.dims["xyz".index(text(fld))]
        if arg.type == "identifier" and (frag := self.scopes.lookup(text(arg))) is not None \
                and frag.kind == FRAGMENT:
            fail(f"element access to WMMA fragment '{text(arg)}'", node,
                 "fragments are supported only as operands of wmma:: calls")
        fail("member access", node, text(node)[:40])

    def _v_binary_expression(self, node: Node) -> Value:
        op = text(need_field(node, "operator"))
        if op not in BINARY_OPS:
            fail(f"operator '{op}'", node)
        a, b = self.value(need_field(node, "left")), self.value(need_field(node, "right"))
        if isinstance(a, PtrVal) or isinstance(b, PtrVal):
            return self._pointer_arith(op, a, b, node)
        return ir.BinOp(op, a, b)

    def _pointer_arith(self, op: str, a: Value, b: Value, node: Node) -> Value:
        if op == "+" and isinstance(a, PtrVal) and not isinstance(b, PtrVal):
            return self.ptr_add(a, b, node)
        if op == "+" and isinstance(b, PtrVal) and not isinstance(a, PtrVal):
            return self.ptr_add(b, a, node)
        if op == "-" and isinstance(a, PtrVal) and not isinstance(b, PtrVal):
            return self.ptr_add(a, ir.UnOp("-", b), node)
        fail(f"pointer operation '{op}'", node, text(node)[:40])

    def ptr_add(self, p: PtrVal, offset: ir.Expr, node: Node) -> PtrVal:
        """``p + offset`` (offset in units of the pointed-to type)."""
        if not p.indices:
            fail("arithmetic on the address of a scalar", node)
        if p.view == "void":
            fail("arithmetic on void pointer", node)
        if p.view is not None:
            ratio_bits = ir.DTYPE_BITS[p.view]
            elem_bits = ir.DTYPE_BITS[p.elem]
            if ratio_bits % elem_bits:
                fail("pointer cast to a narrower type", node,
                     f"{p.view} elements of a {p.elem} buffer cannot be indexed")
            ratio = ratio_bits // elem_bits
            if ratio != 1:
                offset = ir.BinOp("*", offset, ir.Const(ratio))
        idx = list(p.indices)
        idx[p.depth] = add(idx[p.depth], offset)
        return replace(p, indices=tuple(idx))

    def _v_unary_expression(self, node: Node) -> Value:
        op = text(need_field(node, "operator"))
        a = self.expr(need_field(node, "argument"))
        if op == "+":
            return a
        if op == "-" and isinstance(a, ir.Const) and not isinstance(a.value, bool) and (
                ir.is_float(a.dtype) or a.dtype in ("i32", "i64")):
            return ir.Const(-a.value, a.dtype)
        if op not in ("-", "!", "~"):
            fail(f"operator '{op}'", node)
        return ir.UnOp(op, a)

    def _v_pointer_expression(self, node: Node) -> Value:
        op = text(need_field(node, "operator"))
        arg = need_field(node, "argument")
        if op == "&":
            return self._address_of(arg)
        ptr = self.pointer(arg)
        if not ptr.indices:
            fail("dereference of the address of a scalar", node)
        if ptr.at_element:
            if ptr.view == "void":
                fail("dereference of void pointer", node)
            return self.load(ptr, node)
        return replace(ptr, depth=ptr.depth + 1)

    def _address_of(self, arg: Node) -> Value:
        if arg.type == "identifier":
            sym = self.scopes.lookup(text(arg))
            if sym is not None and sym.kind == SCALAR and sym.scope == ir.SHARED:
                return PtrVal(sym.name, sym.dtype, ())
            fail("address of a variable", arg, text(arg))
        if arg.type == "parenthesized_expression":
            return self._address_of(named(arg)[0])
        return self.element(arg)

    def load(self, ptr: PtrVal, node: Node) -> ir.Expr:
        if self.kind == "host":
            fail("buffer access in a host function", node, text(node)[:40])
        return ir.Load(ptr.buffer, ptr.indices, ptr.view)

    def _subscript(self, node: Node) -> tuple[PtrVal, bool]:
        """Pointer to ``base[index]`` and whether it designates an element (not a row)."""
        base = self.pointer(need_field(node, "argument"))
        idx_nodes = named(need_field(node, "indices"))
        if len(idx_nodes) != 1:
            fail("subscript with several indices", node)
        ptr = self.ptr_add(base, self.expr(idx_nodes[0]), node)
        if base.at_element:
            return ptr, True
        return replace(ptr, depth=ptr.depth + 1), False

    def _v_subscript_expression(self, node: Node) -> Value:
        ptr, is_element = self._subscript(node)
        if not is_element:
            return ptr
        if ptr.view == "void":
            fail("dereference of void pointer", node)
        return self.load(ptr, node)

    def _v_conditional_expression(self, node: Node) -> Value:
        return ir.Select(self.expr(need_field(node, "condition")),
                         self.expr(need_field(node, "consequence")),
                         self.expr(need_field(node, "alternative")))

    def _v_cast_expression(self, node: Node) -> Value:
        return self.cast(need_field(node, "type"), need_field(node, "value"), node)

    def cast(self, descriptor: Node, value_node: Node, node: Node) -> Value:
        dtype = base_dtype(need_field(descriptor, "type"))
        if abstract_pointer(descriptor):
            ptr = self.pointer(value_node)
            if not ptr.at_element:
                fail("cast of a multi-dimensional array to a pointer", node)
            return replace(ptr, view=None if dtype == ptr.elem else dtype)
        if dtype == "void":
            fail("cast to void", node)
        return ir.Cast(dtype, self.expr(value_node))

    def _v_sizeof_expression(self, node: Node) -> Value:
        desc = field(node, "type")
        if desc is not None:
            if abstract_pointer(desc):
                return ir.Const(8, "u64")
            return ir.Const(dtype_size(base_dtype(need_field(desc, "type"))), "u64")
        v = self.value(need_field(node, "value"))
        if isinstance(v, PtrVal):
            fail("sizeof of a pointer or array", node)
        return ir.Const(dtype_size(self.dtype(v)), "u64")

    def _v_call_expression(self, node: Node) -> Value:
        from passes.frontend.callexpr import call_expression  # split out to keep modules small

        return call_expression(self, node)


_NODE_NAMES = {
    "assignment_expression": "assignment inside an expression",
    "update_expression": "increment inside an expression",
    "comma_expression": "comma expression",
    "string_literal": "string literal",
    "concatenated_string": "string literal",
    "initializer_list": "initializer list",
    "compound_literal_expression": "compound literal",
    "lambda_expression": "lambda",
    "new_expression": "new",
    "delete_expression": "delete",
    "null": "null pointer",
    "nullptr": "null pointer",
}
