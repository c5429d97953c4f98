"""A small numpy interpreter of the IR, with C's integer and floating-point semantics.

Why: the intrinsic semantics table (``passes/intrinsics.py``) and every pass that rewrites
statements need an executable meaning of the IR that does not depend on a compiler: the
templates are checked against the real intrinsics through it, a pass is checked by running the
program before and after it on the same data, and symbolic repair can use it to test candidate
fillings. It is deliberately a straightforward tree walker: kernels it runs are small.

Value model:
- scalars are numpy scalars of their declared dtype (``np.int32``, ``np.float32`` ...), so a
  value carries its C type; integer arithmetic is done on Python ints and wrapped to the C result
  type (unsigned and signed alike wrap, division truncates toward zero); float arithmetic is done
  by numpy in the operand precision, which is IEEE round-to-nearest like C without fast-math;
- arrays (global buffers and local arrays) are numpy arrays; ``Load``/``Store`` with a ``view``
  reinterpret the bytes at the element's address, exactly like ``*(int*)&a[i]``;
- x86 vector variables use the detensorised storage (``m512`` = ``f32[16]``, ``m512i`` =
  ``u8[64]``...; see ``passes/intrinsics.py``) and mask variables are unsigned scalars, so the
  original and the detensorised programs share one memory model.

Calls to math functions use ``passes/mathfuncs.py``; any other call is looked up in the
``calls`` mapping given to the evaluator (``passes.intrinsics.evaluation_handlers()`` supplies
the intrinsics), and an unknown call is an ``EvalError``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from passes import ir, typeinfer
from passes.mathfuncs import MATH_FUNCS

CallHandler = Callable[["Evaluator", ir.Call], Any]

_NP_TO_IR = {np.dtype(v): k for k, v in ir.NUMPY_DTYPES.items() if k != "bool"}
_NP_TO_IR[np.dtype("bool")] = "bool"

# Storage of the x86 vector register types and masks (kept in sync with passes/intrinsics.py,
# which imports these so there is one definition).
VECTOR_STORAGE: dict[str, tuple[str, int]] = {
    "m128": ("f32", 4), "m256": ("f32", 8), "m512": ("f32", 16),
    "m128d": ("f64", 2), "m256d": ("f64", 4), "m512d": ("f64", 8),
    "m128i": ("u8", 16), "m256i": ("u8", 32), "m512i": ("u8", 64),
}
MASK_STORAGE: dict[str, str] = {"mask8": "u8", "mask16": "u16", "mask32": "u32", "mask64": "u64"}


class EvalError(Exception):
    """The program did something the evaluator cannot give a meaning to (out-of-bounds access,
    division by zero, an unknown call, a runaway loop)."""


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Return(Exception):
    def __init__(self, value: Any):
        self.value = value


def scalar_dtype(dtype: str) -> str:
    """The scalar dtype values of ``dtype`` are held in (masks are unsigned integers)."""
    return MASK_STORAGE.get(dtype, dtype)


def np_type(dtype: str) -> Any:
    dtype = scalar_dtype(dtype)
    if dtype not in ir.NUMPY_DTYPES:
        raise EvalError(f"no numpy type for dtype {dtype!r}")
    return np.dtype(ir.NUMPY_DTYPES[dtype]).type


def dtype_name(value: Any) -> str:
    """IR dtype of a numpy scalar or array."""
    return _NP_TO_IR[np.asarray(value).dtype]


def wrap_int(value: int, dtype: str) -> Any:
    """``value`` reduced modulo 2**bits into ``dtype`` (two's complement for signed types)."""
    dtype = scalar_dtype(dtype)
    if dtype == "bool":
        return np.bool_(value != 0)
    bits = ir.DTYPE_BITS[dtype]
    value &= (1 << bits) - 1
    if ir.is_signed(dtype) and value >= 1 << (bits - 1):
        value -= 1 << bits
    return np_type(dtype)(value)


def convert(value: Any, dtype: str) -> Any:
    """C conversion of a scalar to ``dtype`` (float to int truncates; int to int wraps)."""
    dtype = scalar_dtype(dtype)
    src = dtype_name(value)
    if dtype == "bool":
        return np.bool_(bool(value != 0))
    if ir.is_int(dtype):
        if ir.is_float(src):
            f = float(value)
            if not math.isfinite(f):
                raise EvalError(f"conversion of {f} to {dtype} is undefined in C")
            return wrap_int(int(f), dtype)
        return wrap_int(int(value), dtype)
    if ir.is_float(src):
        return np.asarray(value).astype(np_type(dtype))[()]
    return np_type(dtype)(int(value))


def fma(a: Any, b: Any, c: Any, dtype: str) -> Any:
    """Fused multiply-add with a single rounding, as ``fmaf``/``vfmadd`` compute it.

    The exact value is formed with fractions; for f32 it is rounded to f64 *to odd* first, which
    makes the final rounding to f32 correct (53 >= 24 + 2 bits), avoiding double rounding."""
    fa, fb, fc = float(a), float(b), float(c)
    if not all(math.isfinite(x) for x in (fa, fb, fc)):
        return np_type(dtype)(fa * fb + fc)
    exact = Fraction(fa) * Fraction(fb) + Fraction(fc)
    if exact == 0:
        # the sign of an exact zero follows IEEE addition of the product and the addend
        return np_type(dtype)(fa * fb + fc)
    d = float(exact)
    if dtype == "f64":
        return np.float64(d)
    if Fraction(d) != exact and math.isfinite(d):
        mantissa = np.float64(d).view(np.uint64)
        if int(mantissa) & 1 == 0:  # round to odd: move to the odd neighbour toward the exact value
            d = float(np.nextafter(d, math.inf if exact > Fraction(d) else -math.inf))
    return np_type(dtype)(d)


class Evaluator:
    """Executes IR statements against named arrays and scalars (see the module docstring)."""

    max_steps = 20_000_000

    def __init__(
        self,
        arrays: Mapping[str, np.ndarray] | None = None,
        scalars: Mapping[str, Any] | None = None,
        types: Mapping[str, str] | None = None,
        calls: Mapping[str, CallHandler] | None = None,
    ):
        self.arrays: dict[str, np.ndarray] = dict(arrays or {})
        self.scalars: dict[str, Any] = dict(scalars or {})
        # declared dtype per name: vector types for vector variables, element dtype for arrays
        self.types: dict[str, str] = {k: dtype_name(v) for k, v in self.arrays.items()}
        self.types.update({k: dtype_name(v) for k, v in self.scalars.items()})
        self.types.update(types or {})
        self.calls: dict[str, CallHandler] = dict(calls or {})
        self.steps = 0
        self._fresh = 0

    # ---------------------------------------------------------------- names

    def fresh(self, prefix: str) -> str:
        """A name that no program variable uses (for temporaries of call handlers)."""
        self._fresh += 1
        return f"__{prefix}{self._fresh}"

    def declare(self, name: str, dtype: str, value: Any) -> None:
        self.types[name] = dtype
        if isinstance(value, np.ndarray):
            self.arrays[name] = value
            self.scalars.pop(name, None)
        else:
            self.scalars[name] = value

    def forget(self, name: str) -> None:
        self.arrays.pop(name, None)
        self.scalars.pop(name, None)
        self.types.pop(name, None)

    # ---------------------------------------------------------------- expressions

    def expr(self, e: ir.Expr) -> Any:
        method = getattr(self, "_e_" + type(e).__name__, None)
        if method is None:
            raise EvalError(f"cannot evaluate {type(e).__name__}")
        return method(e)

    def _e_Const(self, e: ir.Const) -> Any:
        if ir.is_float(scalar_dtype(e.dtype)):
            return np_type(e.dtype)(e.value)
        return wrap_int(int(e.value), e.dtype)

    def _e_Var(self, e: ir.Var) -> Any:
        if e.name in self.scalars:
            return self.scalars[e.name]
        if e.name in self.arrays and ir.is_vector(self.types.get(e.name, "")):
            return self.arrays[e.name].copy()
        raise EvalError(f"variable {e.name!r} has no value")

    def _e_Builtin(self, e: ir.Builtin) -> Any:
        if e.name in self.scalars:
            return self.scalars[e.name]
        raise EvalError(f"builtin {e.name!r} has no value in this evaluation")

    def _e_Cast(self, e: ir.Cast) -> Any:
        return convert(self.expr(e.a), e.dtype)

    def _e_Select(self, e: ir.Select) -> Any:
        # C evaluates only the chosen operand; the result has the common type of both.
        result_type = typeinfer.dtype_of(e, self.types)
        chosen = e.a if self.truth(self.expr(e.cond)) else e.b
        return convert(self.expr(chosen), result_type)

    def _e_UnOp(self, e: ir.UnOp) -> Any:
        v = self.expr(e.a)
        if e.op == "!":
            return np.int32(0 if self.truth(v) else 1)
        t = typeinfer.dtype_of(ir.UnOp(e.op, _typed(v)), {})
        if e.op == "-":
            if ir.is_float(t):
                return -convert(v, t)
            return wrap_int(-int(v), t)
        if e.op == "~":
            return wrap_int(~int(v), t)
        if e.op == "+":
            return convert(v, t)
        raise EvalError(f"unary operator {e.op!r}")

    def _e_BinOp(self, e: ir.BinOp) -> Any:
        if e.op == "&&":
            return np.int32(self.truth(self.expr(e.a)) and self.truth(self.expr(e.b)))
        if e.op == "||":
            return np.int32(self.truth(self.expr(e.a)) or self.truth(self.expr(e.b)))
        return binop(e.op, self.expr(e.a), self.expr(e.b))

    def _e_Load(self, e: ir.Load) -> Any:
        data, offset = self._address(e.buffer, e.indices)
        if e.view is None:
            return data.reshape(-1)[offset]
        return _read_view(data, offset, e.view)

    def _e_AddressOf(self, e: ir.AddressOf) -> Any:
        raise EvalError(f"address of {e.buffer!r} used outside a call that understands pointers")

    def _e_Call(self, e: ir.Call) -> Any:
        handler = self.calls.get(e.name)
        if handler is not None:
            return handler(self, e)
        if e.name == "fma":
            a, b, c = (self.expr(x) for x in e.args)
            return fma(a, b, c, e.dtype)
        f = MATH_FUNCS.get(e.name)
        if f is None:
            raise EvalError(f"no semantics for call {e.name!r}")
        args = [self.expr(x) for x in e.args]
        if ir.is_float(e.dtype):
            args = [convert(a, e.dtype) for a in args]
            return np.asarray(f.numpy(*args)).astype(np_type(e.dtype))[()]
        if not f.int_ok:
            raise EvalError(f"{e.name} on integers")
        return convert(np.asarray(f.numpy(*[int(a) for a in args]))[()], e.dtype)

    def truth(self, v: Any) -> bool:
        return bool(v != 0)

    def _address(self, name: str, indices: Sequence[ir.Expr]) -> tuple[np.ndarray, int]:
        """The array ``name`` and the flat element offset of ``indices`` in it (bounds-checked)."""
        data = self.arrays.get(name)
        if data is None:
            raise EvalError(f"no array named {name!r}")
        idx = [int(self.expr(i)) for i in indices]
        shape = data.shape if data.ndim == len(idx) else (data.size,)
        if len(idx) != len(shape):
            raise EvalError(f"{name}: {len(idx)} indices for shape {data.shape}")
        for i, n in zip(idx, shape):
            if not 0 <= i < n:
                raise EvalError(f"out-of-bounds access {name}{idx} (shape {data.shape})")
        return data, int(np.ravel_multi_index(idx, shape)) if idx else 0

    # ---------------------------------------------------------------- statements

    def run(self, stmts: Sequence[ir.Stmt]) -> Any:
        """Executes ``stmts``; returns the value of a ``Return`` (``None`` without one)."""
        try:
            with np.errstate(all="ignore"):
                self.exec(stmts)
        except _Return as r:
            return r.value
        return None

    def exec(self, stmts: Sequence[ir.Stmt]) -> None:
        for s in stmts:
            self.steps += 1
            if self.steps > self.max_steps:
                raise EvalError("step limit exceeded (runaway loop?)")
            method = getattr(self, "_s_" + type(s).__name__, None)
            if method is None:
                raise EvalError(f"cannot execute {type(s).__name__}")
            method(s)

    def _s_Decl(self, s: ir.Decl) -> None:
        if s.dtype in VECTOR_STORAGE:
            elem, n = VECTOR_STORAGE[s.dtype]
            arr = np.zeros(n, dtype=np_type(elem))
            if isinstance(s.init, ir.Expr):
                arr[:] = self.expr(s.init)
            self.declare(s.name, s.dtype, arr)
        elif s.shape:
            arr = np.zeros(s.shape, dtype=np_type(s.dtype))
            if isinstance(s.init, tuple):
                flat = arr.reshape(-1)
                for i, x in enumerate(s.init):
                    flat[i] = convert(self.expr(x), s.dtype)
            self.declare(s.name, s.dtype, arr)
        else:
            value = convert(self.expr(s.init), s.dtype) if isinstance(s.init, ir.Expr) else (
                np_type(s.dtype)(0))
            self.declare(s.name, s.dtype, value)

    def _s_Assign(self, s: ir.Assign) -> None:
        dtype = self.types.get(s.name)
        if dtype is None:
            raise EvalError(f"assignment to undeclared {s.name!r}")
        value = self.expr(s.value)
        if dtype in VECTOR_STORAGE:
            self.arrays[s.name][:] = value
        else:
            self.scalars[s.name] = convert(value, dtype)

    def _s_Store(self, s: ir.Store) -> None:
        data, offset = self._address(s.buffer, s.indices)
        value = self.expr(s.value)
        if s.view is None:
            data.reshape(-1)[offset] = convert(value, dtype_name(data))
        else:
            _write_view(data, offset, s.view, convert(value, s.view))

    def _s_ExprStmt(self, s: ir.ExprStmt) -> None:
        self.expr(s.expr)

    def _s_If(self, s: ir.If) -> None:
        self.exec(s.then if self.truth(self.expr(s.cond)) else s.orelse)

    def _s_While(self, s: ir.While) -> None:
        while self.truth(self.expr(s.cond)):
            try:
                self.exec(s.body)
            except _Break:
                break
            except _Continue:
                continue

    def _s_For(self, s: ir.For) -> None:
        self.declare(s.var, s.var_dtype, convert(self.expr(s.init), s.var_dtype))
        var = ir.Var(s.var, s.var_dtype)
        cond = ir.BinOp(s.cmp, var, s.bound)
        update = ir.BinOp(s.update, var, s.step)
        while self.truth(self.expr(cond)):
            self.steps += 1
            if self.steps > self.max_steps:
                raise EvalError("step limit exceeded (runaway loop?)")
            try:
                self.exec(s.body)
            except _Break:
                break
            except _Continue:
                pass
            self.scalars[s.var] = convert(self.expr(update), s.var_dtype)

    def _s_Break(self, s: ir.Break) -> None:
        raise _Break()

    def _s_Continue(self, s: ir.Continue) -> None:
        raise _Continue()

    def _s_Return(self, s: ir.Return) -> None:
        raise _Return(None if s.value is None else self.expr(s.value))

    def _s_Sync(self, s: ir.Sync) -> None:
        """A barrier is a no-op for the single thread this evaluator runs."""


def _typed(v: Any) -> ir.Expr:
    """A placeholder expression of ``v``'s dtype, to ask typeinfer for result types."""
    return ir.Var("_", dtype_name(v))


def binop(op: str, a: Any, b: Any) -> Any:
    """C binary operator on two numpy scalars (``&&``/``||`` are handled by the caller)."""
    da, db = dtype_name(a), dtype_name(b)
    if op in ("<<", ">>"):
        t = typeinfer.dtype_of(ir.BinOp(op, _typed(a), _typed(b)), {})
        x, n = int(a), int(b)
        if not 0 <= n < ir.DTYPE_BITS[t]:
            raise EvalError(f"shift by {n} is undefined for {t}")
        return wrap_int(x << n if op == "<<" else x >> n, t)
    common = typeinfer.promote(da, db)
    x, y = convert(a, common), convert(b, common)
    if op in ("<", "<=", ">", ">=", "==", "!="):
        result = {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y, "==": x == y, "!=": x != y}[op]
        return np.int32(bool(result))
    if ir.is_float(common):
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if op == "/":
            return x / y
        raise EvalError(f"operator {op!r} on {common}")
    i, j = int(x), int(y)
    if op == "+":
        return wrap_int(i + j, common)
    if op == "-":
        return wrap_int(i - j, common)
    if op == "*":
        return wrap_int(i * j, common)
    if op in ("/", "%"):
        if j == 0:
            raise EvalError("integer division by zero")
        q = abs(i) // abs(j)
        q = q if (i >= 0) == (j >= 0) else -q
        return wrap_int(q if op == "/" else i - q * j, common)
    if op == "&":
        return wrap_int(i & j, common)
    if op == "|":
        return wrap_int(i | j, common)
    if op == "^":
        return wrap_int(i ^ j, common)
    raise EvalError(f"binary operator {op!r}")


def _read_view(data: np.ndarray, offset: int, view: str) -> Any:
    raw = data.reshape(-1).view(np.uint8)
    start = offset * data.itemsize
    size = ir.DTYPE_BITS[view] // 8
    if start + size > raw.size:
        raise EvalError(f"view {view} at element {offset} reads past the end of the array")
    return raw[start:start + size].view(np_type(view))[0]


def _write_view(data: np.ndarray, offset: int, view: str, value: Any) -> None:
    raw = data.reshape(-1).view(np.uint8)
    start = offset * data.itemsize
    size = ir.DTYPE_BITS[view] // 8
    if start + size > raw.size:
        raise EvalError(f"view {view} at element {offset} writes past the end of the array")
    raw[start:start + size] = np.asarray([value], dtype=np_type(view)).view(np.uint8)


def run_function(
    fn: ir.Function,
    args: Mapping[str, Any],
    calls: Mapping[str, CallHandler] | None = None,
) -> dict[str, np.ndarray]:
    """Runs ``fn`` on copies of ``args`` (arrays for pointer params, numbers for scalars) and
    returns the final contents of its pointer parameters, keyed by name."""
    arrays: dict[str, np.ndarray] = {}
    scalars: dict[str, Any] = {}
    types: dict[str, str] = {}
    for p in fn.params:
        if p.name not in args:
            raise EvalError(f"no argument for parameter {p.name!r}")
        types[p.name] = p.dtype
        if p.pointer:
            arrays[p.name] = np.array(args[p.name], dtype=np_type(p.dtype)).reshape(-1)
        else:
            scalars[p.name] = convert(np.asarray(args[p.name])[()], p.dtype)
    ev = Evaluator(arrays, scalars, types, calls)
    ev.run(fn.body)
    return {p.name: ev.arrays[p.name] for p in fn.params if p.pointer}
