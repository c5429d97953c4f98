"""Call expressions: casts spelled as calls, math functions, GPU primitives, intrinsics, helpers.

Why: in C-like sources, very different things are written as calls; each must become the IR
node that keeps its meaning (``__half2float`` is a ``Cast``, ``__ldg`` a ``Load``, ``expf`` the
canonical ``exp`` in f32, HIP's ``__shfl_down`` CUDA's ``__shfl_down_sync``), and a call the
front end does not know is an error rather than an opaque call that would fail much later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tree_sitter import Node

from passes import ir, typeinfer
from passes.frontend import calls, wmma
from passes.frontend.cst import fail, named, need_field, text
from passes.frontend.types import dtype_of_spelling, is_type_name
from passes.mathfuncs import MATH_FUNCS, SPELLINGS

if TYPE_CHECKING:
    from passes.frontend.expressions import ExprBuilder, Value

FULL_MASK = ir.Const(0xFFFFFFFF, "u32")
_CASTS = ("static_cast", "reinterpret_cast", "const_cast")


def call_expression(b: ExprBuilder, node: Node) -> Value:
    fn_node = need_field(node, "function")
    if any(c.type == "kernel_call_syntax" for c in node.children):
        fail("kernel launch inside an expression", node)
    args = named(need_field(node, "arguments"))
    if fn_node.type == "template_function":
        name = text(need_field(fn_node, "name"))
        targs = named(need_field(fn_node, "arguments"))
        if name in _CASTS and len(targs) == 1 and targs[0].type == "type_descriptor" and len(args) == 1:
            return b.cast(targs[0], args[0], node)
        fail(f"template call '{text(fn_node)[:40]}'", node)
    if fn_node.type == "parenthesized_expression" and len(args) == 1:
        # ``(__mmask16)(x)``: the grammar reads a cast to a typedef'd name as a call
        inner = named(fn_node)
        if (len(inner) == 1 and inner[0].type == "identifier" and is_type_name(text(inner[0]))
                and b.scopes.lookup(text(inner[0])) is None):
            return ir.Cast(dtype_of_spelling(text(inner[0]), inner[0]), b.expr(args[0]))
    wmma_name = wmma.call_name(fn_node, b)
    if wmma_name is not None:
        return wmma.call(b, wmma_name, args, node)
    if fn_node.type != "identifier":
        fail(f"call of '{text(fn_node)[:40]}'", node)
    name = text(fn_node)
    if name in ("printf", "fprintf", "puts", "assert"):
        fail(name, node)
    if name in ("__syncthreads", "__syncwarp"):
        fail(f"{name} inside an expression", node)
    if name in b.ctx.functions:
        return _helper_call(b, name, args, node)
    if b.kind == "host" and name not in SPELLINGS:
        fail(f"call to '{name}' in a host function", node)
    if name in SPELLINGS:
        return _math_call(b, name, args, node)
    gpu = b.ctx.platform in ("cuda", "hip")
    if gpu and name in calls.CONVERSIONS:
        _arity(name, args, (1,), node)
        return ir.Cast(calls.CONVERSIONS[name], b.expr(args[0]))
    if gpu and name in calls.ARITH:
        _arity(name, args, (2,), node)
        return ir.BinOp(calls.ARITH[name], b.expr(args[0]), b.expr(args[1]))
    if gpu and name in calls.GPU_ONLY:
        return _gpu_primitive(b, name, args, node)
    if calls.is_intrinsic(name):
        if gpu:
            fail(f"x86 intrinsic '{name}' in {b.ctx.platform} code", node)
        result = calls.intrinsic_result(name)
        if result is None:
            fail(f"intrinsic '{name}'", node, "unknown result type")
        return ir.Call(name, tuple(b.call_arg(a) for a in args), result)
    fail(f"call to unknown function '{name}'", node)


def _arity(name: str, args: list[Node], allowed: tuple[int, ...], node: Node) -> None:
    if len(args) not in allowed:
        fail(f"call to '{name}'", node, f"expects {' or '.join(map(str, allowed))} arguments")


def _helper_call(b: ExprBuilder, name: str, args: list[Node], node: Node) -> ir.Expr:
    sig = b.ctx.functions[name]
    if sig.kind == ir.KERNEL and b.ctx.platform != "cpu":
        fail(f"call of kernel '{name}' without a launch", node)
    if sig.kind == ir.HOST and b.kind in ("kernel", "device"):
        fail(f"call of host function '{name}' from device code", node)
    if b.kind == "host":
        fail(f"call to '{name}' in a host function", node)
    _arity(name, args, (len(sig.params),), node)
    out: list[ir.Expr] = []
    for param, arg in zip(sig.params, args):
        if not param.pointer:
            out.append(b.expr(arg))
            continue
        ptr = b.pointer(arg)
        if ptr.view is not None or ptr.elem != param.dtype:
            fail(f"pointer of another type passed to '{name}'", arg,
                 f"parameter '{param.name}' is {param.dtype}*")
        if not ptr.at_element and ptr.indices:
            fail(f"array row passed to '{name}'", arg)
        out.append(ir.AddressOf(ptr.buffer, ptr.indices))
    return ir.Call(name, tuple(out), sig.ret_dtype)


def _math_call(b: ExprBuilder, name: str, args: list[Node], node: Node) -> ir.Expr:
    canonical = SPELLINGS[name]
    _arity(name, args, (MATH_FUNCS[canonical].arity,), node)
    values = [b.expr(a) for a in args]
    dtype = calls.math_dtype(name, [b.dtype(v) for v in values], b.ctx.platform)
    if b.ctx.platform == "cpu" and name == "abs":  # C's abs takes an int: the argument converts
        values = [v if ir.is_int(b.dtype(v)) else ir.Cast("i32", v) for v in values]
    return ir.Call(canonical, tuple(values), dtype)


def _gpu_primitive(b: ExprBuilder, name: str, args: list[Node], node: Node) -> ir.Expr:
    if name == "__ldg":
        _arity(name, args, (1,), node)
        ptr = b.pointer(args[0])
        if not ptr.at_element or ptr.view == "void":
            fail("__ldg of something other than a buffer element", node)
        return b.load(ptr, node)
    if name in calls.HIP_SHUFFLES:
        _arity(name, args, (2, 3), node)
        rest = tuple(b.expr(a) for a in args)
        return ir.Call(calls.HIP_SHUFFLES[name], (FULL_MASK, *rest), b.dtype(rest[0]))
    if name in calls.SHUFFLES:
        _arity(name, args, (3, 4), node)
        values = tuple(b.expr(a) for a in args)
        return ir.Call(name, values, b.dtype(values[1]))
    if name in calls.ATOMICS:
        _arity(name, args, (3,) if name == "atomicCAS" else (2,), node)
        ptr = b.pointer(args[0])
        if ptr.view is not None:
            fail(f"{name} through a pointer cast", node)
        if ptr.indices and not ptr.at_element:
            fail(f"{name} on an array row", node)
        rest = tuple(b.expr(a) for a in args[1:])
        return ir.Call(name, (ir.AddressOf(ptr.buffer, ptr.indices), *rest), ptr.elem)
    if name in calls.FIXED:
        dtype, arity = calls.FIXED[name]
        _arity(name, args, (arity,), node)
        return ir.Call(name, tuple(b.expr(a) for a in args), dtype)
    if name == "__dp4a":
        _arity(name, args, (3,), node)
        values = tuple(b.expr(a) for a in args)
        dtype = typeinfer.promote(b.dtype(values[2]), b.dtype(values[2]))
        return ir.Call(name, values, dtype)
    fail(f"call to '{name}'", node)
