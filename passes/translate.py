"""The translation pipeline: which passes turn a kernel for one platform into one for another.

    cuda/hip -> cpu : inline GPU helpers, loop recovery, CPU parallelisation (OpenMP)
    cpu -> cuda/hip : detensorisation (when intrinsics are used), GPU parallelisation
    cuda <-> hip    : warp-size fix-ups (CUDA warps have 32 lanes, AMD wavefronts 64)

WMMA fragments (CUDA tensor cores) are lowered to per-thread scalar loops (passes/wmma.py) for
every target but CUDA: before loop recovery on the way to the CPU, and for HIP, which has no WMMA.

Nothing here runs code: verification is the caller's job (``measure.platforms``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from typing import Union

from measure.spec import KernelSpec, eval_dim_expr
from passes import ir
from passes.cpu_parallel import parallelise_cpu
from passes.detensorize import detensorize, has_intrinsics
from passes.frontend import find_launch, parse_module
from passes.gpu_parallel import parallelise_gpu
from passes.loop_recovery import Geometry, recover_loops
from passes.printer import print_module
from passes.simplify import c_div, fold_constants, simplify_module
from passes.wmma import PASS_NAME as WMMA_PASS
from passes.wmma import lower_module as lower_wmma_module

GPU_PLATFORMS = ("cuda", "hip")
WARP_SIZE = {"cuda": 32, "hip": 64}


@dataclass(frozen=True)
class Translation:
    """A translated kernel: its IR and text, the function the spec's arguments describe
    (``entry``), the host function that launches it on GPUs (``launcher``), and what was done."""

    source_platform: str
    target_platform: str
    module: ir.Module
    text: str
    entry: str
    launcher: Union[str, None]
    passes: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class LaunchPlan:
    """How to launch a GPU kernel: concrete geometry for a driver, and/or a launcher function."""

    geometry: Union[tuple[tuple[int, int, int], tuple[int, int, int]], None]
    launcher: Union[str, None]


def translate(text: str, source: str, target: str, spec: KernelSpec) -> Translation:
    """Translate kernel source ``text`` from platform ``source`` to ``target``."""
    module = parse_module(text, source)
    try:
        fn = module.function(spec.entry)
    except KeyError:
        names = ", ".join(f.name for f in module.functions) or "none"
        raise ir.UnsupportedConstruct(
            f"entry function '{spec.entry}' not found (functions: {names})") from None
    wmma_lowered: tuple[str, ...] = ()
    if source in GPU_PLATFORMS and target != "cuda":
        module, lowered = lower_wmma_module(module)
        if lowered:
            fn, wmma_lowered = module.function(spec.entry), (WMMA_PASS,)
    if source in GPU_PLATFORMS and target == "cpu":
        return _tidy(_with_passes(_gpu_to_cpu(module, fn, source, spec), wmma_lowered))
    if source == "cpu" and target in GPU_PLATFORMS:
        return _tidy(_cpu_to_gpu(module, fn, target))
    if source in GPU_PLATFORMS and target in GPU_PLATFORMS:
        return _tidy(_with_passes(_gpu_to_gpu(module, fn, source, target), wmma_lowered))
    if source == target:
        out = replace(module, platform=target)
        return Translation(source, target, out, print_module(out, target), spec.entry, None,
                           (), ("same platform: re-printed",))
    raise ir.NotApplicable(f"no translation from {source} to {target}")


# ------------------------------------------------------------------------------ directions


def _with_passes(t: Translation, first: tuple[str, ...]) -> Translation:
    return replace(t, passes=first + t.passes) if first else t


def _tidy(t: Translation) -> Translation:
    """Fold the constants the passes introduced and re-print."""
    module = simplify_module(t.module)
    return replace(t, module=module, text=print_module(module, t.target_platform))


def _gpu_to_cpu(module: ir.Module, fn: ir.Function, source: str, spec: KernelSpec) -> Translation:
    geometry, note = source_geometry(module, fn, spec, WARP_SIZE[source])
    notes = [note]
    recovered = recover_loops(fn, module, geometry)
    passes = ["loop_recovery"]
    if has_intrinsics(recovered):  # GPU scalar intrinsics such as __dp4a
        recovered = detensorize(recovered)
        passes.append("detensorize")
    try:
        recovered, par_notes = parallelise_cpu(recovered)
        passes.append("cpu_parallel")
        notes.extend(par_notes)
    except ir.NotApplicable as exc:
        notes.append(f"cpu_parallel not applied: {exc}")
    helpers = tuple(f for f in module.functions if f.kind == ir.DEVICE and f.name in _called(recovered))
    out = ir.Module(helpers + (replace(recovered, launch_bounds=None),), "cpu",
                    tuple(i for i in module.includes if i in ("math.h", "stdint.h")))
    return Translation(source, "cpu", out, print_module(out, "cpu"), fn.name, None,
                       tuple(passes), tuple(notes))


def _cpu_to_gpu(module: ir.Module, fn: ir.Function, target: str) -> Translation:
    passes: list[str] = []
    notes: list[str] = []
    if has_intrinsics(fn):
        fn = detensorize(fn)
        passes.append("detensorize")
    result = parallelise_gpu(fn, module, target)
    passes.append("gpu_parallel")
    notes.extend(result.notes)
    return Translation("cpu", target, result.module, print_module(result.module, target),
                       result.kernels[0], result.launcher, tuple(passes), tuple(notes))


def _gpu_to_gpu(module: ir.Module, fn: ir.Function, source: str, target: str) -> Translation:
    notes: list[str] = []
    src_warp, dst_warp = WARP_SIZE[source], WARP_SIZE[target]
    uses_vote = any(isinstance(n, ir.Call) and n.name.startswith(("__ballot", "__any", "__all"))
                    for n in ir.walk(module))
    if uses_vote and src_warp != dst_warp:
        raise ir.UnsupportedConstruct("warp vote across different warp sizes", fn.line,
                                      f"{source} has {src_warp} lanes, {target} {dst_warp}")
    if src_warp > dst_warp:
        wide = [n for n in ir.walk(module) if isinstance(n, ir.Call) and n.name.startswith("__shfl")
                and not (len(n.args) == 4 and isinstance(n.args[3], ir.Const)
                         and int(n.args[3].value) <= dst_warp)]
        if wide or _uses_builtin(module, "warpSize"):
            raise ir.UnsupportedConstruct(
                f"{src_warp}-lane warp collectives on a {dst_warp}-lane target", fn.line,
                "shuffles need an explicit width of at most "
                f"{dst_warp} and warpSize must not be used")

    def fix(n: ir.Node) -> ir.Node:
        if isinstance(n, ir.Builtin) and n.name == "warpSize":
            return ir.Const(src_warp, "i32")
        if isinstance(n, ir.Call) and n.name.startswith("__shfl") and len(n.args) == 3:
            return replace(n, args=n.args + (ir.Const(src_warp, "i32"),))
        return n

    out = ir.transform(module, fix) if src_warp != dst_warp else module
    if out != module:
        notes.append(f"warp collectives pinned to {src_warp}-lane segments (the source's warp size)")
    passes = ["warp_size_fixup"] if notes else []
    if target == "hip" and any(isinstance(n, ir.Call) and n.name == "__dp4a" for n in ir.walk(out)):
        # HIP has no __dp4a (ROCm spells byte dot products per architecture): scalar semantics
        out = replace(out, functions=tuple(
            detensorize(f) if any(isinstance(n, ir.Call) and n.name == "__dp4a" for n in ir.walk(f))
            else f for f in out.functions))
        passes.append("detensorize")
        notes.append("__dp4a written out from its scalar semantics (HIP has no __dp4a)")
    out = replace(out, platform=target)
    launch = find_launch(out, fn.name)
    launcher = launch.launcher if launch is not None else None
    return Translation(source, target, out, print_module(out, target), fn.name, launcher,
                       tuple(passes), tuple(notes))


# ------------------------------------------------------------------------------ launch geometry


def source_geometry(module: ir.Module, fn: ir.Function, spec: KernelSpec,
                    warp_size: int) -> tuple[Geometry, str]:
    """Launch geometry of a GPU kernel as IR over its parameters, from the spec or the file."""
    if spec.launch is not None:
        grid = tuple(dim_expr_to_ir(g, spec, fn) for g in spec.launch.grid)
        env = {**spec.dims, **spec.scalar_values()}
        block = tuple(int(eval_dim_expr(b, env)) for b in spec.launch.block)
        return (Geometry((grid[0], grid[1], grid[2]), (block[0], block[1], block[2]),
                         warp_size=warp_size), "launch geometry from the spec's [launch]")
    launch = find_launch(module, fn.name)
    if launch is None or launch.grid is None or launch.block is None:
        why = launch.reason if launch is not None and launch.reason else \
            "add [launch] grid/block to the spec or a host function that launches it"
        raise ir.UnsupportedConstruct("kernel without launch geometry", fn.line, why)
    shared = fold_constants(launch.shared_bytes) if launch.shared_bytes is not None else None
    block_vals = []
    for b in launch.block:
        b = fold_constants(b)  # 8 * 32, WARPS * 32 after #define substitution
        if not isinstance(b, ir.Const):
            raise ir.UnsupportedConstruct("block size that is not a compile-time constant", fn.line)
        block_vals.append(int(b.value))
    grid = launch.grid
    shared_bytes = int(shared.value) if isinstance(shared, ir.Const) else 0
    return (Geometry((grid[0], grid[1], grid[2]), (block_vals[0], block_vals[1], block_vals[2]),
                     shared_bytes=shared_bytes, warp_size=warp_size),
            "launch geometry from the host launcher")


def dim_expr_to_ir(text: str, spec: KernelSpec, fn: ir.Function) -> ir.Expr:
    """A spec expression over dims as IR over ``fn``'s parameters: a dim that is the value of a
    scalar argument becomes that parameter; any other dim is fixed to the spec's value."""
    dim_to_param = {a.value: a.name for a in spec.args if a.role == "scalar" and a.value in spec.dims}
    params = {p.name: p for p in fn.params}

    def conv(node: ast.AST) -> ir.Expr:
        if isinstance(node, ast.Expression):
            return conv(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return ir.Const(node.value)
        if isinstance(node, ast.Name):
            pname = dim_to_param.get(node.id)
            if pname is not None and pname in params:
                return ir.Var(pname, params[pname].dtype)
            if pname is None and node.id in params and not params[node.id].pointer:
                return ir.Var(node.id, params[node.id].dtype)
            return ir.Const(int(eval_dim_expr(node.id, {**spec.dims, **spec.scalar_values()})))
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "/",
                   ast.Mod: "%"}
            if type(node.op) in ops:
                return ir.BinOp(ops[type(node.op)], conv(node.left), conv(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            args = [conv(a) for a in node.args]
            if node.func.id in ("min", "max") and len(args) == 2:
                return ir.Call(node.func.id, (args[0], args[1]), "i32")
            if node.func.id == "ceil_div" and len(args) == 2:
                return ir.BinOp("/", ir.BinOp("+", args[0], ir.BinOp("-", args[1], ir.Const(1))), args[1])
        raise ir.UnsupportedConstruct(f"launch expression {text!r}")

    return conv(ast.parse(str(text), mode="eval"))


def launch_plan(text: str, platform: str, spec: KernelSpec) -> LaunchPlan:
    """How a driver should launch ``spec.entry`` of GPU source ``text``: the spec's [launch]
    if any, else the host launcher in the file (a function with the kernel's parameters)."""
    geometry = spec.launch_geometry()
    if geometry is not None:
        return LaunchPlan(geometry, None)
    module = parse_module(text, platform)
    launch = find_launch(module, spec.entry)
    if launch is not None and launch.launcher:
        return LaunchPlan(None, launch.launcher)
    if launch is not None and launch.grid is not None and launch.block is not None:
        env: dict[str, Union[int, float]] = {**spec.scalar_values()}
        try:
            grid = tuple(eval_int(g, env) for g in launch.grid)
            block = tuple(eval_int(b, env) for b in launch.block)
            return LaunchPlan(((grid[0], grid[1], grid[2]), (block[0], block[1], block[2])), None)
        except (KeyError, TypeError):
            pass
    return LaunchPlan(None, None)


def eval_int(e: ir.Expr, env: dict[str, Union[int, float]]) -> int:
    """Value of an integer expression over known scalars (C division); KeyError if unknown."""
    if isinstance(e, ir.Const):
        return int(e.value)
    if isinstance(e, ir.Var):
        return int(env[e.name])
    if isinstance(e, ir.Cast):
        return eval_int(e.a, env)
    if isinstance(e, ir.BinOp):
        a, b = eval_int(e.a, env), eval_int(e.b, env)
        if e.op == "/":
            return c_div(a, b)
        if e.op == "%":
            return a - b * c_div(a, b)
        ops = {"+": a + b, "-": a - b, "*": a * b,
               "<<": a << b if b >= 0 else 0, ">>": a >> b if b >= 0 else 0}
        if e.op in ops:
            return ops[e.op]
    if isinstance(e, ir.Call) and e.name in ("min", "max") and len(e.args) == 2:
        vals = [eval_int(x, env) for x in e.args]
        return min(vals) if e.name == "min" else max(vals)
    raise TypeError(f"not an integer expression: {e!r}")


def _called(fn: ir.Function) -> set[str]:
    return {n.name for n in ir.walk(fn) if isinstance(n, ir.Call)}


def _uses_builtin(module: ir.Module, name: str) -> bool:
    return any(isinstance(n, ir.Builtin) and n.name == name for n in ir.walk(module))
