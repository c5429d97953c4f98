"""Printing shared by the C, CUDA and HIP printers: expressions with C precedence, statements,
functions in dependency order, and the bookkeeping of what a module needs from its headers.

Why one base: the three targets are dialects of C; they differ in type names, qualifiers, pragmas,
a handful of call spellings and what is illegal. Subclasses override those hooks only, so that
precedence and layout rules (what makes the output readable and correct) live in one place.

Readability rules: 4-space indentation, braces always, parentheses only where C precedence needs
them, except around mixed ``&&``/``||``, around operands of shifts and bitwise operators that are
other operators, around chained comparisons (the cases gcc's ``-Wparentheses`` flags) and around
byte-view loads used as operands.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple, Sequence, Union

import numpy as np

from passes import ir, typeinfer
from passes.mathfuncs import MATH_FUNCS

INDENT = "    "
WRAP_AT = 100  # signatures longer than this wrap their parameter list

# C precedence levels: larger binds tighter.
BINARY_PREC = {
    "||": 4, "&&": 5, "|": 6, "^": 7, "&": 8, "==": 9, "!=": 9,
    "<": 10, "<=": 10, ">": 10, ">=": 10, "<<": 11, ">>": 11,
    "+": 12, "-": 12, "*": 13, "/": 13, "%": 13,
}
TERNARY_PREC = 3
UNARY_PREC = 15
ATOM_PREC = 17

ARITH_OPS = frozenset("+-*/%")
SHIFT_OPS = frozenset({"<<", ">>"})
BITWISE_OPS = frozenset("&|^")
LOGICAL_OPS = frozenset({"&&", "||"})
COMPARE_OPS = frozenset({"<", "<=", ">", ">=", "==", "!="})
COMPOUND_OPS = ARITH_OPS | SHIFT_OPS | BITWISE_OPS

# Scalar type names common to every target (subclasses add bool/f16/bf16).
COMMON_TYPES = {
    "i8": "int8_t", "u8": "uint8_t", "i16": "int16_t", "u16": "uint16_t", "i32": "int",
    "u32": "unsigned int", "i64": "long long", "u64": "unsigned long long", "f32": "float",
    "f64": "double", "void": "void",
}

X86_PREFIXES = ("_mm", "_tile_", "_cvtss_sh", "_cvtsh_ss")
GPU_PRIMITIVE_PREFIXES = (
    "__shfl", "atomic", "__ballot", "__any_sync", "__all_sync", "__activemask", "__ldg", "__dp4a",
    "__popc", "__ffs", "__clz", "__syncwarp", "wmma::", "nvcuda::", "__builtin_amdgcn",
)


def is_x86_intrinsic(name: str) -> bool:
    return name.startswith(X86_PREFIXES)


def is_gpu_primitive(name: str) -> bool:
    return name.startswith(GPU_PRIMITIVE_PREFIXES)


def header_name(include: str) -> str:
    """``<stdint.h>``, ``"stdint.h"`` and ``stdint.h`` all name the same header."""
    return include.strip().strip("<>\"")


class Printed(NamedTuple):
    """Text of an expression and the precedence of its outermost operator."""

    text: str
    prec: int


class BasePrinter:
    """Prints one module (or function, or expression) for one platform; create one per call.

    Call sequence: ``module()`` prints every function (which records in ``needs`` the features
    used: math, bool, f16, x86 intrinsics, integer min/max helpers...), then asks ``preamble()``
    for the includes and helpers those features require."""

    platform = ""
    restrict = "restrict"
    bool_true, bool_false = "true", "false"
    # functions converting a 16-bit float type (to float, from float); absent/None = a C cast
    conversions: dict[str, Union[tuple[str, str], None]] = {}
    empty_params = ""

    def __init__(self) -> None:
        self.needs: set[str] = set()
        self.functions: set[str] = set()
        self.fn_kind = ir.KERNEL
        self.line = 0
        self.env: dict[str, str] = {}  # names of the function being printed -> dtype

    # ------------------------------------------------------------------ errors and types

    def unsupported(self, construct: str, detail: str) -> ir.UnsupportedConstruct:
        return ir.UnsupportedConstruct(f"{construct} on {self.platform}", self.line, detail)

    def scalar_type(self, dtype: str) -> str:
        """Type names that differ per target (bool, f16, bf16); the rest are common."""
        raise NotImplementedError

    def type_name(self, dtype: str) -> str:
        if dtype.startswith("opaque:"):
            return dtype[len("opaque:"):]
        if dtype in ("bool", "f16", "bf16"):
            self.needs.add(dtype)
            return self.scalar_type(dtype)
        if dtype in COMMON_TYPES:
            return COMMON_TYPES[dtype]
        if ir.is_vector(dtype):
            self.vector_used(dtype)
            return "__" + dtype if dtype in ir.VECTOR_DTYPES else "__m" + dtype
        raise ir.UnsupportedConstruct(f"dtype {dtype!r}", self.line)

    def vector_used(self, what: str) -> None:
        """Hook: an x86 vector type or intrinsic appears (legal on C only)."""
        self.needs.add("x86")

    # ------------------------------------------------------------------ expressions

    def expr(self, e: ir.Expr) -> str:
        return self.pexpr(e).text

    def pexpr(self, e: ir.Expr) -> Printed:
        if isinstance(e, ir.Const):
            return self.const(e)
        if isinstance(e, ir.Var):
            return Printed(e.name, ATOM_PREC)
        if isinstance(e, ir.Builtin):
            return self.builtin(e)
        if isinstance(e, ir.BinOp):
            return self.binop(e)
        if isinstance(e, ir.UnOp):
            return self.unop(e)
        if isinstance(e, ir.Select):
            return self.select(e)
        if isinstance(e, ir.Cast):
            return self.cast(e)
        if isinstance(e, ir.Load):
            return self.load(e)
        if isinstance(e, ir.AddressOf):
            if e.indices == (ir.Const(0),):  # a whole flat buffer passed on: just its name
                return Printed(e.buffer, ATOM_PREC)
            return Printed("&" + self.element(e.buffer, e.indices), UNARY_PREC)
        if isinstance(e, ir.Call):
            return self.call(e)
        raise TypeError(f"not an IR expression: {e!r}")

    def const(self, c: ir.Const) -> Printed:
        v, dt = c.value, c.dtype
        if dt == "bool" or isinstance(v, bool):
            if dt == "bool":
                self.needs.add("bool")
                return Printed(self.bool_true if v else self.bool_false, ATOM_PREC)
            v = int(v)
        if ir.is_float(dt):
            text = float_literal(float(v), dt)
            if "INFINITY" in text or "NAN" in text:
                self.needs.add("math")
            if dt in ("f16", "bf16"):
                return self.cast(ir.Cast(dt, ir.Const(float(v), "f32")))
            return Printed(text, UNARY_PREC if text.startswith("-") else ATOM_PREC)
        text = int_literal(int(v), dt)
        return Printed(text, UNARY_PREC if text.startswith(("-", "(")) else ATOM_PREC)

    def builtin(self, b: ir.Builtin) -> Printed:
        return Printed(b.name, ATOM_PREC)

    def operand(self, e: ir.Expr, parent: str, right: bool) -> str:
        p = BINARY_PREC[parent]
        sub = self.pexpr(e)
        needs = sub.prec < p or (right and sub.prec == p) or clarify(parent, e)
        return f"({sub.text})" if needs else sub.text

    def binop(self, e: ir.BinOp) -> Printed:
        if e.op not in BINARY_PREC:
            raise ir.UnsupportedConstruct(f"binary operator {e.op!r}", self.line)
        left = self.operand(e.a, e.op, right=False)
        right = self.operand(e.b, e.op, right=True)
        return Printed(f"{left} {e.op} {right}", BINARY_PREC[e.op])

    def unop(self, e: ir.UnOp) -> Printed:
        if e.op not in ("-", "!", "~", "+"):
            raise ir.UnsupportedConstruct(f"unary operator {e.op!r}", self.line)
        sub = self.pexpr(e.a)
        # ``- -x`` must not become ``--x``
        if sub.prec < UNARY_PREC or (e.op in "-+" and sub.text.startswith(e.op)):
            return Printed(f"{e.op}({sub.text})", UNARY_PREC)
        return Printed(e.op + sub.text, UNARY_PREC)

    def select(self, e: ir.Select) -> Printed:
        parts = []
        for sub_e in (e.cond, e.a, e.b):
            sub = self.pexpr(sub_e)
            # nested conditionals and assignments-level operands read better wrapped
            parts.append(f"({sub.text})" if sub.prec <= TERNARY_PREC else sub.text)
        return Printed(f"{parts[0]} ? {parts[1]} : {parts[2]}", TERNARY_PREC)

    def cast(self, e: ir.Cast) -> Printed:
        """``(T)x``, except conversions from/to 16-bit floats where the target has functions
        for them (going through float, which holds every f16/bf16 value exactly)."""
        src = typeinfer.dtype_of(e.a, self.env)
        if src != e.dtype and self.conversions.get(src):
            to_float = self.conversions[src][0]  # type: ignore[index]
            inner = ir.Call(to_float, (e.a,), "f32")
            return self.pexpr(inner if e.dtype == "f32" else ir.Cast(e.dtype, inner))
        if src != e.dtype and self.conversions.get(e.dtype):
            from_float = self.conversions[e.dtype][1]  # type: ignore[index]
            arg = e.a if src == "f32" else ir.Cast("f32", e.a)
            self.type_name(e.dtype)  # records the header or helpers of the type
            return Printed(f"{from_float}({self.expr(arg)})", ATOM_PREC)
        return self.c_cast(e)

    def c_cast(self, e: ir.Cast) -> Printed:
        sub = self.pexpr(e.a)
        inner = sub.text if sub.prec >= UNARY_PREC else f"({sub.text})"
        return Printed(f"({self.type_name(e.dtype)}){inner}", UNARY_PREC)

    def element(self, buffer: str, indices: Sequence[ir.Expr]) -> str:
        return buffer + "".join(f"[{self.expr(i)}]" for i in indices)

    def load(self, e: ir.Load) -> Printed:
        if e.view is None:
            return Printed(self.element(e.buffer, e.indices), ATOM_PREC)
        t = self.type_name(e.view)
        return Printed(f"*(const {t}*)&{self.element(e.buffer, e.indices)}", UNARY_PREC)

    def args(self, args: Sequence[ir.Expr]) -> str:
        return ", ".join(self.expr(a) for a in args)

    def call(self, e: ir.Call) -> Printed:
        if e.name in self.functions:
            return Printed(f"{e.name}({self.args(e.args)})", ATOM_PREC)
        if e.name in MATH_FUNCS:
            return self.math_call(e)
        if is_x86_intrinsic(e.name):
            self.vector_used(e.name)
        elif is_gpu_primitive(e.name):
            return self.gpu_primitive(e)
        return Printed(f"{e.name}({self.args(e.args)})", ATOM_PREC)

    def gpu_primitive(self, e: ir.Call) -> Printed:
        return Printed(f"{e.name}({self.args(e.args)})", ATOM_PREC)

    def math_call(self, e: ir.Call) -> Printed:
        f = MATH_FUNCS[e.name]
        if len(e.args) != f.arity:
            raise ir.UnsupportedConstruct(f"{e.name} with {len(e.args)} arguments", self.line)
        if ir.is_int(e.dtype) and f.int_ok:
            return self.int_math(e)
        self.needs.add("math")
        spelling = f.spelling(self.platform, e.dtype)
        if "/" in spelling:  # rsqrt on C: "1.0f/sqrtf"
            num, fn = spelling.split("/")
            return Printed(f"{num} / {fn}({self.expr(e.args[0])})", BINARY_PREC["/"])
        if "(" in spelling:  # a template over x, such as copysignf(1.0f, x)
            arg = self.expr(e.args[0])
            return Printed(re.sub(r"\bx\b", lambda _m: arg, spelling), ATOM_PREC)
        return Printed(f"{spelling}({self.args(e.args)})", ATOM_PREC)

    def int_math(self, e: ir.Call) -> Printed:
        """Integer max/min/abs; targets differ (C has no integer max)."""
        raise NotImplementedError

    def int_abs(self, e: ir.Call) -> Printed:
        arg = self.expr(e.args[0])
        if e.dtype.startswith("u") or e.dtype == "bool":
            return self.pexpr(e.args[0])  # |x| of an unsigned value is x
        self.needs.add("stdlib")
        return Printed(f"{'llabs' if e.dtype == 'i64' else 'abs'}({arg})", ATOM_PREC)

    # ------------------------------------------------------------------ statements

    def block(self, body: Sequence[ir.Stmt], depth: int) -> list[str]:
        lines: list[str] = []
        for s in body:
            lines.extend(self.stmt(s, depth))
        return lines

    def stmt(self, s: ir.Stmt, depth: int) -> list[str]:
        ind = INDENT * depth
        if isinstance(s, ir.Decl):
            return [ind + self.decl(s)]
        if isinstance(s, ir.Assign):
            return [ind + self.assign(s.name, s, s.value)]
        if isinstance(s, ir.Store):
            if s.view is None:
                lhs = self.element(s.buffer, s.indices)
            else:
                lhs = f"*({self.type_name(s.view)}*)&{self.element(s.buffer, s.indices)}"
            return [ind + self.assign(lhs, s, s.value)]
        if isinstance(s, ir.ExprStmt):
            return [f"{ind}{self.expr(s.expr)};"]
        if isinstance(s, ir.For):
            return self.for_loop(s, depth)
        if isinstance(s, ir.While):
            return [f"{ind}while ({self.expr(s.cond)}) {{", *self.block(s.body, depth + 1), ind + "}"]
        if isinstance(s, ir.If):
            return self.if_chain(s, depth)
        if isinstance(s, ir.Sync):
            return [ind + self.sync(s)]
        if isinstance(s, ir.Return):
            return [ind + ("return;" if s.value is None else f"return {self.expr(s.value)};")]
        if isinstance(s, ir.Break):
            return [ind + "break;"]
        if isinstance(s, ir.Continue):
            return [ind + "continue;"]
        if isinstance(s, ir.Launch):
            return [ind + self.launch(s)]
        raise TypeError(f"not an IR statement: {s!r}")

    def assign(self, lhs: str, target: ir.Assign | ir.Store, value: ir.Expr) -> str:
        """``lhs = value``, or ``lhs op= rest`` when value is ``target op rest`` (same meaning)."""
        if isinstance(value, ir.BinOp) and value.op in COMPOUND_OPS and reads_target(value.a, target):
            return f"{lhs} {value.op}= {self.expr(value.b)};"
        return f"{lhs} = {self.expr(value)};"

    def decl_prefix(self, s: ir.Decl) -> str:
        """Storage qualifiers of a declaration (``__shared__`` on GPUs)."""
        raise NotImplementedError

    def decl(self, s: ir.Decl) -> str:
        prefix = self.decl_prefix(s) + ("const " if s.const else "")
        dims = "".join("[]" if d < 0 else f"[{d}]" for d in s.shape)
        text = f"{prefix}{self.type_name(s.dtype)} {s.name}{dims}"
        if isinstance(s.init, tuple):
            text += " = {" + self.args(s.init) + "}"
        elif s.init is not None:
            text += " = " + self.expr(s.init)
        return text + ";"

    def for_loop(self, s: ir.For, depth: int) -> list[str]:
        ind = INDENT * depth
        var = ir.Var(s.var, s.var_dtype)
        cond = self.expr(ir.BinOp(s.cmp, var, s.bound))
        if s.update in "+-" and isinstance(s.step, ir.Const) and s.step.value == 1:
            update = s.var + s.update * 2
        else:
            update = f"{s.var} {s.update}= {self.expr(s.step)}"
        header = f"for ({self.type_name(s.var_dtype)} {s.var} = {self.expr(s.init)}; {cond}; {update}) {{"
        pre = [ind + p for p in self.loop_pragmas(s)]
        return [*pre, ind + header, *self.block(s.body, depth + 1), ind + "}"]

    def loop_pragmas(self, s: ir.For) -> list[str]:
        """Pragmas and comments printed above a loop, per loop kind and target."""
        if s.kind == ir.THREAD and s.binding:
            return [f"// thread loop bound to {s.binding}"]
        return []

    def if_chain(self, s: ir.If, depth: int) -> list[str]:
        ind = INDENT * depth
        lines = [f"{ind}if ({self.expr(s.cond)}) {{", *self.block(s.then, depth + 1)]
        orelse = s.orelse
        while orelse:
            if len(orelse) == 1 and isinstance(orelse[0], ir.If):
                nested = orelse[0]
                lines.append(f"{ind}}} else if ({self.expr(nested.cond)}) {{")
                lines += self.block(nested.then, depth + 1)
                orelse = nested.orelse
            else:
                lines += [f"{ind}}} else {{", *self.block(orelse, depth + 1)]
                break
        return lines + [ind + "}"]

    def sync(self, s: ir.Sync) -> str:
        raise NotImplementedError

    def launch(self, s: ir.Launch) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------------ functions and modules

    def param(self, p: ir.Param) -> str:
        const = "const " if p.const else ""
        if p.pointer:
            restrict = f" {self.restrict}" if p.restrict else ""
            return f"{const}{self.type_name(p.dtype)}*{restrict} {p.name}"
        return f"{const}{self.type_name(p.dtype)} {p.name}"

    def signature(self, fn: ir.Function) -> str:
        raise NotImplementedError

    def declarator(self, head: str, fn: ir.Function) -> str:
        """``head(params)``; a long parameter list continues on lines aligned after ``(``."""
        params = [self.param(p) for p in fn.params] or [self.empty_params]
        flat = f"{head}({', '.join(params)})"
        if len(flat) <= WRAP_AT:
            return flat
        lines, pad = [head + "(" + params[0]], " " * (len(head) + 1)
        for p in params[1:]:
            if len(lines[-1]) + len(p) + 2 > WRAP_AT:
                lines[-1] += ","
                lines.append(pad + p)
            else:
                lines[-1] += ", " + p
        return "\n".join(lines) + ")"

    def function(self, fn: ir.Function) -> str:
        self.fn_kind, self.line = fn.kind, fn.line
        self.env = typeinfer.type_env(fn)
        body = self.block(fn.body, 1)
        return "\n".join([self.signature(fn) + " {", *body, "}"])

    def preamble(self, module: ir.Module) -> list[str]:
        """Include lines and helper definitions, computed after the functions were printed."""
        raise NotImplementedError

    def foreign_header(self, name: str) -> bool:
        """True for a header of another target (dropped from Module.includes)."""
        raise NotImplementedError

    def includes(self, required: Sequence[str], module: ir.Module) -> list[str]:
        names: list[str] = list(required)
        for inc in module.includes:
            name = header_name(inc)
            if name and not self.foreign_header(name) and name not in names:
                names.append(name)
        quoted = {header_name(i) for i in module.includes if i.strip().startswith('"')}
        return [f'#include "{n}"' if n in quoted else f"#include <{n}>" for n in names]

    def module(self, module: ir.Module) -> str:
        self.functions = {f.name for f in module.functions}
        ordered, cyclic = order_functions(module)
        bodies = [self.function(f) for f in ordered]
        protos = [self.signature(f) + ";" for f in ordered if f.kind != ir.KERNEL] if cyclic else []
        head = self.preamble(module)
        parts = ["\n".join(head)]
        if protos:
            parts.append("\n".join(protos))
        return "\n\n".join(parts + bodies) + "\n"


# ---------------------------------------------------------------------- helpers


def clarify(parent: str, child: ir.Expr) -> bool:
    """Extra parentheses for readability where precedence alone would allow none."""
    if isinstance(child, ir.Load) and child.view is not None:
        return True  # ``*(const int*)&q[i] != 0`` is easier to read with the load wrapped
    if isinstance(child, ir.UnOp) and child.op == "!":
        # ``!a == b`` and ``!a & b`` read as if ``!`` applied to the whole operation
        return parent in COMPARE_OPS or parent in BITWISE_OPS
    if not isinstance(child, ir.BinOp):
        return False
    if parent in COMPARE_OPS:
        return child.op in COMPARE_OPS  # ``a < b < c`` is not the mathematical chain
    if child.op == parent:
        return False
    if parent in LOGICAL_OPS:
        return child.op in LOGICAL_OPS
    if parent in SHIFT_OPS or parent in BITWISE_OPS:
        return True
    return False


def reads_target(e: ir.Expr, target: ir.Assign | ir.Store) -> bool:
    """True when ``e`` reads exactly what ``target`` writes (dtypes of ``Var`` may differ)."""
    if isinstance(target, ir.Assign):
        return isinstance(e, ir.Var) and e.name == target.name
    return isinstance(e, ir.Load) and (e.buffer, e.indices, e.view) == (
        target.buffer, target.indices, target.view)


def int_literal(value: int, dtype: str) -> str:
    """Integer constant: plain for int, ``u`` for unsigned, ``LL``/``ULL`` for 64-bit."""
    if dtype.startswith("u"):
        suffix = "ull" if dtype == "u64" else "u"
        value &= (1 << ir.DTYPE_BITS[dtype]) - 1 if dtype in ir.DTYPE_BITS else -1
        body = hex(value) if value > 0xFFFF else str(value)
        return body + suffix
    suffix = "LL" if dtype == "i64" else ""
    limit = 1 << (63 if dtype == "i64" else 31)
    if value == -limit:  # -2147483648 is the negation of a literal too big for int
        return f"({-limit + 1}{suffix} - 1{suffix})"
    return f"{value}{suffix}"


def float_literal(value: float, dtype: str) -> str:
    """Shortest text that reads back as the same value of ``dtype`` (``f`` suffix below f64)."""
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INFINITY" if value > 0 else "-INFINITY"
    if dtype == "f64":
        text, suffix = repr(value), ""
    else:
        text, suffix = str(np.float32(value)), "f"
    if "." not in text and "e" not in text:
        text += ".0"
    return text + suffix


def callees(fn: ir.Function) -> list[str]:
    names: list[str] = []
    for node in ir.walk(fn):
        name = node.name if isinstance(node, ir.Call) else None
        if isinstance(node, ir.Launch):
            name = node.kernel
        if name is not None and name not in names:
            names.append(name)
    return names


def order_functions(module: ir.Module) -> tuple[list[ir.Function], bool]:
    """Functions with every callee before its callers (source order otherwise kept); the flag
    says whether the call graph has a cycle (then prototypes are needed)."""
    by_name = {f.name: f for f in module.functions}
    done: set[str] = set()
    active: set[str] = set()
    out: list[ir.Function] = []
    cyclic = False

    def visit(fn: ir.Function) -> None:
        nonlocal cyclic
        if fn.name in done:
            return
        if fn.name in active:
            cyclic = True
            return
        active.add(fn.name)
        for name in callees(fn):
            if name in by_name:
                visit(by_name[name])
        active.discard(fn.name)
        done.add(fn.name)
        out.append(fn)

    for fn in module.functions:
        visit(fn)
    return out, cyclic
