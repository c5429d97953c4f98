"""Tests of the front end (passes/frontend): source text -> IR, and launch geometry."""

from __future__ import annotations

import glob
import os
from typing import Any

import pytest

from passes import ir
from passes.frontend import find_launch, parse_module
from passes.ir import AddressOf, Assign, BinOp, Builtin, Call, Cast, Const, Decl, For, If, Load, Store, Var

I, N = Var("i", "i32"), Var("n", "i32")


def body(src: str, platform: str = "cuda", name: str | None = None) -> tuple[Any, ...]:
    m = parse_module(src, platform)
    fn = m.function(name) if name else m.functions[-1]
    return fn.body


def kernel_body(stmts: str, params: str = "float* x, float* y, int n",
                platform: str = "cuda") -> tuple[Any, ...]:
    prefix = "__global__ " if platform != "cpu" else ""
    return body(f"{prefix}void k({params}) {{\n{stmts}\n}}\n", platform, "k")


def raises(src: str, platform: str, construct: str, line: int) -> ir.UnsupportedConstruct:
    with pytest.raises(ir.UnsupportedConstruct) as info:
        parse_module(src, platform)
    assert construct in info.value.construct, info.value
    assert info.value.line == line, info.value
    return info.value


# -------------------------------------------------------------------------------- whole functions

RELU_CU = """#include <cuda_runtime.h>
__global__ void relu(const float* __restrict__ x, float* __restrict__ y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    }
}
void launch(const float* x, float* y, int n) {
    relu<<<(n + 255) / 256, 256>>>(x, y, n);
}
"""


def test_relu_matches_hand_built_ir() -> None:
    m = parse_module(RELU_CU, "cuda")
    gid = BinOp("+", BinOp("*", Builtin("blockIdx.x"), Builtin("blockDim.x")), Builtin("threadIdx.x"))
    xi = Load("x", (I,))
    expected = ir.Function(
        "relu",
        (ir.Param("x", "f32", True, True, True), ir.Param("y", "f32", True, False, True),
         ir.Param("n", "i32")),
        (Decl("i", "i32", (), gid),
         If(BinOp("<", I, N), (Store("y", (I,), ir.Select(BinOp(">", xi, Const(0.0, "f32")), xi,
                                                           Const(0.0, "f32"))),))),
        ir.KERNEL, line=2)
    assert m.function("relu") == expected
    assert m.includes == ("cuda_runtime.h",)
    host = m.function("launch")
    assert host.kind == ir.HOST
    launch = host.body[0]
    assert isinstance(launch, ir.Launch) and launch.kernel == "relu"
    assert launch.args == (AddressOf("x", (Const(0),)), AddressOf("y", (Const(0),)), N)


def test_c_kernel_with_omp_and_helper() -> None:
    src = """#include <math.h>
static inline float sq(float a) { return a * a; }
void k(const float* x, float* y, int n) {
    #pragma omp parallel for num_threads(4)
    for (int i = 0; i < n; i++) {
        y[i] = expf(sq(x[i])) + (float)exp(1.0);
    }
}
"""
    m = parse_module(src, "cpu")
    assert m.function("sq").kind == ir.DEVICE and m.function("sq").ret_dtype == "f32"
    k = m.function("k")
    assert k.kind == ir.KERNEL
    loop = k.body[0]
    value = Call("exp", (Call("sq", (Load("x", (I,)),), "f32"),), "f32") + Cast(
        "f32", Call("exp", (Const(1.0, "f64"),), "f64"))
    assert loop == For("i", Const(0), N, Const(1), (Store("y", (I,), value),), kind=ir.PARALLEL,
                       annotations=(("omp", "parallel for num_threads(4)"),))


# -------------------------------------------------------------------------------- literals and expressions


@pytest.mark.parametrize("literal, value, dtype", [
    ("1", 1, "i32"), ("1u", 1, "u32"), ("1UL", 1, "u64"), ("1ll", 1, "i64"), ("1l", 1, "i64"),
    ("0xffffffff", 0xFFFFFFFF, "u32"), ("0x10", 16, "i32"), ("3000000000", 3000000000, "i64"),
    ("010", 8, "i32"), ("1.5f", 1.5, "f32"), ("1.5", 1.5, "f64"), ("1e-5f", 1e-5, "f32"),
    ("'a'", 97, "i8"), ("'\\n'", 10, "i8"), ("-2", -2, "i32"), ("-0.5f", -0.5, "f32"),
])
def test_literals(literal: str, value: float, dtype: str) -> None:
    (decl,) = kernel_body(f"double v = {literal};")
    assert isinstance(decl, Decl) and decl.init == Const(value, dtype)


def test_builtins_casts_and_operators() -> None:
    stmts = kernel_body("""
    unsigned t = threadIdx.y + warpSize;
    float h = __half2float(__float2half(x[0]));
    int c = static_cast<int>(x[1]) << 2;
    int d = ~c & 3 | !c ^ 1;
    bool e = true && n >= 2;
    """)
    assert stmts[0].init == BinOp("+", Builtin("threadIdx.y"), Builtin("warpSize"))
    assert stmts[1].init == Cast("f32", Cast("f16", Load("x", (Const(0),))))
    assert stmts[2].init == BinOp("<<", Cast("i32", Load("x", (Const(1),))), Const(2))
    c = Var("c", "i32")
    assert stmts[3].init == BinOp("|", BinOp("&", ir.UnOp("~", c), Const(3)),
                                  BinOp("^", ir.UnOp("!", c), Const(1)))
    assert stmts[4].init == BinOp("&&", Const(True, "bool"), BinOp(">=", N, Const(2)))


def test_compound_assignments_and_increments() -> None:
    ops = ["+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "|=", "^="]
    src = "int a = 1;\n" + "\n".join(f"a {op} n; y[a] {op} 2;" for op in ops) + "\na++; ++a; a--; y[0]++;"
    stmts = kernel_body(src)
    a = Var("a", "i32")
    for k, op in enumerate(ops):
        assert stmts[1 + 2 * k] == Assign("a", BinOp(op[:-1], a, N))
        ya = Load("y", (a,))
        assert stmts[2 + 2 * k] == Store("y", (a,), BinOp(op[:-1], ya, Const(2)))
    tail = stmts[1 + 2 * len(ops):]
    assert tail[:3] == (Assign("a", a + 1), Assign("a", a + 1), Assign("a", BinOp("-", a, Const(1))))
    assert tail[3] == Store("y", (Const(0),), Load("y", (Const(0),)) + 1)


def test_math_spellings_follow_platform_types() -> None:
    c = kernel_body("double a = exp(x[0]); float b = expf(x[0]); double c = fabs(x[0]); int d = abs(n);",
                    platform="cpu")
    assert [s.init.dtype for s in c] == ["f64", "f32", "f64", "i32"]
    assert [s.init.name for s in c] == ["exp", "exp", "abs", "abs"]
    g = kernel_body("float a = exp(x[0]); double b = exp(1.0); int m = max(n, 3); float f = fmaxf(x[0], 1);"
                    " float r = rsqrtf(x[0]); float e = __expf(x[0]); unsigned u = min(threadIdx.x, n);")
    assert [s.init.dtype for s in g] == ["f32", "f64", "i32", "f32", "f32", "f32", "u32"]
    assert [s.init.name for s in g] == ["exp", "exp", "max", "max", "rsqrt", "exp", "min"]


def test_gpu_primitives() -> None:
    stmts = kernel_body("""
    float v = __shfl_down(x[0], 16);
    float w = __shfl_xor_sync(0xffffffff, v, 1, 16);
    atomicAdd(&y[n], v);
    float g = __ldg(&x[n + 1]);
    unsigned b = __ballot_sync(0xffffffff, v > 0.0f);
    __syncthreads();
    __syncwarp();
    """, platform="hip")
    full = Const(0xFFFFFFFF, "u32")
    v = Var("v", "f32")
    assert stmts[0].init == Call("__shfl_down_sync", (full, Load("x", (Const(0),)), Const(16)), "f32")
    assert stmts[1].init == Call("__shfl_xor_sync", (full, v, Const(1), Const(16)), "f32")
    assert stmts[2] == ir.ExprStmt(Call("atomicAdd", (AddressOf("y", (N,)), v), "f32"))
    assert stmts[3].init == Load("x", (N + 1,))
    assert stmts[4].init.dtype == "u32"
    assert stmts[5:] == (ir.Sync("block"), ir.Sync("warp"))


def test_function_kinds_linkage_and_shared_scalar_atomics() -> None:
    src = """extern "C" {
__host__ __device__ inline float twice(float a) { return 2.0f * a; }
__global__ void __launch_bounds__(128) k(int* out) {
    __shared__ int count;
    atomicAdd(&count, 1);
    out[0] = (int)twice(1.0f);
}
}
"""
    m = parse_module(src, "cuda")
    assert m.function("twice").kind == ir.DEVICE
    k = m.function("k")
    assert k.launch_bounds == (128,) and k.line == 3
    assert k.body[1] == ir.ExprStmt(Call("atomicAdd", (AddressOf("count", ()), Const(1)), "i32"))


# -------------------------------------------------------------------------------- declarations and names


def test_declarations() -> None:
    src = """#define T 4
#define W (T * 2 + 1)
__global__ void k(float* x, int n) {
    int a, b = 2, c[3] = {1, 2, 3};
    float acc[T][W - 1];
    __shared__ float tile[T][W];
    __shared__ int count;
    extern __shared__ float dyn[];
    const int m = n * T;
    float m2[2][2] = {{1, 2}, {3, 4}};
}
"""
    s = body(src)
    assert s[0] == Decl("a", "i32")
    assert s[1] == Decl("b", "i32", (), Const(2))
    assert s[2] == Decl("c", "i32", (3,), (Const(1), Const(2), Const(3)), ir.LOCAL)
    assert s[3] == Decl("acc", "f32", (4, 8), None, ir.LOCAL)
    assert s[4] == Decl("tile", "f32", (4, 9), None, ir.SHARED)
    assert s[5] == Decl("count", "i32", (), None, ir.SHARED)
    assert s[6] == Decl("dyn", "f32", (-1,), None, ir.SHARED)
    assert s[7] == Decl("m", "i32", (), BinOp("*", N, Const(4)), const=True)
    assert s[8].init == tuple(Const(v) for v in (1, 2, 3, 4))


def test_shadowing_renames_and_siblings_keep_names() -> None:
    stmts = kernel_body("""
    for (int i = 0; i < n; i++) { y[i] = 0; }
    for (int i = 0; i < n; i++) { y[i] = 1; }
    int i = 3;
    for (int j = 0; j < n; j++) { int i = j; y[i] = 2; { float i = 1.0f; y[0] = i; } }
    """)
    assert stmts[0].var == "i" and stmts[1].var == "i"
    assert stmts[2] == Decl("i", "i32", (), Const(3))
    inner = stmts[3].body
    assert inner[0] == Decl("i_1", "i32", (), Var("j", "i32"))
    assert inner[1] == Store("y", (Var("i_1", "i32"),), Const(2))
    assert inner[2] == Decl("i_2", "f32", (), Const(1.0, "f32"))
    assert inner[3] == Store("y", (Const(0),), Var("i_2", "f32"))


# -------------------------------------------------------------------------------- loops and control flow


@pytest.mark.parametrize("header, cmp, update, step", [
    ("int i = 0; i < n; i++", "<", "+", Const(1)),
    ("int i = 0; i < n; ++i", "<", "+", Const(1)),
    ("int i = 0; i <= n; i += 4", "<", "+", Const(4)),  # normalised to i < n + 1
    ("int i = n; i > 0; i--", ">", "-", Const(1)),
    ("int i = n; i >= 0; i -= 2", ">=", "-", Const(2)),
    ("int i = 0; i != n; i = i + 3", "!=", "+", Const(3)),
    ("int i = 16; i > 0; i >>= 1", ">", ">>", Const(1)),
    ("int i = 1; i < n; i <<= 1", "<", "<<", Const(1)),
    ("int i = 1; i < n; i *= 2", "<", "*", Const(2)),
    ("int i = n; i > 0; i /= 2", ">", "/", Const(2)),
    ("int i = 0; n > i; i += blockDim.x", "<", "+", Builtin("blockDim.x")),
])
def test_for_headers(header: str, cmp: str, update: str, step: ir.Expr) -> None:
    (loop,) = kernel_body(f"for ({header}) {{ y[i] = 0; }}")
    assert isinstance(loop, For) and loop.var == "i"
    bound: ir.Expr = N if "n" in header.split(";")[1] else Const(0)
    if "<= n" in header:
        bound = BinOp("+", N, Const(1))
    assert (loop.cmp, loop.update, loop.step, loop.bound) == (cmp, update, step, bound)


def test_pragmas_on_loops() -> None:
    src = ("#define U 4\n__global__ void k(float* y, int n) {\n#pragma unroll\n"
           "for (int i = 0; i < 4; i++) y[i] = 0;\n#pragma unroll U\n"
           "for (int i = 0; i < 4; i++) y[i] = 0;\n}\n")
    a, b = body(src)
    assert (a.kind, a.annotations) == (ir.UNROLLED, (("unroll", 0),))
    assert (b.kind, b.annotations) == (ir.UNROLLED, (("unroll", 4),))
    (simd,) = kernel_body("#pragma omp simd\nfor (int i = 0; i < n; i++) y[i] = 0;", platform="cpu")
    assert simd.kind == ir.VECTORIZED


def test_control_flow() -> None:
    stmts = kernel_body("""
    int t = n;
    while (t > 0) { t--; if (t == 3) break; else if (t == 2) continue; else { return; } }
    """)
    loop = stmts[1]
    assert isinstance(loop, ir.While) and loop.cond == BinOp(">", Var("t", "i32"), Const(0))
    branch = loop.body[1]
    assert isinstance(branch, If) and branch.then == (ir.Break(),)
    nested = branch.orelse[0]
    assert isinstance(nested, If) and nested.then == (ir.Continue(),) and nested.orelse == (ir.Return(),)


def test_loop_variable_declared_before_loop_keeps_its_final_value() -> None:
    decl, loop, final, store = kernel_body(
        "int i;\nfor (i = 0; i + 4 <= n; i += 4) y[i] = 0;\nfor (; i < n; i++) y[i] = 1;\ny[0] = i;")[:4]
    assert isinstance(decl, ir.Decl) and decl.name == "i"
    assert isinstance(loop, For) and loop.var != "i" and loop.cmp == "<"
    assert loop.bound == BinOp("-", N, Const(3))  # i + 4 <= n  ->  i < n - 3
    assert isinstance(final, ir.Assign) and final.name == "i"
    assert isinstance(store, For) and store.init == Var("i", "i32")


def test_continued_loop_of_another_form_is_rejected() -> None:
    raises("__global__ void k(float* y, int n) {\nint i = n;\nfor (; i > 0; i >>= 1) y[i] = 0;\n}",
           "cuda", "outer loop variable", 3)


# -------------------------------------------------------------------------------- pointers


def test_pointer_views() -> None:
    stmts = kernel_body("""
    int a = *(const int*)&x[n];
    int b = ((const int*)x)[n];
    int c = reinterpret_cast<const int*>(x)[2];
    int d = *reinterpret_cast<const int*>(&y[4]);
    long long e = ((const long long*)x)[3];
    ((int*)x)[n] = a;
    """, params="float* x, double* y, int n")
    assert stmts[0].init == Load("x", (N,), "i32")
    assert stmts[1].init == Load("x", (N,), "i32")
    assert stmts[2].init == Load("x", (Const(2),), "i32")
    assert stmts[3].init == Load("y", (Const(4),), "i32")
    # the index stays in units of the buffer's element type: one i64 is two floats
    assert stmts[4].init == Load("x", (BinOp("*", Const(3), Const(2)),), "i64")
    assert stmts[5] == Store("x", (N,), Var("a", "i32"), "i32")
    # an int is half a double: indexing ints of a double buffer has no IR form
    raises("__global__ void k(double* y) {\n  int c = reinterpret_cast<const int*>(y)[2];\n}", "cuda",
           "pointer cast to a narrower type", 2)


def test_local_pointers_resolved() -> None:
    stmts = kernel_body("""
    for (int i = 0; i < n; i++) {
        const float* row = x + i * n;
        float* out = &y[i * n];
        for (int j = 0; j < n; j++) out[j] = row[j] + *(row + 1);
    }
    """, params="const float* x, float* y, int n")
    j = Var("j", "i32")
    inner = stmts[0].body[0]
    row = BinOp("*", I, N)
    assert inner.body == (Store("y", (row + j,), Load("x", (row + j,)) + Load("x", (row + 1,))),)


@pytest.mark.parametrize("stmts, construct, line", [
    ("const float* p = x + n;\np = p + 1;", "pointer arithmetic on local pointer 'p'", 3),
    ("const float* p = x + n;\np++;", "pointer arithmetic on local pointer 'p'", 3),
    ("const float* p = x + n;\nn = 2;\ny[0] = p[0];", "assignment to 'n'", 3),
    ("x = x + 1;", "pointer arithmetic on parameter 'x'", 2),
])
def test_pointer_misuse_rejected(stmts: str, construct: str, line: int) -> None:
    raises(f"__global__ void k(const float* x, float* y, int n) {{\n{stmts}\n}}", "cuda", construct, line)


# -------------------------------------------------------------------------------- intrinsics


def test_avx512_loop() -> None:
    src = """#include <immintrin.h>
void add(const float* a, const float* b, float* c, int n) {
    for (int i = 0; i < n; i += 16) {
        __m512 va = _mm512_loadu_ps(a + i);
        __m512 vb = _mm512_loadu_ps(&b[i]);
        __mmask16 m = _mm512_cmp_ps_mask(va, vb, 1);
        _mm512_mask_storeu_ps(c + i, m, _mm512_add_ps(va, vb));
        float s = _mm512_reduce_add_ps(va);
    }
}
"""
    loop: Any = parse_module(src, "cpu").function("add").body[0]
    va, vb = Var("va", "m512"), Var("vb", "m512")
    assert loop.body[0] == Decl("va", "m512", (), Call("_mm512_loadu_ps", (AddressOf("a", (I,)),), "m512"))
    assert loop.body[1].init == Call("_mm512_loadu_ps", (AddressOf("b", (I,)),), "m512")
    assert loop.body[2].init == Call("_mm512_cmp_ps_mask", (va, vb, Const(1)), "mask16")
    store = loop.body[3]
    added = Call("_mm512_add_ps", (va, vb), "m512")
    args = (AddressOf("c", (I,)), Var("m", "mask16"), added)
    assert store == ir.ExprStmt(Call("_mm512_mask_storeu_ps", args, "void"))
    assert loop.body[4].init.dtype == "f32"


def test_vnni_dot_product() -> None:
    src = """#include <immintrin.h>
#include <stdint.h>
void dot(const uint8_t* a, const int8_t* b, int32_t* out, int n) {
    __m512i acc = _mm512_setzero_si512();
    for (int k = 0; k < n; k += 64) {
        __m512i va = _mm512_loadu_si512((const __m512i*)(a + k));
        __m512i vb = _mm512_loadu_si512((const void*)&b[k]);
        acc = _mm512_dpbusd_epi32(acc, va, vb);
    }
    out[0] = _mm512_reduce_add_epi32(acc);
}
"""
    fn = parse_module(src, "cpu").function("dot")
    k = Var("k", "i32")
    loop: Any
    assert fn.params[0] == ir.Param("a", "u8", True, True)
    loop = fn.body[1]
    assert loop.body[0].init == Call("_mm512_loadu_si512", (AddressOf("a", (k,)),), "m512i")
    assert loop.body[1].init == Call("_mm512_loadu_si512", (AddressOf("b", (k,)),), "m512i")
    assert loop.body[2].value.dtype == "m512i"
    total = Call("_mm512_reduce_add_epi32", (Var("acc", "m512i"),), "i32")
    assert fn.body[2] == Store("out", (Const(0),), total)


def test_intrinsic_result_from_name_agrees_with_semantics_table() -> None:
    from passes.frontend.calls import _result_from_name, is_intrinsic

    table = pytest.importorskip("passes.intrinsics").INTRINSICS
    names = [n for n in table if is_intrinsic(n)]
    assert names
    assert {n: _result_from_name(n) for n in names} == {n: table[n].result for n in names}
    assert _result_from_name("_mm512_cvtepi32_epi8") == "m128i"
    assert _result_from_name("_mm512_cvtps_pd") == "m512d"
    assert _result_from_name("_mm256_cvtps_ph") == "m128i"


# -------------------------------------------------------------------------------- larger kernels


GEMM_TILED = """#define TILE 16
__global__ void gemm(const float* A, const float* B, float* C, int M, int N, int K) {
    __shared__ float As[TILE][TILE];
    __shared__ float Bs[TILE][TILE + 1];
    int row = blockIdx.y * TILE + threadIdx.y;
    int col = blockIdx.x * TILE + threadIdx.x;
    float acc = 0.0f;
    for (int t = 0; t < (K + TILE - 1) / TILE; ++t) {
        int ka = t * TILE + threadIdx.x, kb = t * TILE + threadIdx.y;
        As[threadIdx.y][threadIdx.x] = (row < M && ka < K) ? A[row * K + ka] : 0.0f;
        Bs[threadIdx.y][threadIdx.x] = (col < N && kb < K) ? B[kb * N + col] : 0.0f;
        __syncthreads();
        #pragma unroll
        for (int k = 0; k < TILE; ++k) acc += As[threadIdx.y][k] * Bs[k][threadIdx.x];
        __syncthreads();
    }
    if (row < M && col < N) C[row * N + col] = acc;
}
void gemm_launch(const float* A, const float* B, float* C, int M, int N, int K) {
    dim3 block(TILE, TILE);
    dim3 grid((N + TILE - 1) / TILE, (M + TILE - 1) / TILE);
    gemm<<<grid, block>>>(A, B, C, M, N, K);
}
"""

SOFTMAX_WARP = """#include <cuda_runtime.h>
__device__ __forceinline__ float warp_max(float v) {
    for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, off));
    return v;
}
__global__ void softmax(const float* x, float* y, int cols) {
    const float* xr = x + blockIdx.x * cols;
    float m = -INFINITY;
    for (int c = threadIdx.x; c < cols; c += 32) m = fmaxf(m, xr[c]);
    m = warp_max(m);
    float s = 0.0f;
    for (int c = threadIdx.x; c < cols; c += 32) s += __expf(xr[c] - m);
    for (int off = 16; off > 0; off /= 2) s += __shfl_down_sync(0xffffffff, s, off);
    s = __shfl_sync(0xffffffff, s, 0);
    for (int c = threadIdx.x; c < cols; c += 32) y[blockIdx.x * cols + c] = __expf(xr[c] - m) / s;
}
"""


def test_tiled_gemm_parses() -> None:
    m = parse_module(GEMM_TILED, "cuda")
    fn = m.function("gemm")
    decls: Any = fn.body
    assert [s.scope for s in decls[:2]] == [ir.SHARED, ir.SHARED]
    assert decls[1].shape == (16, 17)
    syncs = [n for n in ir.walk(fn) if isinstance(n, ir.Sync)]
    assert len(syncs) == 2
    info = find_launch(m, "gemm")
    assert info is not None and info.launcher == "gemm_launch" and info.reason == ""
    n_, m_ = Var("N", "i32"), Var("M", "i32")
    assert info.grid == (BinOp("/", BinOp("-", n_ + 16, Const(1)), Const(16)),
                         BinOp("/", BinOp("-", m_ + 16, Const(1)), Const(16)), Const(1))
    assert info.block == (Const(16), Const(16), Const(1))


def test_warp_shuffle_softmax_parses() -> None:
    m = parse_module(SOFTMAX_WARP, "cuda")
    assert m.function("warp_max").kind == ir.DEVICE
    fn = m.function("softmax")
    calls = {n.name for n in ir.walk(fn) if isinstance(n, Call)}
    assert {"warp_max", "exp", "max", "__shfl_down_sync", "__shfl_sync"} <= calls
    assert fn.body[0] == Decl("m", "f32", (), Const(float("-inf"), "f32"))
    assert find_launch(m, "softmax") is None


# -------------------------------------------------------------------------------- launches


def test_find_launch_relu() -> None:
    info = find_launch(parse_module(RELU_CU, "cuda"), "relu")
    assert info is not None and info.launcher == "launch"
    assert info.grid == (BinOp("/", N + 255, Const(256)), Const(1), Const(1))
    assert info.block == (Const(256), Const(1), Const(1))
    assert info.shared_bytes == Const(0)


def test_find_launch_maps_to_kernel_parameters() -> None:
    src = """__global__ void k(float* x, int rows, int cols) {}
void host(float* buf, int h, int w) {
    int blocks = (h * w + 127) / 128;
    hipLaunchKernelGGL(k, dim3(blocks), dim3(128), 0, 0, buf, h, w);
}
void other(float* buf, int h, int w, int extra) {
    k<<<extra, 64>>>(buf, h, w);
}
"""
    m = parse_module(src, "hip")
    rows, cols = Var("rows", "i32"), Var("cols", "i32")
    launches = [n for n in ir.walk(m.function("host")) if isinstance(n, ir.Launch)]
    assert launches[0].grid == (Var("blocks", "i32"), Const(1), Const(1))
    info = find_launch(ir.Module((m.function("k"), m.function("host")), "hip"), "k")
    assert info is not None and info.launcher is None
    assert info.grid == (BinOp("/", BinOp("*", rows, cols) + 127, Const(128)), Const(1), Const(1))
    info2 = find_launch(ir.Module((m.function("k"), m.function("other")), "hip"), "k")
    assert info2 is not None and info2.grid is None and "extra" in info2.reason


# -------------------------------------------------------------------------------- rejections


@pytest.mark.parametrize("src, platform, construct, line", [
    ("__global__ void k(float4* x) {}", "cuda", "vector type 'float4'", 1),
    ("struct S { int a; };\n", "cpu", "struct", 1),
    ("typedef float real;\n", "cpu", "typedef", 1),
    ("template <typename T>\n__global__ void k(T* x) {}", "cuda", "template", 1),
    ("class C {};", "cpu", "class", 1),
    ("union U { int a; float b; };", "cpu", "union", 1),
    ("#define SQ(x) ((x)*(x))\n", "cpu", "function-like macro 'SQ'", 1),
    ("#ifdef FOO\nint a;\n#endif\n", "cpu", "conditional compilation", 1),
    ("void k(float* x) {\n\n  printf(\"%f\", x[0]);\n}", "cpu", "printf", 3),
    ("__global__ void k(float* x) {\n  printf(\"%f\", x[0]);\n}", "cuda", "printf", 2),
    ("void k(float* x) {\n#pragma GCC ivdep\n  for (int i = 0; i < 4; i++) x[i] = 0;\n}", "cpu",
     "#pragma GCC", 2),
    ("void k(float* x) {\n  int i = 0;\n  do { i++; } while (i < 3);\n}", "cpu", "do-while", 3),
    ("void k(float* x) {\n  switch (1) { default: break; }\n}", "cpu", "switch", 2),
    ("__constant__ float c[4];\n", "cuda", "__constant__", 1),
    ("float g;\n", "cpu", "global variable", 1),
    ("void k(float* x) {\n  x[0] = foo(1);\n}", "cpu", "unknown function 'foo'", 2),
    ("void k(float* x) {\n  x[0] = q;\n}", "cpu", "unknown identifier 'q'", 2),
    ("void k(float* x) {\n  x[0] = (1 + ;\n}", "cpu", "syntax error", 2),
    ("void k(float* x) {\n  int a = 1, b = (a++, 2);\n}", "cpu", "comma", 2),
    ("void k(float* x, int n) {\n  x[n++] = 1;\n}", "cpu", "increment inside an expression", 2),
    ("void k(float** x) {}", "cpu", "pointer to pointer", 1),
    ("void k(float* x) {\n  for (int i = 0; i * i < 9; i++) x[i] = 0;\n}", "cpu", "for loop condition", 2),
    ("void k(float* x) {\n  for (int i = 0; i < 9; i = 2 * i + 1) x[i] = 0;\n}", "cpu", "for loop update", 2),
    ("void k(float* x) {\n  for (int i = 0; i < 9; i++) { i += 2; }\n}", "cpu", "loop variable 'i'", 2),
    ("void k(float* x) {\n  static int a = 0;\n}", "cpu", "static local", 2),
    ("__global__ void k(volatile float* x) {}", "cuda", "parameter qualifier", 1),
    ("void k(float* x) {\n  float v = x->y;\n}", "cpu", "member access", 2),
    ("void k(float* x) {\n  long double a = 1;\n}", "cpu", "long double", 2),
    ("__global__ void k(float* x) {}\nvoid h(float* x) {\n  cudaDeviceSynchronize();\n}", "cuda",
     "call to 'cudaDeviceSynchronize' in a host function", 3),
    ("__global__ void k(float* x) {}\nvoid h(float* x, cudaStream_t s) {\n  k<<<1, 1, 0, s>>>(x);\n}", "cuda",
     "type 'cudaStream_t'", 2),
    ("__global__ void k(float* x) {}\nvoid h(float* x, int s) {\n  k<<<1, 1, 0, s>>>(x);\n}", "cuda",
     "launch on a stream", 3),
    ("#include \"local.h\"\n", "cpu", "#include", 1),
    ("#define N 4\nvoid k(float* x) {\n  int N = 2;\n}", "cpu", "macro name 'N'", 3),
    ("__global__ void k(float* x) {\n  __syncwarp(0x0000ffff);\n}", "cuda", "__syncwarp with arguments", 2),
    ("__global__ void k(float* x) {\n  int v = __float2int_rn(x[0]);\n}", "cuda", "unknown function", 2),
    ("void k(float* x) {\n  _mm512_madeup_thing(1);\n}", "cpu", "intrinsic '_mm512_madeup_thing'", 2),
])
def test_unsupported_constructs(src: str, platform: str, construct: str, line: int) -> None:
    raises(src, platform, construct, line)


def test_filename_in_error_detail() -> None:
    with pytest.raises(ir.UnsupportedConstruct, match="kern.cu"):
        parse_module("float g;\n", "cuda", "kern.cu")


def test_include_guard_and_pragma_once_ignored() -> None:
    src = ("#pragma once\n#ifndef K_H\n#define K_H\n#include <math.h>\n"
           "void k(float* x) { x[0] = 1; }\n#endif\n")
    m = parse_module(src, "cpu")
    assert m.includes == ("math.h",) and [f.name for f in m.functions] == ["k"]


# -------------------------------------------------------------------------------- the corpus

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_CORPUS = sorted(glob.glob(os.path.join(_ROOT, "kernels", "*", "*.c"))
                 + glob.glob(os.path.join(_ROOT, "kernels", "*", "*.cu")))


@pytest.mark.parametrize("path", _CORPUS, ids=[os.path.relpath(p, _ROOT) for p in _CORPUS])
def test_corpus_parses(path: str) -> None:
    with open(path) as f:
        source = f.read()
    module = parse_module(source, "cpu" if path.endswith(".c") else "cuda", path)
    assert module.kernels()
