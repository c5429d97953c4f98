"""Detensorisation: hand-built AVX-512 kernels, run before and after the pass with the IR
evaluator (the original through the intrinsic table), must give identical results; and the
result must be plain scalar code."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from passes import ir
from passes.detensorize import detensorize, detensorize_module, has_intrinsics
from passes.evaluate import run_function
from passes.intrinsics import evaluation_handlers

V, C, Call, Addr = ir.Var, ir.Const, ir.Call, ir.AddressOf
I, N = V("i"), V("n")


def _for(var: str, init: ir.ExprLike, bound: ir.ExprLike, step: int, body: list[ir.Stmt]) -> ir.For:
    return ir.For(var, ir.as_expr(init), ir.as_expr(bound), C(step), tuple(body))


def _loadu(buf: str, idx: ir.Expr) -> ir.Call:
    return Call("_mm512_loadu_ps", (Addr(buf, (idx,)),), "m512")


def relu_fn() -> ir.Function:
    """AVX-512 relu over 16 floats at a time with a scalar remainder loop."""
    zero = V("zero", "m512")
    xj = ir.Load("x", (V("j"),))
    return ir.Function("relu", (ir.Param("x", "f32", True, True), ir.Param("y", "f32", True),
                                ir.Param("n", "i32")), (
        ir.Decl("zero", "m512", init=Call("_mm512_setzero_ps", (), "m512")),
        _for("i", 0, N - 15, 16, [ir.ExprStmt(Call("_mm512_storeu_ps", (
            Addr("y", (I,)), Call("_mm512_max_ps", (_loadu("x", I), zero), "m512")), "void"))]),
        _for("j", (N // 16) * 16, N, 1, [
            ir.Store("y", (V("j"),), ir.Select(ir.BinOp(">", xj, C(0.0, "f32")), xj, C(0.0, "f32")))]),
    ))


def gemm_fn() -> ir.Function:
    """Two fp32 GEMM micro-kernels: C1 = A @ B by broadcast-fmadd over 16-wide rows of B (N % 16 ==
    0), and C2 = A @ Bt.T by fmadd dot products along K finished with reduce_add."""
    M, K, Nn = V("M"), V("K"), V("N")
    i, j, k = V("i"), V("j"), V("k")
    c = V("c", "m512")
    acc = V("acc", "m512")
    broadcast = [
        ir.Decl("c", "m512", init=_loadu("C1", i * Nn + j)),
        _for("k", 0, K, 1, [ir.Assign("c", Call("_mm512_fmadd_ps", (
            Call("_mm512_set1_ps", (ir.Load("A", (i * K + k,)),), "m512"), _loadu("B", k * Nn + j), c),
            "m512"))]),
        ir.ExprStmt(Call("_mm512_storeu_ps", (Addr("C1", (i * Nn + j,)), c), "void")),
    ]
    dot = [
        ir.Decl("acc", "m512", init=Call("_mm512_setzero_ps", (), "m512")),
        _for("k", 0, K, 16, [ir.Assign("acc", Call("_mm512_fmadd_ps", (
            _loadu("A", i * K + k), _loadu("Bt", j * K + k), acc), "m512"))]),
        ir.Store("C2", (i * Nn + j,), Call("_mm512_reduce_add_ps", (acc,), "f32")),
    ]
    params = tuple(ir.Param(n, "f32", True) for n in ("A", "B", "Bt", "C1", "C2")) + tuple(
        ir.Param(n, "i32") for n in ("M", "N", "K"))
    return ir.Function("gemm", params, (
        _for("i", 0, M, 1, [_for("j", 0, Nn, 16, broadcast)]),
        _for("i", 0, M, 1, [_for("j", 0, Nn, 1, dot)]),
    ))


def vnni_fn() -> ir.Function:
    """u8 x s8 dot product with dpbusd over 64 bytes at a time and a masked tail; writes the sum
    and (masked store) the first 8 i32 partial sums."""
    acc = V("acc", "m512i")
    tail, m = V("tail"), V("m", "mask64")

    def loadu(buf: str, idx: ir.Expr) -> ir.Call:
        return Call("_mm512_loadu_si512", (Addr(buf, (idx,)),), "m512i")

    def maskz(buf: str) -> ir.Call:
        return Call("_mm512_maskz_loadu_epi8", (m, Addr(buf, (tail,))), "m512i")

    one = ir.Cast("u64", C(1))
    return ir.Function("dot_u8s8", (ir.Param("a", "u8", True), ir.Param("b", "i8", True),
                                    ir.Param("out", "i32", True), ir.Param("n", "i32")), (
        ir.Decl("acc", "m512i", init=Call("_mm512_setzero_si512", (), "m512i")),
        _for("i", 0, N - 63, 64, [ir.Assign("acc", Call("_mm512_dpbusd_epi32", (
            acc, loadu("a", I), loadu("b", I)), "m512i"))]),
        ir.Decl("tail", "i32", init=(N // 64) * 64),
        ir.Decl("m", "mask64", init=Call("_cvtu64_mask64", (
            ir.BinOp("-", ir.BinOp("<<", one, N - tail), C(1)),), "mask64")),
        ir.If(ir.BinOp("<", tail, N), (ir.Assign("acc", Call("_mm512_dpbusd_epi32", (
            acc, maskz("a"), maskz("b")), "m512i")),)),
        ir.Store("out", (C(0),), Call("_mm512_reduce_add_epi32", (acc,), "i32")),
        ir.ExprStmt(Call("_mm512_mask_storeu_epi32", (Addr("out", (C(1),)), C(0x00FF, "u16"), acc), "void")),
    ))


def _run_both(fn: ir.Function, args: dict) -> tuple[dict, dict, ir.Function]:
    scalar = detensorize(fn)
    before = run_function(fn, args, evaluation_handlers())
    after = run_function(scalar, args)  # no intrinsic handlers: must be plain scalar code
    return before, after, scalar


def _assert_scalar(fn: ir.Function) -> None:
    assert not has_intrinsics(fn)
    for node in ir.walk(fn):
        assert not ir.is_vector(getattr(node, "dtype", "") or ""), node
    assert any(isinstance(n, ir.For) and n.kind == ir.VECTORIZED for n in ir.walk(fn))


def test_relu_with_remainder() -> None:
    rng = np.random.default_rng(0)
    n = 53
    x = rng.standard_normal(n).astype(np.float32)
    x[:4] = [0.0, -0.0, -1e30, 3e38]
    before, after, scalar = _run_both(relu_fn(), {"x": x, "y": np.full(n, 7, np.float32), "n": n})
    np.testing.assert_array_equal(before["y"], after["y"])
    np.testing.assert_array_equal(after["y"], np.where(x > 0, x, 0).astype(np.float32))
    _assert_scalar(scalar)


def test_gemm_microkernels() -> None:
    rng = np.random.default_rng(1)
    M, N, K = 3, 32, 48
    A = rng.standard_normal((M, K)).astype(np.float32)
    B = rng.standard_normal((K, N)).astype(np.float32)
    args = {"A": A, "B": B, "Bt": np.ascontiguousarray(B.T), "C1": np.zeros(M * N, np.float32),
            "C2": np.zeros(M * N, np.float32), "M": M, "N": N, "K": K}
    before, after, scalar = _run_both(gemm_fn(), args)
    for out in ("C1", "C2"):
        np.testing.assert_array_equal(before[out], after[out])
        np.testing.assert_allclose(after[out].reshape(M, N), A.astype(np.float64) @ B, rtol=1e-4, atol=1e-4)
    _assert_scalar(scalar)
    # the accumulator is updated in place: no temporary array for `acc = fmadd(.., acc)`
    temps = [n.name for n in ir.walk(scalar) if isinstance(n, ir.Decl) and n.name.startswith("_v")]
    assert len(temps) == 4  # set1 and load(B) in the broadcast loop, two loads in the dot loop


@pytest.mark.parametrize("n", [150, 128, 7])
def test_vnni_dot_with_masked_tail(n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.integers(0, 256, n).astype(np.uint8)
    b = rng.integers(-128, 128, n).astype(np.int8)
    a[:3], b[:3] = [255, 255, 0], [-128, 127, -128]
    args = {"a": a, "b": b, "out": np.full(17, -1, np.int32), "n": n}
    before, after, scalar = _run_both(vnni_fn(), args)  # buffers are exactly n long: the masked
    np.testing.assert_array_equal(before["out"], after["out"])  # tail must not read past them
    assert after["out"][0] == int((a.astype(np.int64) * b).sum())
    partial = np.zeros(16, np.int64)
    for idx in range(n):
        partial[(idx % 64) // 4] += int(a[idx]) * int(b[idx])
    np.testing.assert_array_equal(after["out"][1:9], partial[:8])
    assert list(after["out"][9:]) == [-1] * 8
    _assert_scalar(scalar)
    decl_m = next(d for d in ir.walk(scalar) if isinstance(d, ir.Decl) and d.name == "m")
    assert decl_m.dtype == "u64"
    acc = next(d for d in ir.walk(scalar) if isinstance(d, ir.Decl) and d.name == "acc")
    assert (acc.dtype, acc.shape) == ("u8", (64,))


def test_vector_copy_and_module() -> None:
    """``b = a`` between vectors copies the array; the module drops the x86 header."""
    fn = ir.Function("cp", (ir.Param("x", "f32", True), ir.Param("y", "f32", True)), (
        ir.Decl("a", "m512", init=_loadu("x", C(0))),
        ir.Decl("b", "m512"),
        ir.Assign("b", V("a", "m512")),
        ir.ExprStmt(Call("_mm512_storeu_ps", (Addr("y", (C(0),)), Call("_mm512_sqrt_ps", (V("b", "m512"),),
                                                                          "m512")), "void")),
    ))
    module = ir.Module((fn,), "cpu", ("immintrin.h", "stdint.h"))
    out = detensorize_module(module)
    assert out.includes == ("stdint.h",)
    x = np.arange(16, dtype=np.float32)
    res = run_function(out.functions[0], {"x": x, "y": np.zeros(16, np.float32)})
    np.testing.assert_array_equal(res["y"], np.sqrt(x))


def test_not_applicable_and_unsupported() -> None:
    plain = ir.Function("f", (ir.Param("y", "f32", True),), (ir.Store("y", (C(0),), C(1.0, "f32")),))
    with pytest.raises(ir.NotApplicable, match="no intrinsic"):
        detensorize(plain)
    with pytest.raises(ir.NotApplicable):
        detensorize_module(ir.Module((plain,), "cpu"))
    unknown = ir.Function("g", (ir.Param("y", "f32", True),), (
        ir.Decl("v", "m512", init=Call("_mm512_exp_ps", (Call("_mm512_setzero_ps", (), "m512"),), "m512")),
    ), line=12)
    with pytest.raises(ir.UnsupportedConstruct, match="intrinsic _mm512_exp_ps at line 12"):
        detensorize(unknown)
    header = ir.Function("h", (ir.Param("y", "f32", True),), (
        ir.For("i", C(0), Call("_mm512_reduce_add_ps", (Call("_mm512_setzero_ps", (), "m512"),), "f32"),
               C(1), ()),))
    with pytest.raises(ir.UnsupportedConstruct, match="loop header"):
        detensorize(header)


def test_scalar_gpu_intrinsics_inline() -> None:
    """``__dp4a`` and ``__fmaf_rn`` become inline expressions, with the overload by signedness."""
    a, b = V("a", "u32"), V("b", "u32")
    fn = ir.Function("k", (ir.Param("o", "u32", True), ir.Param("a", "u32"), ir.Param("b", "u32"),
                           ir.Param("f", "f32", True)), (
        ir.Store("o", (C(0),), Call("__dp4a", (a, b, ir.Load("o", (C(0),))), "u32")),
        ir.Store("f", (C(0),), Call("__fmaf_rn", (ir.Load("f", (C(0),)),) * 3, "f32")),
    ))
    args = {"o": np.array([5], np.uint32), "a": 0xFF0201FF, "b": 0xFF010203, "f": np.array([1.5], np.float32)}
    before, after, scalar = _run_both(fn, args)
    assert int(after["o"][0]) == 5 + 255 * 3 + 1 * 2 + 2 * 1 + 255 * 255
    assert after["f"][0] == np.float32(1.5 * 1.5 + 1.5)
    np.testing.assert_array_equal(before["o"], after["o"])
    assert not has_intrinsics(scalar)
    assert not any(isinstance(n, ir.For) for n in ir.walk(scalar))


# ------------------------------------------------------------------------------------------
# end to end through the C printer: original (with intrinsics) and detensorised, both compiled


def _c_run(module: ir.Module, fn: ir.Function, args: dict, tmp_path: Path, tag: str) -> dict[str, bytes]:
    """Prints ``module`` as C, calls ``fn`` from a generated main on ``args`` (arrays embedded as
    bytes), and returns the bytes of every pointer argument after the call."""
    from passes.printer import print_module

    lines = [print_module(module, "cpu"), "#include <stdio.h>", "int main(void) {"]
    call_args = []
    for p in fn.params:
        value = args[p.name]
        if p.pointer:
            raw = np.ascontiguousarray(value).view(np.uint8).reshape(-1)
            body = ",".join(str(int(b)) for b in raw)
            lines.append(f"  static _Alignas(64) unsigned char {p.name}[{raw.size}] = {{{body}}};")
            call_args.append(f"(void*){p.name}")
        else:
            call_args.append(str(int(value)))
    lines.append(f"  {fn.name}({', '.join(call_args)});")
    for p in fn.params:
        if p.pointer:
            lines.append(f"  fwrite({p.name}, 1, sizeof {p.name}, stdout);")
    lines.append("  return 0;\n}")
    src = tmp_path / f"{tag}.c"
    src.write_text("\n".join(lines))
    flags = ["-O2", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni", "-fopenmp-simd"]
    exe = tmp_path / tag
    subprocess.run(["gcc", *flags, str(src), "-o", str(exe)], check=True, capture_output=True, text=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, timeout=30).stdout
    result, pos = {}, 0
    for p in fn.params:
        if p.pointer:
            size = np.asarray(args[p.name]).nbytes
            result[p.name] = out[pos:pos + size]
            pos += size
    return result


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not available")
@pytest.mark.parametrize("which", ["relu", "vnni", "gemm"])
def test_printed_c_before_and_after_agree(which: str, tmp_path: Path) -> None:
    pytest.importorskip("passes.printer")
    rng = np.random.default_rng(5)
    if which == "relu":
        fn = relu_fn()
        args = {"x": rng.standard_normal(45).astype(np.float32), "y": np.zeros(45, np.float32), "n": 45}
    elif which == "vnni":
        fn = vnni_fn()
        a, b = rng.integers(0, 256, 150).astype(np.uint8), rng.integers(-128, 128, 150).astype(np.int8)
        args = {"a": a, "b": b, "out": np.full(17, -1, np.int32), "n": 150}
    else:
        fn = gemm_fn()
        M, N, K = 2, 32, 32
        B = rng.standard_normal((K, N)).astype(np.float32)
        args = {"A": rng.standard_normal((M, K)).astype(np.float32), "B": B, "Bt": np.ascontiguousarray(B.T),
                "C1": np.zeros(M * N, np.float32), "C2": np.zeros(M * N, np.float32), "M": M, "N": N, "K": K}
    module = ir.Module((fn,), "cpu", ("immintrin.h",))
    original = _c_run(module, fn, args, tmp_path, "original")
    scalar_module = detensorize_module(module)
    detensorised = _c_run(scalar_module, scalar_module.functions[0], args, tmp_path, "scalar")
    evaluated = run_function(scalar_module.functions[0], args)
    for name, raw in detensorised.items():
        if which == "gemm" and name == "C2":  # gcc's reduce_add_ps sums in a tree order
            a, b = np.frombuffer(original[name], np.float32), np.frombuffer(raw, np.float32)
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        else:
            assert raw == original[name], name
        assert raw == evaluated[name].tobytes(), name
