"""Tests of the printers: key lines of the text, and the text compiled (gcc, nvcc) and run (C).

Numeric checks compile printed C into a shared library and call it through ctypes, so that a
wrong parenthesis or a constant that lost precision shows up as a wrong number."""

from __future__ import annotations

import ctypes
import random
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

from passes import ir
from passes.ir import AddressOf, Assign, BinOp, Call, Cast, Const, Decl, ExprStmt, For, If, Load, Var
from passes.printer import print_expr, print_function, print_module

C_FLAGS = ["-std=c11", "-O1", "-fopenmp", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512vnni",
           "-Wall", "-Werror=parentheses", "-Werror=logical-not-parentheses"]


def cpu_has(flag: str) -> bool:
    try:
        return flag in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


def build_c(source: str, tmp_path: Path, name: str = "k") -> ctypes.CDLL:
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    lib = tmp_path / f"lib{name}.so"
    proc = subprocess.run(["gcc", *C_FLAGS, "-shared", "-fPIC", "-o", str(lib), str(src)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr + "\n" + source
    return ctypes.CDLL(str(lib))


def ptr(a: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(a.ctypes.data)


def f32(name: str) -> Var:
    return Var(name, "f32")


def i32(name: str) -> Var:
    return Var(name, "i32")


def kernel(name: str, params: Sequence[ir.Param], body: Sequence[ir.Stmt], **kw: object) -> ir.Function:
    return ir.Function(name, tuple(params), tuple(body), **kw)  # type: ignore[arg-type]


def div(x: ir.Expr, y: ir.Expr) -> ir.Expr:
    return BinOp("/", x, y)


def buf(name: str, dtype: str = "f32", const: bool = True) -> ir.Param:
    return ir.Param(name, dtype, pointer=True, const=const, restrict=True)


# ------------------------------------------------------------------ expressions


def test_minimal_parentheses() -> None:
    a, b, c = f32("a"), f32("b"), f32("c")
    assert print_expr((a + b) * c, "cpu") == "(a + b) * c"
    assert print_expr(a + b * c, "cpu") == "a + b * c"
    assert print_expr(a - (b - c), "cpu") == "a - (b - c)"
    assert print_expr((a - b) - c, "cpu") == "a - b - c"
    assert print_expr(div(a, b * c), "cpu") == "a / (b * c)"
    assert print_expr(-(a + b), "cpu") == "-(a + b)"
    assert print_expr(ir.UnOp("-", -a), "cpu") == "-(-a)"
    assert print_expr(-Const(-1), "cpu") == "-(-1)"
    assert print_expr(Cast("i32", a + b), "cpu") == "(int)(a + b)"
    x, y, z = i32("x"), i32("y"), i32("z")
    assert print_expr(BinOp("||", BinOp("&&", x, y), z), "cpu") == "(x && y) || z"
    assert print_expr(BinOp("&&", BinOp("<", x, y), BinOp("<", y, z)), "cpu") == "x < y && y < z"
    assert print_expr(BinOp("<<", x + y, Const(2)), "cpu") == "(x + y) << 2"
    assert print_expr(BinOp("<<", x, Const(2)) + y, "cpu") == "(x << 2) + y"
    assert print_expr(BinOp("&", x, BinOp("==", y, z)), "cpu") == "x & (y == z)"
    assert print_expr(ir.Select(BinOp("<", x, y), x, ir.Select(BinOp("<", y, z), y, z)), "cpu") == (
        "x < y ? x : (y < z ? y : z)")
    assert print_expr(Load("A", (x * Var("K") + y,)), "cpu") == "A[x * K + y]"


def test_constants() -> None:
    assert print_expr(Const(1.0, "f32"), "cpu") == "1.0f"
    assert print_expr(Const(0.5, "f32"), "cuda") == "0.5f"
    assert print_expr(Const(1e-5, "f32"), "cpu") == "1e-05f"
    assert print_expr(Const(0.1, "f64"), "cpu") == "0.1"
    assert print_expr(Const(3, "u32"), "cpu") == "3u"
    assert print_expr(Const(0xFFFFFFFF, "u32"), "cuda") == "0xffffffffu"
    assert print_expr(Const(7), "cpu") == "7"
    assert print_expr(Const(1, "i64"), "cpu") == "1LL"
    assert print_expr(Const(True, "bool"), "cpu") == "true"
    assert print_expr(Const(-2**31), "cpu") == "(-2147483647 - 1)"


def test_math_spellings() -> None:
    x = f32("x")
    assert print_expr(Call("exp", (x,), "f32"), "cpu") == "expf(x)"
    assert print_expr(Call("exp", (Var("d", "f64"),), "f64"), "cpu") == "exp(d)"
    assert print_expr(div(f32("a"), Call("rsqrt", (x,), "f32")), "cpu") == "a / (1.0f / sqrtf(x))"
    assert print_expr(Call("rsqrt", (x,), "f32"), "cuda") == "rsqrtf(x)"
    assert print_expr(Call("max", (i32("a"), i32("b")), "i32"), "cpu") == "max_i32(a, b)"
    assert print_expr(Call("max", (i32("a"), i32("b")), "i32"), "cuda") == "max(a, b)"
    assert print_expr(Call("max", (x, f32("y")), "f32"), "cuda") == "fmaxf(x, y)"
    assert print_expr(Call("sign", (x + 1.0,), "f32"), "cpu") == "copysignf(1.0f, x + 1.0f)"
    half = Var("h", "f16")
    assert print_expr(Cast("f16", x), "cuda") == "__float2half(x)"
    assert print_expr(Cast("f32", half), "cuda") == "__half2float(h)"
    assert print_expr(Cast("i32", half), "cuda") == "(int)__half2float(h)"
    assert print_expr(Cast("f16", i32("n")), "cuda") == "__float2half((float)n)"
    assert print_expr(Cast("f16", x), "cpu") == "(_Float16)x"


# ------------------------------------------------------------------ C: compiled and run


def test_float_constants_survive_compilation(tmp_path: Path) -> None:
    values = [0.1, 1e-5, 3.4028234663852886e38, 1.1754943508222875e-38, 1e-45, 16777217.0, -0.0,
              2.0 / 3.0, 1.0, float("inf")]
    body32 = [ir.Store("o32", (Const(k),), Const(v, "f32")) for k, v in enumerate(values)]
    body64 = [ir.Store("o64", (Const(k),), Const(v, "f64")) for k, v in enumerate(values)]
    fn = kernel("consts", [buf("o32", const=False), buf("o64", "f64", const=False)], body32 + body64)
    lib = build_c(print_module(ir.Module((fn,), "cpu"), "cpu"), tmp_path)
    o32, o64 = np.zeros(len(values), np.float32), np.zeros(len(values), np.float64)
    lib.consts(ptr(o32), ptr(o64))
    assert o32.tobytes() == np.array(values, np.float32).tobytes()
    assert o64.tobytes() == np.array(values, np.float64).tobytes()


def test_elementwise_kernel_runs(tmp_path: Path) -> None:
    i = i32("i")
    body = ir.Store("c", (i,), f32("alpha") * Load("a", (i,)) - (Load("b", (i,)) - 1.5))
    fn = kernel("axpb", [buf("a"), buf("b"), buf("c", const=False), ir.Param("alpha", "f32"),
                         ir.Param("n", "i32")],
                [For("i", Const(0), i32("n"), Const(1), (body,))])
    text = print_module(ir.Module((fn,), "cpu"), "cpu")
    assert "void axpb(const float* restrict a, const float* restrict b, float* restrict c, " \
           "float alpha, int n) {" in text
    assert "    for (int i = 0; i < n; i++) {" in text
    assert "        c[i] = alpha * a[i] - (b[i] - 1.5f);" in text
    assert "#include <stdint.h>" in text and "immintrin" not in text
    lib = build_c(text, tmp_path)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(37).astype(np.float32), rng.standard_normal(37).astype(np.float32)
    c = np.zeros(37, np.float32)
    lib.axpb(ptr(a), ptr(b), ptr(c), ctypes.c_float(0.75), ctypes.c_int(37))
    assert np.array_equal(c, np.float32(0.75) * a - (b - np.float32(1.5)))


def test_openmp_gemm_runs(tmp_path: Path) -> None:
    i, j, k = i32("i"), i32("j"), i32("k")
    M, N, K = i32("M"), i32("N"), i32("K")
    inner = For("k", Const(0), K, Const(1), (
        Assign("acc", f32("acc") + Load("A", (i * K + k,)) * Load("B", (k * N + j,))),))
    j_loop = For("j", Const(0), N, Const(1), (
        Decl("acc", "f32", init=Const(0.0, "f32")), inner, ir.Store("C", (i * N + j,), f32("acc"))),
        kind=ir.VECTORIZED)
    i_loop = For("i", Const(0), M, Const(1), (j_loop,), kind=ir.PARALLEL,
                 annotations=(("num_threads", 2),))
    fn = kernel("gemm", [buf("A"), buf("B"), buf("C", const=False), ir.Param("M", "i32"),
                         ir.Param("N", "i32"), ir.Param("K", "i32")], [i_loop])
    text = print_module(ir.Module((fn,), "cpu"), "cpu")
    lines = text.splitlines()
    at = lines.index("    #pragma omp parallel for num_threads(2)")
    assert lines[at + 1] == "    for (int i = 0; i < M; i++) {"
    assert lines[at + 2] == "        #pragma omp simd"
    assert "                acc += A[i * K + k] * B[k * N + j];" in lines
    verbatim = replace(i_loop, annotations=(("omp", "parallel for schedule(static)"),))
    omp = ir.Module((kernel("g2", fn.params, [verbatim]),), "cpu")
    assert "#pragma omp parallel for schedule(static)\n" in print_module(omp, "cpu")
    both = replace(i_loop, annotations=(("omp", "parallel for num_threads(4)"), ("num_threads", 2)))
    printed = print_function(kernel("g3", fn.params, [both]), "cpu")
    assert "#pragma omp parallel for num_threads(4)\n" in printed
    lib = build_c(text, tmp_path)
    rng = np.random.default_rng(1)
    A = rng.integers(-4, 4, (5, 7)).astype(np.float32)
    B = rng.integers(-4, 4, (7, 3)).astype(np.float32)
    C = np.zeros((5, 3), np.float32)
    lib.gemm(ptr(A), ptr(B), ptr(C), 5, 3, 7)
    assert np.array_equal(C, A @ B)


def test_avx512_relu(tmp_path: Path) -> None:
    i = i32("i")
    zero = Decl("zero", "m512", init=Call("_mm512_setzero_ps", (), "m512"))
    v = Call("_mm512_max_ps", (Call("_mm512_loadu_ps", (AddressOf("x", (i,)),), "m512"), Var("zero", "m512")),
             "m512")
    loop = For("i", Const(0), i32("n"), Const(16), (
        ExprStmt(Call("_mm512_storeu_ps", (AddressOf("y", (i,)), v), "void")),))
    fn = kernel("relu", [buf("x"), buf("y", const=False), ir.Param("n", "i32")], [zero, loop])
    text = print_module(ir.Module((fn,), "cpu"), "cpu")
    assert "#include <immintrin.h>" in text
    assert "    __m512 zero = _mm512_setzero_ps();" in text
    assert "    for (int i = 0; i < n; i += 16) {" in text
    assert "        _mm512_storeu_ps(&y[i], _mm512_max_ps(_mm512_loadu_ps(&x[i]), zero));" in text
    lib = build_c(text, tmp_path)
    if cpu_has("avx512f"):
        x = np.linspace(-3, 3, 48).astype(np.float32)
        y = np.zeros_like(x)
        lib.relu(ptr(x), ptr(y), 48)
        assert np.array_equal(y, np.maximum(x, 0))


def test_vnni_dot_with_view_load(tmp_path: Path) -> None:
    k = i32("k")
    acc = Var("acc", "m512i")
    b4 = Load("b", (k,), view="i32")  # 4 signed bytes of b read as one int
    step = Assign("acc", Call("_mm512_dpbusd_epi32", (
        acc, Call("_mm512_loadu_si512", (AddressOf("a", (k * 16,)),), "m512i"),
        Call("_mm512_set1_epi32", (b4,), "m512i")), "m512i"))
    fn = kernel("dot_u8s8", [buf("a", "u8"), buf("b", "i8"), buf("out", "i32", const=False),
                             ir.Param("K", "i32")], [
        Decl("acc", "m512i", init=Call("_mm512_setzero_si512", (), "m512i")),
        For("k", Const(0), i32("K"), Const(4), (step,)),
        ExprStmt(Call("_mm512_storeu_si512", (AddressOf("out", (Const(0),)), acc), "void")),
    ])
    text = print_module(ir.Module((fn,), "cpu"), "cpu")
    assert "_mm512_set1_epi32(*(const int*)&b[k])" in text
    assert "acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(&a[k * 16]), " in text
    lib = build_c(text, tmp_path)
    if cpu_has("avx512_vnni"):
        rng = np.random.default_rng(2)
        K = 8
        a = rng.integers(0, 256, (K // 4, 16, 4)).astype(np.uint8)  # a[k*16 + lane*4 + t]
        b = rng.integers(-128, 128, K).astype(np.int8)
        out = np.zeros(16, np.int32)
        lib.dot_u8s8(ptr(a), ptr(b), ptr(out), K)
        expect = np.einsum("klt,kt->l", a.astype(np.int64), b.reshape(K // 4, 4).astype(np.int64))
        assert np.array_equal(out, expect)


def test_int_minmax_helpers_and_control_flow(tmp_path: Path) -> None:
    x = i32("x")
    chain = If(BinOp("<", x, Const(0)), (ir.Return(Const(-1)),), (
        If(BinOp("==", x, Const(0)), (ir.Return(Const(0)),), (
            ir.Return(Call("min", (Call("max", (x, Const(1)), "i32"), Const(9)), "i32")),)),))
    helper = ir.Function("clampsign", (ir.Param("x", "i32"),), (chain,), kind=ir.DEVICE, ret_dtype="i32")
    i = i32("i")
    k = kernel("apply", [buf("a", "i32"), buf("o", "i32", const=False), ir.Param("n", "i32")], [
        For("i", Const(0), i32("n"), Const(1), (
            ir.Store("o", (i,), Call("clampsign", (Load("a", (i,)),), "i32")),), kind=ir.UNROLLED,
            annotations=(("unroll", 4),))])
    text = print_module(ir.Module((k, helper), "cpu"), "cpu")  # helper listed after its caller
    assert text.index("static inline int clampsign(int x)") < text.index("void apply(")
    assert "static inline int max_i32(int a, int b) { return a > b ? a : b; }" in text
    assert "    } else if (x == 0) {\n        return 0;\n    } else {\n" in text
    assert "    #pragma GCC unroll 4\n" in text
    lib = build_c(text, tmp_path)
    a = np.array([-5, 0, 3, 20, 1], np.int32)
    o = np.zeros_like(a)
    lib.apply(ptr(a), ptr(o), 5)
    assert o.tolist() == [-1, 0, 3, 9, 1]


def half_kernel() -> ir.Function:
    """o[i] = (float)(f16)x[i], p[i] = (float)(bf16)x[i], and a bf16 store and reload."""
    i = i32("i")
    x = Load("x", (i,))
    return kernel("halves", [buf("x"), buf("o", const=False), buf("p", const=False),
                             buf("hb", "bf16", const=False), ir.Param("n", "i32")], [
        For("i", Const(0), i32("n"), Const(1), (
            Decl("h", "f16", init=Cast("f16", x)),
            ir.Store("hb", (i,), Cast("bf16", x)),
            ir.Store("o", (i,), Cast("f32", Var("h", "f16"))),
            ir.Store("p", (i,), Cast("f32", Load("hb", (i,))) + Cast("f32", Const(0.0, "bf16"))),
        ))])


def test_f16_bf16_conversions_run(tmp_path: Path) -> None:
    text = print_module(ir.Module((half_kernel(),), "cpu"), "cpu")
    assert "    _Float16 h = (_Float16)x[i];" in text
    assert "        hb[i] = f32_to_bf16(x[i]);" in text
    assert "        p[i] = bf16_to_f32(hb[i]) + bf16_to_f32(f32_to_bf16(0.0f));" in text
    lib = build_c(text, tmp_path)
    x = np.array([1.0, 1 / 3, -2.5e-3, 65504.0, 1e6, 3.0e38, -0.0, np.nan, 1.00390625, 1.01171875],
                 np.float32)
    o, p = np.zeros_like(x), np.zeros_like(x)
    hb = np.zeros(len(x), np.uint16)
    lib.halves(ptr(x), ptr(o), ptr(p), ptr(hb), len(x))
    with np.errstate(over="ignore"):
        assert np.array_equal(o, x.astype(np.float16).astype(np.float32), equal_nan=True)
    bits = x.view(np.uint32).astype(np.uint64)
    rne = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint32) << 16  # round to nearest even
    expect = rne.astype(np.uint32).view(np.float32)
    assert np.array_equal(p[~np.isnan(x)], expect[~np.isnan(x)])
    assert np.isnan(p[np.isnan(x)]).all()
    assert text.count("f32_to_bf16") >= 3


# ---- random integer expressions: printed C must compute what C semantics say the tree means


class UB(Exception):
    """The tree would have undefined behaviour for some input; the generator drops it."""


M32 = 1 << 32


def static_type(e: ir.Expr) -> str:
    if isinstance(e, Const):
        return "u" if e.dtype == "u32" else "i"
    if isinstance(e, Var):
        return "u"
    if isinstance(e, ir.UnOp):
        return "i" if e.op == "!" else static_type(e.a)
    if isinstance(e, ir.Select):
        return common(static_type(e.a), static_type(e.b))
    assert isinstance(e, BinOp)
    if e.op in ("<", "<=", ">", ">=", "==", "!=", "&&", "||"):
        return "i"
    if e.op in ("<<", ">>"):
        return static_type(e.a)
    return common(static_type(e.a), static_type(e.b))


def common(a: str, b: str) -> str:
    return "u" if "u" in (a, b) else "i"


def conv(v: int, t: str) -> int:
    return v % M32 if t == "u" else v


def checked(v: int, t: str) -> int:
    if t == "u":
        return v % M32
    if not -(1 << 31) <= v < (1 << 31):
        raise UB("signed overflow")
    return v


def c_eval(e: ir.Expr, env: dict[str, int]) -> int:
    """Value of ``e`` under C rules for 32-bit int/unsigned (gcc: arithmetic right shift)."""
    t = static_type(e)
    if isinstance(e, Const):
        return conv(int(e.value), t)
    if isinstance(e, Var):
        return env[e.name]
    if isinstance(e, ir.UnOp):
        v = c_eval(e.a, env)
        return int(v == 0) if e.op == "!" else checked(-v if e.op == "-" else ~v, t)
    if isinstance(e, ir.Select):
        return conv(c_eval(e.a if c_eval(e.cond, env) else e.b, env), t)
    assert isinstance(e, BinOp)
    if e.op in ("&&", "||"):
        first = c_eval(e.a, env) != 0
        if first == (e.op == "||"):
            return int(first)
        return int(c_eval(e.b, env) != 0)
    a, b = c_eval(e.a, env), c_eval(e.b, env)
    if e.op in ("<<", ">>"):
        if not 0 <= b < 32 or (t == "i" and e.op == "<<" and a < 0):
            raise UB("shift")
        return checked(a << b, t) if e.op == "<<" else a >> b
    ct = common(static_type(e.a), static_type(e.b))
    a, b = conv(a, ct), conv(b, ct)
    if e.op in ("<", "<=", ">", ">=", "==", "!="):
        return int({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[e.op])
    if e.op in ("/", "%"):
        if b == 0:
            raise UB("division by zero")
        q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
        return checked(q if e.op == "/" else a - q * b, ct)
    ops = {"+": a + b, "-": a - b, "*": a * b, "&": a & b, "|": a | b, "^": a ^ b}
    return checked(ops[e.op], ct)


BINOPS = ["+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "<", "<=", ">", ">=", "==", "!=", "&&", "||"]


def random_tree(rng: random.Random, depth: int) -> ir.Expr:
    if depth == 0 or rng.random() < 0.2:
        r = rng.random()
        if r < 0.5:
            return Var(rng.choice("abc"), "u32")
        return Const(rng.randint(0, 9), "u32" if r < 0.7 else "i32")
    r = rng.random()
    if r < 0.1:
        return ir.UnOp(rng.choice("-~!"), random_tree(rng, depth - 1))
    if r < 0.2:
        return ir.Select(*(random_tree(rng, depth - 1) for _ in range(3)))
    return BinOp(rng.choice(BINOPS), random_tree(rng, depth - 1), random_tree(rng, depth - 1))


def test_random_int_expressions_evaluate_as_c(tmp_path: Path) -> None:
    rng = random.Random(7)
    inputs = [{"a": a, "b": b, "c": c} for a, b, c in
              [(1, 2, 3), (0, 7, 0xFFFFFFFF), (0x80000000, 5, 31), (12345, 0xFFFFFFF0, 2)]]
    trees: list[ir.Expr] = []
    expected: list[list[int]] = []
    while len(trees) < 200:
        tree = random_tree(rng, 4)
        try:
            values = [c_eval(tree, env) for env in inputs]
        except UB:
            continue
        trees.append(tree)
        expected.append(values)
    body: list[ir.Stmt] = [Decl(n, "u32", init=Load("in", (Const(k),))) for k, n in enumerate("abc")]
    body += [ir.Store("out", (Const(k),), Cast("i64", t)) for k, t in enumerate(trees)]
    fn = kernel("eval_all", [buf("in", "u32"), buf("out", "i64", const=False)], body)
    lib = build_c(print_module(ir.Module((fn,), "cpu"), "cpu"), tmp_path)
    for col, env in enumerate(inputs):
        inp = np.array([env["a"], env["b"], env["c"]], np.uint32)
        out = np.zeros(len(trees), np.int64)
        lib.eval_all(ptr(inp), ptr(out))
        got = out.tolist()
        for k, tree in enumerate(trees):
            assert got[k] == expected[k][col], print_expr(tree, "cpu")


def test_float_association_runs(tmp_path: Path) -> None:
    a, b, c = f32("a"), f32("b"), f32("c")
    exprs = [a - (b - c), a - b - c, a * div(b, c), div(a, b * c), div(a, Call("rsqrt", (b,), "f32")),
             a + (b + c), -(a - b) * c]
    fn = kernel("fl", [ir.Param("a", "f32"), ir.Param("b", "f32"), ir.Param("c", "f32"),
                       buf("o", const=False)], [ir.Store("o", (Const(k),), e) for k, e in enumerate(exprs)])
    lib = build_c(print_module(ir.Module((fn,), "cpu"), "cpu"), tmp_path)
    o = np.zeros(len(exprs), np.float32)
    av, bv, cv = np.float32(1e8), np.float32(3.0), np.float32(0.1)
    lib.fl(ctypes.c_float(float(av)), ctypes.c_float(float(bv)), ctypes.c_float(float(cv)), ptr(o))
    expect = [av - (bv - cv), av - bv - cv, av * (bv / cv), av / (bv * cv),
              av / (np.float32(1.0) / np.sqrt(bv)), av + (bv + cv), -(av - bv) * cv]
    assert o.tolist() == np.array(expect, np.float32).tolist()


# ------------------------------------------------------------------ errors


def test_gpu_constructs_rejected_on_cpu() -> None:
    tid = ir.Builtin("threadIdx.x")
    cases: list[tuple[ir.Stmt, str]] = [
        (ir.Store("y", (tid,), Const(1.0, "f32")), "threadIdx.x"),
        (ir.Sync("block"), "barrier"),
        (ExprStmt(Call("atomicAdd", (AddressOf("y", (Const(0),)), Const(1.0, "f32")), "f32")), "atomicAdd"),
        (Decl("t", "f32", (32,), scope=ir.SHARED), "shared memory"),
    ]
    for stmt, word in cases:
        fn = kernel("k", [buf("y", const=False)], [stmt])
        with pytest.raises(ir.UnsupportedConstruct, match=word) as info:
            print_module(ir.Module((fn,), "cuda"), "cpu")
        assert "loop recovery" in str(info.value)
    host = kernel("h", [], [ir.Launch("k", (Const(1),) * 3, (Const(1),) * 3, ())], kind=ir.HOST)
    with pytest.raises(ir.UnsupportedConstruct, match="launch"):
        print_function(host, "cpu")


def test_x86_rejected_on_gpu() -> None:
    load = Call("_mm512_loadu_ps", (AddressOf("x", (Const(0),)),), "m512")
    fn = kernel("k", [buf("x")], [Decl("v", "m512", init=load)])
    for platform in ("cuda", "hip"):
        with pytest.raises(ir.UnsupportedConstruct, match="detensorisation"):
            print_module(ir.Module((fn,), "cpu"), platform)


# ------------------------------------------------------------------ CUDA and HIP


def gpu_module() -> ir.Module:
    """A helper with a shuffle loop, a kernel with shared/local arrays, barrier, atomics, a view
    load and a half conversion, a dynamic-shared kernel, and a host launcher."""
    v, off = f32("v"), i32("off")
    warp_sum = ir.Function("warp_sum", (ir.Param("v", "f32"),), (
        For("off", Const(16), Const(0), Const(1), (
            Assign("v", v + Call("__shfl_down_sync", (Const(0xFFFFFFFF, "u32"), v, off), "f32")),),
            cmp=">", update=">>"),
        ir.Return(v)), kind=ir.DEVICE, ret_dtype="f32")
    tid, k, n = i32("tid"), i32("k"), i32("n")
    bx = ir.Builtin("blockIdx.x")
    row = kernel("row_sum", [buf("x"), buf("h", "f16"), buf("q", "u8"), buf("out", const=False),
                             buf("counts", "i32", const=False), ir.Param("n", "i32")], [
        Decl("tile", "f32", (8, 33), scope=ir.SHARED),
        Decl("acc", "f32", (4,), init=tuple(Const(0.0, "f32") for _ in range(4)), scope=ir.LOCAL),
        Decl("tid", "i32", init=Cast("i32", ir.Builtin("threadIdx.x")), const=True),
        For("k", Const(0), Const(4), Const(1), (
            ir.Store("acc", (k,), Load("x", (Cast("i32", bx) * n + tid * 4 + k,))
                     + Cast("f32", Load("h", (tid,)))),), kind=ir.UNROLLED),
        ir.Store("tile", (tid // 32, tid % 32), Load("acc", (Const(0),)) + Load("acc", (Const(1),))),
        ir.Sync("block"),
        Decl("s", "f32", init=Call("warp_sum", (Load("tile", (tid // 32, tid % 32)),), "f32")),
        If(BinOp("==", tid % 32, Const(0)), (
            ExprStmt(Call("atomicAdd", (AddressOf("out", (bx,)), f32("s")), "f32")),)),
        If(BinOp("!=", Load("q", (tid * 4,), view="i32"), Const(0)), (
            ExprStmt(Call("atomicAdd", (AddressOf("counts", (Const(0),)), Const(1)), "i32")),)),
        ir.Sync("warp"),
    ], launch_bounds=(256,))
    dyn = kernel("scale_dyn", [buf("y", const=False), ir.Param("n", "i32")], [
        Decl("buf", "f32", (-1,), scope=ir.SHARED),
        ir.Store("buf", (Cast("i32", ir.Builtin("threadIdx.x")),), Const(2.0, "f32")),
        ir.Sync("block"),
        ir.Store("y", (Cast("i32", ir.Builtin("threadIdx.x")),), Load("buf", (Const(0),)) * 0.5),
    ])
    grid = (Var("rows"), Const(1), Const(1))
    host = ir.Function("launch", (buf("x"), buf("h", "f16"), buf("q", "u8"), buf("out", const=False),
                                  buf("counts", "i32", const=False), buf("y", const=False),
                                  ir.Param("rows", "i32"), ir.Param("n", "i32")), (
        ir.Launch("row_sum", grid, (Const(256), Const(1), Const(1)),
                  tuple(Var(p) for p in ("x", "h", "q", "out", "counts", "n"))),
        ir.Launch("scale_dyn", (Var("rows"), Const(2), Const(1)), (Const(16), Const(16), Const(1)),
                  (Var("y"), Var("n")), shared_bytes=Const(1024)),
    ), kind=ir.HOST)
    return ir.Module((host, row, warp_sum, dyn), "cuda")


def test_cuda_text() -> None:
    text = print_module(gpu_module(), "cuda")
    for line in [
        "#include <cuda_runtime.h>", "#include <cuda_fp16.h>",
        "__device__ __forceinline__ float warp_sum(float v) {",
        "    for (int off = 16; off > 0; off >>= 1) {",
        "        v += __shfl_down_sync(0xffffffffu, v, off);",
        "    __shared__ float tile[8][33];",
        "    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};",
        "    const int tid = (int)threadIdx.x;",
        "    #pragma unroll",
        "        acc[k] = x[(int)blockIdx.x * n + tid * 4 + k] + __half2float(h[tid]);",
        "    __syncthreads();",
        "        atomicAdd(&out[blockIdx.x], s);",
        "    if ((*(const int*)&q[tid * 4]) != 0) {",
        "    __syncwarp();",
        "    extern __shared__ float buf[];",
        "    row_sum<<<rows, 256>>>(x, h, q, out, counts, n);",
        "    scale_dyn<<<dim3(rows, 2), dim3(16, 16), 1024>>>(y, n);",
    ]:
        assert line in text.splitlines(), line
    flat = " ".join(text.split())
    assert ("__global__ void __launch_bounds__(256) row_sum(const float* __restrict__ x, "
            "const half* __restrict__ h, const uint8_t* __restrict__ q, float* __restrict__ out, "
            "int* __restrict__ counts, int n) {") in flat
    assert max(len(line) for line in text.splitlines()) <= 104  # long signatures wrap
    order = [text.index(s) for s in ("float warp_sum(", "void __launch_bounds__(256) row_sum(",
                                        "void scale_dyn(", "void launch(")]
    assert order == sorted(order)


def test_hip_text() -> None:
    text = print_module(gpu_module(), "hip")
    lines = text.splitlines()
    assert lines[:3] == ["#include <hip/hip_runtime.h>", "#include <stdint.h>", "#include <hip/hip_fp16.h>"]
    assert "cuda" not in text
    assert "        v += __shfl_down(v, off);" in lines
    assert "const __half* __restrict__ h" in text
    halves = print_module(ir.Module((half_kernel(),), "cpu"), "hip")
    assert "#include <hip/hip_bfloat16.h>" in halves
    assert "        hb[i] = (hip_bfloat16)x[i];" in halves and "__half h = __float2half(x[i]);" in halves
    assert "__builtin_amdgcn_wave_barrier();" in text
    assert "    row_sum<<<rows, 256>>>(x, h, q, out, counts, n);" in lines
    ballot = Call("__ballot_sync", (Const(0xFFFFFFFF, "u32"), BinOp("<", i32("a"), Const(3))), "u32")
    assert print_expr(ballot, "hip") == "__ballot(a < 3)"


def test_includes_filtered_per_target() -> None:
    fn = kernel("k", [buf("y", const=False)], [ir.Store("y", (Const(0),), Const(1.0, "f32"))])
    mod = ir.Module((fn,), "cuda", includes=("<cuda_runtime.h>", "mma.h", "<stdio.h>", "immintrin.h"))
    c_text = print_module(mod, "cpu")
    assert "#include <stdio.h>" in c_text and "cuda" not in c_text and "mma" not in c_text
    assert "immintrin" not in print_module(mod, "cuda")
    assert "#include <mma.h>" not in print_module(mod, "hip")


def wmma_kernel() -> ir.Function:
    frag = "opaque:wmma::fragment<wmma::{}, 16, 16, 16, {}>"
    a_t = frag.format("matrix_a", "half, wmma::row_major")
    b_t = frag.format("matrix_b", "half, wmma::col_major")
    c_t = frag.format("accumulator", "float")
    a, b, c = Var("a", a_t), Var("b", b_t), Var("c", c_t)
    z = Const(0)
    return kernel("wmma16", [buf("A", "f16"), buf("B", "f16"), buf("C", const=False)], [
        Decl("a", a_t), Decl("b", b_t), Decl("c", c_t),
        ExprStmt(Call("wmma::fill_fragment", (c, Const(0.0, "f32")), "void")),
        ExprStmt(Call("wmma::load_matrix_sync", (a, AddressOf("A", (z,)), Const(16)), "void")),
        ExprStmt(Call("wmma::load_matrix_sync", (b, AddressOf("B", (z,)), Const(16)), "void")),
        ExprStmt(Call("wmma::mma_sync", (c, a, b, c), "void")),
        ExprStmt(Call("wmma::store_matrix_sync", (AddressOf("C", (z,)), c, Const(16),
                                                  Var("wmma::mem_row_major")), "void")),
    ])


def test_wmma_text_and_hip_rejects_it() -> None:
    text = print_module(ir.Module((wmma_kernel(),), "cuda"), "cuda")
    assert "#include <mma.h>" in text and "using namespace nvcuda;" in text
    assert "    wmma::fragment<wmma::accumulator, 16, 16, 16, float> c;" in text
    with pytest.raises(ir.UnsupportedConstruct, match="WMMA"):
        print_module(ir.Module((wmma_kernel(),), "cuda"), "hip")


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed")
def test_cuda_compiles_with_nvcc(tmp_path: Path) -> None:
    mod = gpu_module()
    mod = replace(mod, functions=mod.functions + (wmma_kernel(), half_kernel()))
    src = tmp_path / "k.cu"
    src.write_text(print_module(mod, "cuda"))
    proc = subprocess.run(["nvcc", "-arch=sm_80", "-c", "-o", str(tmp_path / "k.o"), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr + "\n" + src.read_text()


def test_thread_loop_comment_and_print_function() -> None:
    i = i32("i")
    loop = For("i", Const(0), Const(32), Const(1), (ir.Store("y", (i,), Const(0.0, "f32")),),
               kind=ir.THREAD, binding="threadIdx.x")
    fn = ir.Function("zero", (buf("y", const=False),), (loop,), kind=ir.DEVICE)
    assert print_function(fn, "cpu").splitlines() == [
        "static inline void zero(float* restrict y) {",
        "    // thread loop bound to threadIdx.x",
        "    for (int i = 0; i < 32; i++) {",
        "        y[i] = 0.0f;",
        "    }",
        "}",
    ]
    hip = print_function(fn, "hip")
    assert hip.startswith("__device__ __forceinline__ void zero(float* __restrict__ y) {")


# ------------------------------------------------------------------ round trip through the front end

ROUND_TRIP_SOURCES = {
    "cpu": """
void scale_shift(const float* restrict x, float* restrict y, int n, float a) {
    #pragma omp parallel for
    for (int i = 0; i < n; i++) {
        float v = a * x[i] - (x[i] - 1.5f);
        if (v > 0.0f && i % 2 == 0) {
            y[i] = expf(v);
        } else {
            y[i] += v;
        }
    }
}
""",
    "cpu-avx": """
#include <immintrin.h>
void dot(const uint8_t* restrict a, const int8_t* restrict b, int* restrict out, int K) {
    __m512i acc = _mm512_setzero_si512();
    for (int k = 0; k < K; k += 4) {
        acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(&a[k * 16]), _mm512_set1_epi32(*(const int*)&b[k]));
    }
    _mm512_storeu_si512(out, acc);
}
""",
    "hip": """
#include <hip/hip_runtime.h>
__global__ void warp_total(const float* __restrict__ x, float* __restrict__ out) {
    float v = x[threadIdx.x];
    for (int off = 32; off > 0; off >>= 1) {
        v += __shfl_down(v, off);
    }
    if (threadIdx.x == 0) {
        out[blockIdx.x] = v;
    }
}
""",
    "cuda": """
__device__ float warp_sum(float v) {
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_down_sync(0xffffffff, v, off);
    }
    return v;
}

__global__ void __launch_bounds__(256) row_sum(const float* __restrict__ x, float* __restrict__ out, int n) {
    __shared__ float tile[256];
    int tid = threadIdx.x;
    float acc = 0.0f;
    #pragma unroll 4
    for (int i = tid; i < n; i += 256) {
        acc += x[blockIdx.x * n + i];
    }
    tile[tid] = acc;
    __syncthreads();
    float s = warp_sum(tile[tid]);
    if (tid % 32 == 0) {
        atomicAdd(&out[blockIdx.x], s);
    }
}

void launch(const float* x, float* out, int rows, int n) {
    row_sum<<<rows, 256>>>(x, out, n);
}
""",
}


@pytest.mark.parametrize("platform", sorted(ROUND_TRIP_SOURCES))
def test_round_trip_through_front_end(platform: str) -> None:
    """parse -> print -> parse gives the same IR, and printing is then a fixed point."""
    try:
        from passes.frontend import parse_module  # type: ignore[attr-defined]
    except ImportError:
        pytest.skip("front end (passes.frontend.parse_module) not available yet")

    def functions(m: ir.Module) -> tuple[ir.Function, ...]:
        return tuple(replace(f, line=0) for f in m.functions)  # line numbers move when reprinted

    target = platform.split("-")[0]
    first = parse_module(ROUND_TRIP_SOURCES[platform], target)
    text = print_module(first, target)
    second = parse_module(text, target)
    assert functions(second) == functions(first), text
    assert print_module(second, target) == text
