"""The semantics table of every intrinsic the IR knows: ``INTRINSICS``.

Why one table: the front end needs result types, the detensoriser needs scalar code for each
intrinsic, the evaluator needs to run programs that still contain intrinsics, tensorisation needs
to know what an intrinsic computes, and the tests need to check all of it against the hardware.
If each kept its own notion of ``_mm512_dpbusd_epi32`` they would drift apart; here each entry's
meaning is an IR template, checked bit for bit against gcc's intrinsic on random and edge operands
(``tests/passes/test_intrinsics.py``), and everything else derives from it.

Detensorised storage convention (shared with ``passes/evaluate.py``):
- a float vector becomes a local array of its lanes: ``m512`` -> ``f32[16]``, ``m256`` ->
  ``f32[8]``, ``m128`` -> ``f32[4]``, ``m512d`` -> ``f64[8]`` (``m256d``/``m128d`` likewise);
- an integer vector becomes a BYTE array: ``m512i`` -> ``u8[64]``, ``m256i`` -> ``u8[32]``,
  ``m128i`` -> ``u8[16]``; an intrinsic reads and writes it through ``Load``/``Store`` views
  (``view="i32"``, ``"i8"``, ``"u8"``, ``"i16"`` ...) with the index in BYTES, so that one
  variable can be used as epi8 by one intrinsic and epi32 by the next, as in the source;
- masks (``mask8/16/32/64``) stay scalar unsigned integers (``u8/u16/u32/u64``); bit ``l`` of a
  mask governs lane ``l``.

A template receives ``Operand`` objects (a storage array, a pointer into a buffer, a scalar
expression) and returns the statements that compute the intrinsic; lane loops are ``For`` loops
of kind ``vectorized`` (a printer hint: they stay semantically serial), except the accumulation
loops of reductions, which are ``serial`` because they carry the accumulator. Masked loads and stores
are guarded by ``If`` statements, so a lane whose mask bit is 0 does not touch memory, exactly
like the hardware (which suppresses faults on masked-off lanes). Integer arithmetic that may
overflow is written in unsigned arithmetic and converted back, because it wraps on the hardware
but is undefined for signed types in C.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np

from passes import ir, typeinfer
from passes.evaluate import MASK_STORAGE, VECTOR_STORAGE, EvalError, Evaluator, convert, np_type

__all__ = [
    "INTRINSICS", "Intrinsic", "Operand", "ArrayOperand", "PointerOperand", "ScalarOperand", "VarOut",
    "storage", "resolve", "is_intrinsic_name", "evaluation_handlers", "MASK_STORAGE", "VECTOR_STORAGE",
]


def _bytes(dtype: str) -> int:
    return ir.DTYPE_BITS[dtype] // 8


def storage(dtype: str) -> tuple[str, tuple[int, ...]]:
    """(element dtype, shape) that a value of ``dtype`` is held in after detensorisation."""
    if dtype in VECTOR_STORAGE:
        elem, n = VECTOR_STORAGE[dtype]
        return elem, (n,)
    return MASK_STORAGE.get(dtype, dtype), ()


# --------------------------------------------------------------------------------------------
# operands


class Operand:
    """What a template can do with one operand; each subclass supports the applicable subset."""

    def lane(self, index: ir.Expr, view: str) -> ir.Expr:
        """Element ``index`` of the operand, counted in units of ``view``, read as ``view``."""
        raise TypeError(f"{type(self).__name__} has no lanes")

    def store(self, index: ir.Expr, view: str, value: ir.Expr) -> ir.Stmt:
        raise TypeError(f"{type(self).__name__} cannot be stored to")

    def value(self) -> ir.Expr:
        raise TypeError(f"{type(self).__name__} is not a scalar")

    def natural(self) -> str:
        """The unit in which whole-register copies move this operand's data."""
        raise TypeError(f"{type(self).__name__} has no natural unit")


@dataclass(frozen=True)
class ArrayOperand(Operand):
    """A detensorised vector: local array ``name`` of ``elem`` (``f32``/``f64``, or ``u8`` bytes)."""

    name: str
    elem: str

    def _index(self, index: ir.Expr, view: str) -> tuple[tuple[ir.Expr, ...], str | None]:
        if view == self.elem:
            return (index,), None
        if self.elem == "u8":
            size = _bytes(view)
            return ((index * size) if size > 1 else index,), view
        raise ir.UnsupportedConstruct(f"{view} view of a {self.elem} vector")

    def lane(self, index: ir.Expr, view: str) -> ir.Expr:
        idx, v = self._index(index, view)
        return ir.Load(self.name, idx, v)

    def store(self, index: ir.Expr, view: str, value: ir.Expr) -> ir.Stmt:
        idx, v = self._index(index, view)
        return ir.Store(self.name, idx, value, v)

    def natural(self) -> str:
        return self.elem


@dataclass(frozen=True)
class PointerOperand(Operand):
    """``&buffer[indices]``: lane ``l`` in units of ``view`` sits ``l`` views past the address.

    The address arithmetic is expressed in the buffer's own elements (the IR's indexing unit):
    same-size views index element by element; byte buffers (``i8``/``u8``) are indexed by bytes.
    Anything else (``i8`` lanes of a ``f32`` buffer) has no IR spelling and is unsupported."""

    buffer: str
    indices: tuple[ir.Expr, ...]
    elem: str

    def _index(self, index: ir.Expr, view: str) -> tuple[tuple[ir.Expr, ...], str | None]:
        size, esize = _bytes(view), _bytes(self.elem)
        if size == esize:
            offset = index
        elif esize == 1:
            offset = index * size
        else:
            raise ir.UnsupportedConstruct(f"{view} lanes through a pointer to {self.elem}")
        last = self.indices[-1]
        if isinstance(last, ir.Const) and last.value == 0:
            new_last = offset
        else:
            new_last = last + offset
        return self.indices[:-1] + (new_last,), (None if view == self.elem else view)

    def lane(self, index: ir.Expr, view: str) -> ir.Expr:
        idx, v = self._index(index, view)
        return ir.Load(self.buffer, idx, v)

    def store(self, index: ir.Expr, view: str, value: ir.Expr) -> ir.Stmt:
        idx, v = self._index(index, view)
        return ir.Store(self.buffer, idx, value, v)

    def natural(self) -> str:
        return self.elem if ir.is_int(self.elem) else "u8"


@dataclass(frozen=True)
class ScalarOperand(Operand):
    """A scalar operand (a value, an immediate, a mask), already of the parameter's type."""

    expr: ir.Expr

    def value(self) -> ir.Expr:
        return self.expr


@dataclass(frozen=True)
class VarOut(Operand):
    """The scalar variable that receives the result of a reduction or a scalar intrinsic."""

    name: str
    dtype: str

    def value(self) -> ir.Expr:
        return ir.Var(self.name, self.dtype)


Template = Callable[[Sequence[Operand], Union[Operand, None], str], tuple[ir.Stmt, ...]]
ScalarTemplate = Callable[[Sequence[Operand]], ir.Expr]


@dataclass(frozen=True)
class Intrinsic:
    """One intrinsic.

    ``params``: per operand a dtype (vector, mask or scalar), ``ptr:DTYPE`` / ``ptr:any`` for
    pointer operands (``ir.AddressOf``), or ``imm``. ``lanes``/``lane_dtype``: the lanes of the
    result (or of the memory written, for stores). ``kind``: ``lanewise`` (result lane ``l``
    depends on operand lanes around ``l`` only, so the result may overwrite an operand),
    ``store`` (void, writes through the pointer), ``reduce`` (vector -> scalar accumulation),
    ``scalar`` (a scalar function, given as an expression template ``scalar``).
    ``signed_operands``: for overloaded GPU intrinsics (``__dp4a``), which operand signedness
    selects this entry; ``spelling`` is the source name shared by the overloads."""

    name: str
    result: str
    params: tuple[str, ...]
    lanes: int
    lane_dtype: str
    isa: str
    kind: str
    template: Template | None = None
    scalar: ScalarTemplate | None = None
    spelling: str = ""
    signed_operands: bool | None = None
    header: str = "immintrin.h"
    doc: str = field(default="", compare=False)

    @property
    def source_name(self) -> str:
        return self.spelling or self.name

    def expand(
        self, ops: Sequence[Operand], out: Operand | None, lane_var: str = "_l"
    ) -> tuple[ir.Stmt, ...]:
        """The statements computing this intrinsic on ``ops`` into ``out`` (an ``ArrayOperand``
        for vector results, a ``VarOut`` for scalar ones, ``None`` for stores)."""
        if len(ops) != len(self.params):
            raise ir.UnsupportedConstruct(f"{self.source_name} with {len(ops)} operands")
        if self.kind == "scalar":
            assert self.scalar is not None and isinstance(out, VarOut)
            return (ir.Assign(out.name, self.scalar(ops)),)
        assert self.template is not None
        return self.template(ops, out, lane_var)


# --------------------------------------------------------------------------------------------
# template builders


def _loop(var: str, start: int, n: int, body: Sequence[ir.Stmt]) -> ir.For:
    return ir.For(var, ir.Const(start), ir.Const(n), ir.Const(1), tuple(body), kind=ir.VECTORIZED)


def _bit(mask: ir.Expr, lane: ir.Expr) -> ir.Expr:
    return ir.BinOp("&", ir.BinOp(">>", mask, lane), ir.Const(1))


def _wrap(op: str, a: ir.Expr, b: ir.Expr, signed: str = "i32", unsigned: str = "u32") -> ir.Expr:
    """``a op b`` with two's complement wrap-around (computed unsigned, converted back)."""
    return ir.Cast(signed, ir.BinOp(op, ir.Cast(unsigned, a), ir.Cast(unsigned, b)))


LaneFn = Callable[[ir.Expr, Sequence[Operand]], ir.Expr]


def _lanewise(view: str, n: int, fn: LaneFn) -> Template:
    """``out[l] = fn(l, ops)`` for every lane ``l`` (``out`` viewed as ``view``)."""

    def template(ops: Sequence[Operand], out: Operand | None, lv: str) -> tuple[ir.Stmt, ...]:
        assert out is not None
        lane = ir.Var(lv)
        return (_loop(lv, 0, n, [out.store(lane, view, fn(lane, ops))]),)

    return template


def _masked_load(view: str, n: int, zero: ir.Const) -> Template:
    """maskz load (operands: mask, pointer): a lane with mask bit 0 is zeroed and not read."""

    def template(ops: Sequence[Operand], out: Operand | None, lv: str) -> tuple[ir.Stmt, ...]:
        assert out is not None
        lane = ir.Var(lv)
        guarded = ir.If(_bit(ops[0].value(), lane), (out.store(lane, view, ops[1].lane(lane, view)),),
                        (out.store(lane, view, zero),))
        return (_loop(lv, 0, n, [guarded]),)

    return template


def _store(view: str | None, nbytes: int, masked: bool = False, src: int = 1) -> Template:
    """Store of operand ``src`` through the pointer (operand 0); ``masked``: operand 1 is the mask
    and lanes whose bit is 0 are not written. ``view=None`` copies in the pointer's natural unit."""

    def template(ops: Sequence[Operand], out: Operand | None, lv: str) -> tuple[ir.Stmt, ...]:
        unit = view or ops[0].natural()
        lane = ir.Var(lv)
        st = ops[0].store(lane, unit, ops[src].lane(lane, unit))
        body: ir.Stmt = ir.If(_bit(ops[1].value(), lane), (st,)) if masked else st
        return (_loop(lv, 0, nbytes // _bytes(unit), [body]),)

    return template


def _copy_load(nbytes: int) -> Template:
    """Unaligned/aligned register load of ``nbytes`` bytes, in the pointer's natural unit."""

    def template(ops: Sequence[Operand], out: Operand | None, lv: str) -> tuple[ir.Stmt, ...]:
        assert out is not None
        unit = ops[0].natural()
        lane = ir.Var(lv)
        return (_loop(lv, 0, nbytes // _bytes(unit), [out.store(lane, unit, ops[0].lane(lane, unit))]),)

    return template


def _reduce(view: str, n: int, step: Callable[[ir.Expr, ir.Expr], ir.Expr], first: bool) -> Template:
    """acc = lane 0 (``first``) or 0, then ``acc = step(acc, lane l)`` over the remaining lanes."""

    def template(ops: Sequence[Operand], out: Operand | None, lv: str) -> tuple[ir.Stmt, ...]:
        assert isinstance(out, VarOut)
        lane = ir.Var(lv)
        acc = out.value()
        init = ops[0].lane(ir.Const(0), view) if first else ir.Const(0.0 if ir.is_float(view) else 0, view)
        body = ir.Assign(out.name, step(acc, ops[0].lane(lane, view)))
        # serial, not "vectorized": the accumulator is loop-carried, and a printer that emits
        # `omp simd` for vectorized loops would otherwise declare a race on it
        loop = ir.For(lv, ir.Const(1 if first else 0), ir.Const(n), ir.Const(1), (body,))
        return (ir.Assign(out.name, init), loop)

    return template


def _dot4(a: Operand, b: Operand, lane: ir.Expr, a_view: str, b_view: str) -> ir.Expr:
    """Sum over k < 4 of byte 4*lane+k of ``a`` times that of ``b`` (fits in i32 exactly)."""
    terms = []
    for k in range(4):
        byte = lane * 4 + k if k else lane * 4
        terms.append(ir.BinOp("*", a.lane(byte, a_view), b.lane(byte, b_view)))
    total = terms[0]
    for t in terms[1:]:
        total = ir.BinOp("+", total, t)
    return total


def _dpbusd(n: int) -> Template:
    """VNNI: i32 lane l += sum_k u8(a byte 4l+k) * s8(b byte 4l+k), wrapping (operands src, a, b)."""
    return _lanewise("i32", n, lambda l, o: _wrap("+", o[0].lane(l, "i32"), _dot4(o[1], o[2], l, "u8", "i8")))


def _dp4a(signed: bool) -> ScalarTemplate:
    """CUDA ``__dp4a(a, b, c)``: c + sum_k byte_k(a) * byte_k(b), bytes signed or unsigned."""
    byte, acc = ("i8", "i32") if signed else ("u8", "u32")

    def scalar(ops: Sequence[Operand]) -> ir.Expr:
        a, b, c = (o.value() for o in ops)
        total: ir.Expr = ir.Cast("u32", c)
        for k in range(4):
            ak = ir.Cast(byte, ir.BinOp(">>", a, ir.Const(8 * k)) if k else a)
            bk = ir.Cast(byte, ir.BinOp(">>", b, ir.Const(8 * k)) if k else b)
            total = ir.BinOp("+", total, ir.Cast("u32", ir.BinOp("*", ak, bk)))
        return ir.Cast(acc, total)

    return scalar


def _f(o: Operand, l: ir.Expr) -> ir.Expr:
    return o.lane(l, "f32")


def _gt(a: ir.Expr, b: ir.Expr) -> ir.Expr:
    """``a > b ? a : b``: x86 max, which returns the second operand on NaN and on equal zeros."""
    return ir.Select(ir.BinOp(">", a, b), a, b)


def _lt(a: ir.Expr, b: ir.Expr) -> ir.Expr:
    return ir.Select(ir.BinOp("<", a, b), a, b)


def _arith(op: str) -> LaneFn:
    return lambda l, o: ir.BinOp(op, _f(o[0], l), _f(o[1], l))


F0 = ir.Const(0.0, "f32")
PS = "m512"
SI = "m512i"


def _table() -> list[Intrinsic]:
    F, B = "avx512f", "avx512bw"
    lw = "lanewise"
    out = [
        Intrinsic("_mm512_setzero_ps", PS, (), 16, "f32", F, lw, _lanewise("f32", 16, lambda l, o: F0)),
        Intrinsic("_mm512_set1_ps", PS, ("f32",), 16, "f32", F, lw,
                  _lanewise("f32", 16, lambda l, o: o[0].value())),
        Intrinsic("_mm512_loadu_ps", PS, ("ptr:f32",), 16, "f32", F, lw,
                  _lanewise("f32", 16, lambda l, o: _f(o[0], l))),
        Intrinsic("_mm512_load_ps", PS, ("ptr:f32",), 16, "f32", F, lw,
                  _lanewise("f32", 16, lambda l, o: _f(o[0], l))),
        Intrinsic("_mm512_storeu_ps", "void", ("ptr:f32", PS), 16, "f32", F, "store", _store("f32", 64)),
        Intrinsic("_mm512_store_ps", "void", ("ptr:f32", PS), 16, "f32", F, "store", _store("f32", 64)),
        Intrinsic("_mm512_add_ps", PS, (PS, PS), 16, "f32", F, lw, _lanewise("f32", 16, _arith("+"))),
        Intrinsic("_mm512_sub_ps", PS, (PS, PS), 16, "f32", F, lw, _lanewise("f32", 16, _arith("-"))),
        Intrinsic("_mm512_mul_ps", PS, (PS, PS), 16, "f32", F, lw, _lanewise("f32", 16, _arith("*"))),
        Intrinsic("_mm512_div_ps", PS, (PS, PS), 16, "f32", F, lw, _lanewise("f32", 16, _arith("/"))),
        Intrinsic("_mm512_fmadd_ps", PS, (PS, PS, PS), 16, "f32", F, lw, _lanewise(
            "f32", 16, lambda l, o: ir.Call("fma", (_f(o[0], l), _f(o[1], l), _f(o[2], l)), "f32"))),
        Intrinsic("_mm512_fmsub_ps", PS, (PS, PS, PS), 16, "f32", F, lw, _lanewise(
            "f32", 16, lambda l, o: ir.Call("fma", (_f(o[0], l), _f(o[1], l), -_f(o[2], l)), "f32"))),
        Intrinsic("_mm512_max_ps", PS, (PS, PS), 16, "f32", F, lw,
                  _lanewise("f32", 16, lambda l, o: _gt(_f(o[0], l), _f(o[1], l)))),
        Intrinsic("_mm512_min_ps", PS, (PS, PS), 16, "f32", F, lw,
                  _lanewise("f32", 16, lambda l, o: _lt(_f(o[0], l), _f(o[1], l)))),
        Intrinsic("_mm512_sqrt_ps", PS, (PS,), 16, "f32", F, lw,
                  _lanewise("f32", 16, lambda l, o: ir.Call("sqrt", (_f(o[0], l),), "f32"))),
        Intrinsic("_mm512_abs_ps", PS, (PS,), 16, "f32", F, lw,
                  _lanewise("f32", 16, lambda l, o: ir.Call("abs", (_f(o[0], l),), "f32"))),
        Intrinsic("_mm512_reduce_add_ps", "f32", (PS,), 16, "f32", F, "reduce",
                  _reduce("f32", 16, lambda acc, x: acc + x, first=False)),
        Intrinsic("_mm512_reduce_max_ps", "f32", (PS,), 16, "f32", F, "reduce",
                  _reduce("f32", 16, _gt, first=True)),
        Intrinsic("_mm512_reduce_min_ps", "f32", (PS,), 16, "f32", F, "reduce",
                  _reduce("f32", 16, _lt, first=True)),
        Intrinsic("_mm512_maskz_loadu_ps", PS, ("mask16", "ptr:f32"), 16, "f32", F, lw,
                  _masked_load("f32", 16, F0)),
        Intrinsic("_mm512_mask_storeu_ps", "void", ("ptr:f32", "mask16", PS), 16, "f32", F, "store",
                  _store("f32", 64, masked=True, src=2)),
        Intrinsic("_mm512_cvtepi32_ps", PS, (SI,), 16, "f32", F, lw,
                  _lanewise("f32", 16, lambda l, o: ir.Cast("f32", o[0].lane(l, "i32")))),
        Intrinsic("_mm512_setzero_si512", SI, (), 16, "i32", F, lw,
                  _lanewise("i32", 16, lambda l, o: ir.Const(0, "i32"))),
        Intrinsic("_mm512_set1_epi32", SI, ("i32",), 16, "i32", F, lw,
                  _lanewise("i32", 16, lambda l, o: o[0].value())),
        Intrinsic("_mm512_set1_epi8", SI, ("i8",), 64, "i8", F, lw,
                  _lanewise("i8", 64, lambda l, o: o[0].value())),
        Intrinsic("_mm512_loadu_si512", SI, ("ptr:any",), 64, "u8", F, lw, _copy_load(64)),
        Intrinsic("_mm512_load_si512", SI, ("ptr:any",), 64, "u8", F, lw, _copy_load(64)),
        Intrinsic("_mm512_storeu_si512", "void", ("ptr:any", SI), 64, "u8", F, "store", _store(None, 64)),
        Intrinsic("_mm512_store_si512", "void", ("ptr:any", SI), 64, "u8", F, "store", _store(None, 64)),
        Intrinsic("_mm512_add_epi32", SI, (SI, SI), 16, "i32", F, lw, _lanewise(
            "i32", 16, lambda l, o: _wrap("+", o[0].lane(l, "i32"), o[1].lane(l, "i32")))),
        Intrinsic("_mm512_mullo_epi32", SI, (SI, SI), 16, "i32", F, lw, _lanewise(
            "i32", 16, lambda l, o: _wrap("*", o[0].lane(l, "i32"), o[1].lane(l, "i32")))),
        Intrinsic("_mm512_dpbusd_epi32", SI, (SI, SI, SI), 16, "i32", "avx512vnni", lw, _dpbusd(16)),
        Intrinsic("_mm256_dpbusd_epi32", "m256i", ("m256i",) * 3, 8, "i32", "avx512vnni+avx512vl", lw,
                  _dpbusd(8)),
        Intrinsic("_mm256_dpbusd_avx_epi32", "m256i", ("m256i",) * 3, 8, "i32", "avxvnni", lw, _dpbusd(8)),
        Intrinsic("_mm512_reduce_add_epi32", "i32", (SI,), 16, "i32", F, "reduce",
                  _reduce("i32", 16, lambda acc, x: _wrap("+", acc, x), first=False)),
        Intrinsic("_mm512_maskz_loadu_epi8", SI, ("mask64", "ptr:any"), 64, "i8", B, lw,
                  _masked_load("i8", 64, ir.Const(0, "i8"))),
        Intrinsic("_mm512_mask_storeu_epi32", "void", ("ptr:any", "mask16", SI), 16, "i32", F, "store",
                  _store("i32", 64, masked=True, src=2)),
        Intrinsic("_cvtu32_mask16", "mask16", ("u32",), 0, "u16", F, "scalar",
                  scalar=lambda o: ir.Cast("u16", o[0].value())),
        Intrinsic("_cvtu64_mask64", "mask64", ("u64",), 0, "u64", B, "scalar",
                  scalar=lambda o: o[0].value()),
        Intrinsic("__dp4a_s32", "i32", ("i32", "i32", "i32"), 0, "i32", "cuda", "scalar",
                  scalar=_dp4a(True), spelling="__dp4a", signed_operands=True, header=""),
        Intrinsic("__dp4a_u32", "u32", ("u32", "u32", "u32"), 0, "u32", "cuda", "scalar",
                  scalar=_dp4a(False), spelling="__dp4a", signed_operands=False, header=""),
        Intrinsic("__fmaf_rn", "f32", ("f32", "f32", "f32"), 0, "f32", "cuda", "scalar",
                  scalar=lambda o: ir.Call("fma", tuple(x.value() for x in o), "f32"), header=""),
    ]
    return out


INTRINSICS: dict[str, Intrinsic] = {i.name: i for i in _table()}

_BY_SPELLING: dict[str, list[Intrinsic]] = {}
for _i in INTRINSICS.values():
    _BY_SPELLING.setdefault(_i.source_name, []).append(_i)


def is_intrinsic_name(name: str) -> bool:
    """True for names the table knows and for x86 intrinsic spellings it may lack (``_mm*``),
    so that a pass can tell "unknown intrinsic" from "ordinary call"."""
    return name in _BY_SPELLING or name.startswith(("_mm", "_cvt", "_kand", "_kor", "_tile"))


def resolve(call: ir.Call, env: Mapping[str, str]) -> Intrinsic:
    """The table entry for ``call``; overloads (``__dp4a``) are chosen by the signedness of the
    first two operands' types (``passes.typeinfer``), as C++ overload resolution would."""
    entries = _BY_SPELLING.get(call.name)
    if not entries:
        raise ir.UnsupportedConstruct(f"intrinsic {call.name}")
    if len(entries) == 1:
        return entries[0]
    kinds = {ir.is_signed(typeinfer.dtype_of(a, env)) for a in call.args[:2]}
    if len(kinds) != 1:
        raise ir.UnsupportedConstruct(f"intrinsic {call.name}", detail="operands of mixed signedness")
    signed = kinds.pop()
    for e in entries:
        if e.signed_operands == signed:
            return e
    raise ir.UnsupportedConstruct(f"intrinsic {call.name}", detail="no overload for these operand types")


# --------------------------------------------------------------------------------------------
# evaluation of calls that are still intrinsics


def _eval_call(ev: Evaluator, call: ir.Call) -> Any:
    """Evaluates an intrinsic call by expanding its template over evaluator temporaries."""
    intr = resolve(call, ev.types)
    values: list[Any] = []
    for arg, param in zip(call.args, intr.params):
        values.append(arg if param.startswith("ptr:") else ev.expr(arg))
    temps: list[str] = []
    ops: list[Operand] = []
    for arg, param, value in zip(call.args, intr.params, values):
        if param.startswith("ptr:"):
            if isinstance(arg, ir.AddressOf):
                idx = tuple(ir.Const(int(ev.expr(i)), "i64") for i in arg.indices)
                ops.append(PointerOperand(arg.buffer, idx, ev.types[arg.buffer]))
            elif isinstance(arg, ir.Var) and arg.name in ev.arrays:
                ops.append(PointerOperand(arg.name, (ir.Const(0),), ev.types[arg.name]))
            else:
                raise EvalError(f"{call.name}: pointer operand {arg!r}")
            continue
        name = ev.fresh("op")
        temps.append(name)
        elem, shape = storage(param if param != "imm" else "i32")
        if shape:
            ev.declare(name, elem, np.asarray(value).astype(np_type(elem)).copy())
            ops.append(ArrayOperand(name, elem))
        else:
            ev.declare(name, elem, convert(value, elem))
            ops.append(ScalarOperand(ir.Var(name, elem)))
    result_name = ev.fresh("out")
    temps.append(result_name)
    out: Operand | None = None
    elem, shape = storage(intr.result)
    if shape:
        ev.declare(result_name, elem, np.zeros(shape, dtype=np_type(elem)))
        out = ArrayOperand(result_name, elem)
    elif intr.result != "void":
        ev.declare(result_name, elem, np_type(elem)(0))
        out = VarOut(result_name, elem)
    try:
        ev.exec(intr.expand(ops, out, ev.fresh("lane")))
        if isinstance(out, ArrayOperand):
            return ev.arrays[result_name].copy()
        if isinstance(out, VarOut):
            return ev.scalars[result_name]
        return None
    finally:
        for t in temps:
            ev.forget(t)


def evaluation_handlers() -> dict[str, Callable[[Evaluator, ir.Call], Any]]:
    """Call handlers that let ``passes.evaluate.Evaluator`` run programs containing intrinsics."""
    return {spelling: _eval_call for spelling in _BY_SPELLING}
