"""Machine check of the intrinsic semantics table against the real instructions.

Every x86 entry of ``INTRINSICS`` is applied by gcc-compiled code to seeded random operands with
edge values, and the same operands are run through the entry's IR template with
``passes.evaluate``; the result bytes (the returned value plus every buffer a pointer operand
points to) must be identical. All cases go into one C program so the test compiles once.
Exception, stated here: the float reductions are compared with a relative tolerance of 1e-6 of
the sum of magnitudes, because gcc reduces in a tree order and the template serially.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from passes import ir
from passes.evaluate import EvalError, Evaluator, np_type
from passes.intrinsics import (
    INTRINSICS,
    ArrayOperand,
    Intrinsic,
    Operand,
    PointerOperand,
    ScalarOperand,
    VarOut,
    evaluation_handlers,
    resolve,
    storage,
)

GCC_FLAGS = ["-O1", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni", "-mavxvnni"]
C_TYPES = {
    "m512": "__m512", "m512i": "__m512i", "m256i": "__m256i", "f32": "float", "i32": "int", "i8": "char",
    "u32": "unsigned", "u64": "unsigned long long", "mask16": "__mmask16", "mask64": "__mmask64",
}
ELEM_C = {"f32": "float", "u8": "unsigned char", "i8": "signed char", "i32": "int"}
CPU_FLAGS = {"avx512f": "avx512f", "avx512bw": "avx512bw", "avx512vnni": "avx512_vnni",
             "avx512vnni+avx512vl": "avx512_vnni", "avxvnni": "avx_vnni"}
TRIALS = 6
X86 = [i for i in INTRINSICS.values() if i.isa != "cuda"]


def _cpu_has(isa: str) -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return re.search(rf"\b{CPU_FLAGS[isa]}\b", flags) is not None


# ------------------------------------------------------------------------------------ operands


def _floats(rng: np.random.Generator, n: int, moderate: bool) -> np.ndarray:
    """Random floats mixed with edge values: signed zeros, negatives, huge values, denormals."""
    edges = [0.0, -0.0, 1.0, -1.5, 1e-40, -3e-39, 2.5e-7]
    if not moderate:
        edges += [3e38, -3.3e38, 1e30, -1e30, 65504.0]
    vals = rng.standard_normal(n) * rng.choice([1.0, 1e3, 1e-3], n)
    pick = rng.random(n) < 0.4
    vals[pick] = rng.choice(edges, int(pick.sum()))
    return vals.astype(np.float32)


def _bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    vals = rng.integers(0, 256, n)
    pick = rng.random(n) < 0.4
    vals[pick] = rng.choice([0, 255, 128, 127, 1], int(pick.sum()))
    return vals.astype(np.uint8)


def _scalar(rng: np.random.Generator, dtype: str) -> np.ndarray:
    if dtype == "f32":
        return _floats(rng, 1, moderate=False)
    bits = ir.DTYPE_BITS[dtype]
    edges = [0, (1 << bits) - 1, 1 << (bits - 1), (1 << (bits - 1)) - 1, 1]
    rand = (int(rng.integers(0, 1 << 32)) << 32 | int(rng.integers(0, 1 << 32))) % (1 << bits)
    value = edges[int(rng.integers(len(edges)))] if rng.random() < 0.4 else rand
    return np.array([value], dtype=np.uint64).astype(np.dtype(f"u{bits // 8}"))


@dataclass
class Case:
    intr: Intrinsic
    operands: list[np.ndarray]  # raw bytes per operand (vector, scalar, or pointed-to buffer)
    ptr_elem: str  # element dtype of pointer buffers in this case


def _cases(seed: int = 1234) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for intr in X86:
        if not _cpu_has(intr.isa):
            continue
        ptr_elems = ["-"]
        if "ptr:f32" in intr.params:
            ptr_elems = ["f32"]
        elif "ptr:any" in intr.params:  # byte buffers, and int buffers where the lanes allow
            ptr_elems = ["u8", "i8"] if intr.lane_dtype == "i8" else ["u8", "i32"]
        for pe in ptr_elems:
            for _ in range(TRIALS):
                ops: list[np.ndarray] = []
                for p in intr.params:
                    if p.startswith("ptr:") or p in ("m512", "m512i", "m256i"):
                        nbytes = 64 if p.startswith("ptr:") else ir.DTYPE_BITS[p] // 8
                        floaty = p == "m512" or p == "ptr:f32"
                        data = (_floats(rng, nbytes // 4, intr.kind == "reduce").view(np.uint8)
                                if floaty else _bytes(rng, nbytes))
                        ops.append(data)
                    else:
                        ops.append(_scalar(rng, storage(p)[0]).view(np.uint8))
                cases.append(Case(intr, ops, pe))
    return cases


# ------------------------------------------------------------------------------------ C side


def _c_bytes(data: np.ndarray) -> str:
    return "{" + ",".join(str(int(b)) for b in data.view(np.uint8)) + "}"


def _c_case(k: int, case: Case) -> str:
    lines = ["{"]
    args = []
    buffers = []
    for j, (p, data) in enumerate(zip(case.intr.params, case.operands)):
        lines.append(f"  static const unsigned char d{j}[{data.size}] = {_c_bytes(data)};")
        if p.startswith("ptr:"):
            lines.append(f"  static _Alignas(64) unsigned char b{j}[{data.size}];")
            lines.append(f"  memcpy(b{j}, d{j}, {data.size});")
            args.append(f"({ELEM_C[case.ptr_elem]}*)b{j}")
            buffers.append(f"b{j}")
        else:
            lines.append(f"  {C_TYPES[p]} a{j}; memcpy(&a{j}, d{j}, sizeof a{j});")
            args.append(f"a{j}")
    call = f"{case.intr.name}({', '.join(args)})"
    if case.intr.result == "void":
        lines.append(f"  {call};")
    else:
        lines.append(f"  {C_TYPES[case.intr.result]} r = {call}; dump(&r, sizeof r);")
    for b in buffers:
        lines.append(f"  dump({b}, sizeof {b});")
    lines.append('  putchar(\'\\n\');\n}')
    return "\n".join(lines)


def _c_program(cases: list[Case]) -> str:
    head = """#include <immintrin.h>
#include <stdio.h>
#include <string.h>
static void dump(const void* p, size_t n) {
  const unsigned char* b = (const unsigned char*)p;
  for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
}
int main(void) {
"""
    return head + "\n".join(_c_case(k, c) for k, c in enumerate(cases)) + "\nreturn 0;\n}\n"


# ------------------------------------------------------------------------------------ IR side


def _evaluate(case: Case) -> bytes:
    """Runs the template of ``case.intr`` on the case's operands; returns the bytes the C
    program prints (the result, then every pointed-to buffer)."""
    ev = Evaluator()
    ops: list[Operand] = []
    buffers = []
    for j, (p, data) in enumerate(zip(case.intr.params, case.operands)):
        name = f"o{j}"
        if p.startswith("ptr:"):
            ev.declare(name, case.ptr_elem, data.copy().view(np_type(case.ptr_elem)))
            ops.append(PointerOperand(name, (ir.Const(0),), case.ptr_elem))
            buffers.append(name)
            continue
        elem, shape = storage(p)
        value = data.copy().view(np_type(elem))
        if shape:
            ev.declare(name, elem, value)
            ops.append(ArrayOperand(name, elem))
        else:
            ev.declare(name, elem, value[0])
            ops.append(ScalarOperand(ir.Var(name, elem)))
    out: Operand | None = None
    elem, shape = storage(case.intr.result)
    if shape:
        ev.declare("r", elem, np.zeros(shape, dtype=np_type(elem)))
        out = ArrayOperand("r", elem)
    elif case.intr.result != "void":
        ev.declare("r", elem, np_type(elem)(0))
        out = VarOut("r", elem)
    ev.run(case.intr.expand(ops, out, "l"))
    result = b""
    if out is not None:
        result += np.asarray(ev.arrays["r"] if shape else ev.scalars["r"]).tobytes()
    for b in buffers:
        result += ev.arrays[b].tobytes()
    return result


@pytest.fixture(scope="module")
def machine_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Case], list[bytes]]:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not available")
    cases = _cases()
    d = tmp_path_factory.mktemp("intrinsics")
    (d / "check.c").write_text(_c_program(cases))
    subprocess.run(["gcc", *GCC_FLAGS, "check.c", "-o", "check"], cwd=d, check=True, capture_output=True)
    out = subprocess.run([str(d / "check")], capture_output=True, text=True, check=True, timeout=60).stdout
    lines = out.splitlines()
    assert len(lines) == len(cases)
    return cases, [bytes.fromhex(x) for x in lines]


def test_every_x86_intrinsic_matches_the_machine(machine_results: tuple[list[Case], list[bytes]]) -> None:
    cases, results = machine_results
    checked = set()
    for case, expected in zip(cases, results):
        got = _evaluate(case)
        name = case.intr.name
        if case.intr.kind == "reduce" and ir.is_float(case.intr.result):
            lanes = np.abs(case.operands[0].view(np.float32).astype(np.float64)).sum()
            e, g = np.frombuffer(expected, np.float32)[0], np.frombuffer(got, np.float32)[0]
            assert abs(float(e) - float(g)) <= 1e-6 * lanes, (name, e, g)
        else:
            assert got == expected, (name, case.ptr_elem, expected.hex(), got.hex())
        checked.add(name)
    missing = {i.name for i in X86 if _cpu_has(i.isa)} - checked
    assert not missing


def test_the_machine_check_can_fail(machine_results: tuple[list[Case], list[bytes]]) -> None:
    """A subtly wrong template (dpbusd with signed instead of unsigned bytes of ``a``) is caught."""
    from passes.intrinsics import _dot4, _lanewise, _wrap

    cases, results = machine_results
    right = INTRINSICS["_mm512_dpbusd_epi32"]
    wrong = replace(right, template=_lanewise(
        "i32", 16, lambda l, o: _wrap("+", o[0].lane(l, "i32"), _dot4(o[1], o[2], l, "i8", "i8"))))
    pairs = [(c, r) for c, r in zip(cases, results) if c.intr is right]
    assert pairs and all(_evaluate(c) == r for c, r in pairs)
    assert any(_evaluate(Case(wrong, c.operands, c.ptr_elem)) != r for c, r in pairs)


def test_masked_load_does_not_touch_masked_lanes() -> None:
    """A maskz load at the end of a 5-element buffer with mask 0x1f must not read past it."""
    ev = Evaluator({"x": np.arange(5, dtype=np.float32) + 1}, calls=evaluation_handlers())
    x0 = ir.AddressOf("x", (ir.Const(0),))
    load = ir.Call("_mm512_maskz_loadu_ps", (ir.Const(0x1F, "u16"), x0), "m512")
    assert list(ev.expr(load)) == [1, 2, 3, 4, 5] + [0] * 11
    full = ir.Call("_mm512_maskz_loadu_ps", (ir.Const(0x3F, "u16"), x0), "m512")
    with pytest.raises(EvalError):
        ev.expr(full)
    ev.declare("b", "u8", np.zeros(3, np.uint8))
    sevens = ir.Call("_mm512_set1_epi32", (ir.Const(7),), "m512i")
    b0 = ir.AddressOf("b", (ir.Const(0),))
    store = ir.Call("_mm512_mask_storeu_epi32", (b0, ir.Const(0, "u16"), sevens), "void")
    ev.expr(store)  # mask 0: nothing is written, so nothing is out of bounds


def _dp4a_numpy(a: int, b: int, c: int, signed: bool) -> int:
    bt = np.int8 if signed else np.uint8
    ab = np.array([a % (1 << 32)], np.uint32).view(np.uint8).view(bt).astype(np.int64)
    bb = np.array([b % (1 << 32)], np.uint32).view(np.uint8).view(bt).astype(np.int64)
    total = (int(c) + int((ab * bb).sum())) % (1 << 32)
    return total - (1 << 32) if signed and total >= 1 << 31 else total


@pytest.mark.parametrize("signed", [True, False])
def test_dp4a_against_numpy(signed: bool) -> None:
    rng = np.random.default_rng(7)
    dt = "i32" if signed else "u32"
    ev = Evaluator(calls=evaluation_handlers())
    edges = [0, 0xFFFFFFFF, 0x80808080, 0x7F7F7F7F, 0x7FFFFFFF, 0x80000000]
    for trial in range(200):
        a, b, c = (int(rng.choice(edges)) if rng.random() < 0.3 else int(rng.integers(0, 1 << 32))
                   for _ in range(3))
        vals = [np.array([v], np.uint32).view(np_type(dt))[0] for v in (a, b, c)]
        for n, v in zip("abc", vals):
            ev.declare(n, dt, v)
        call = ir.Call("__dp4a", tuple(ir.Var(n, dt) for n in "abc"), dt)
        assert resolve(call, ev.types).name == ("__dp4a_s32" if signed else "__dp4a_u32")
        expected = _dp4a_numpy(int(vals[0]), int(vals[1]), int(vals[2]), signed)
        assert int(ev.expr(call)) == expected, (trial, a, b, c)


def test_dp4a_mixed_signedness_is_rejected() -> None:
    call = ir.Call("__dp4a", (ir.Var("a", "i32"), ir.Var("b", "u32"), ir.Var("c", "i32")), "i32")
    with pytest.raises(ir.UnsupportedConstruct):
        resolve(call, {})


def test_fmaf_rn_is_fused() -> None:
    """fma(a, b, -a*b) recovers the rounding error of a*b, which an unfused a*b+c loses."""
    ev = Evaluator(calls=evaluation_handlers())
    a = np.float32(1.0) + np.float32(2.0) ** -12
    p = a * a
    args = (ir.Const(float(a), "f32"), ir.Const(float(a), "f32"), ir.Const(float(-p), "f32"))
    got: Any = ev.expr(ir.Call("__fmaf_rn", args, "f32"))
    assert got == np.float32(2.0) ** -24 and got != a * a - p


def test_table_entries_are_well_formed() -> None:
    for name, intr in INTRINSICS.items():
        assert name == intr.name
        assert intr.kind in ("lanewise", "store", "reduce", "scalar")
        assert (intr.scalar is not None) == (intr.kind == "scalar")
        for p in intr.params:
            assert p.startswith("ptr:") or p == "imm" or p in ir.DTYPE_BITS, (name, p)
        if intr.kind != "scalar":
            assert intr.lanes * ir.DTYPE_BITS[intr.lane_dtype] in (256, 512), name


def test_evaluator_follows_c_integer_rules() -> None:
    """Truncating division, wrap-around, unsigned comparison, and views over bytes."""
    from passes.evaluate import binop

    i32, u32 = np.int32, np.uint32
    assert binop("/", i32(-7), i32(2)) == -3 and binop("%", i32(-7), i32(2)) == -1
    assert binop("+", i32(2**31 - 1), i32(1)) == -(2**31)
    assert binop("<", i32(-1), u32(0)) == 0  # -1 converts to 0xffffffff
    assert binop(">>", i32(-8), i32(1)) == -4
    ev = Evaluator({"b": np.zeros(8, np.uint8)})
    ev.exec([ir.Store("b", (ir.Const(4),), ir.Const(-2, "i32"), view="i32")])
    assert list(ev.arrays["b"]) == [0, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF]
    assert ev.expr(ir.Load("b", (ir.Const(4),), view="i16")) == -2
    with pytest.raises(EvalError):
        ev.expr(ir.Load("b", (ir.Const(6),), view="i32"))
