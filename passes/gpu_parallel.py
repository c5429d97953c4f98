"""GPU parallelisation: a sequential C function becomes CUDA/HIP kernels and a host launcher.

Every top-level loop nest of the function becomes one kernel (a kernel boundary is the only
global barrier a GPU has, so nests that follow each other stay ordered). In each nest the
outermost band of perfectly nested, independent loops with launch-time bounds is bound to the
grid: the innermost bound loop to x (consecutive threads touch consecutive elements), the next to
y. Each thread computes its loop indices from blockIdx/threadIdx and is guarded against the
remainder (extents need not divide the block). Loops that carry a dependence, reductions
included, stay sequential inside the thread, which keeps them correct.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Union

from passes import ir
from passes.dependence import loop_dependence
from passes.mathfuncs import MATH_FUNCS

BLOCK_1D = 256
BLOCK_2D = (16, 16)


@dataclass(frozen=True)
class GpuResult:
    module: ir.Module
    kernels: tuple[str, ...]
    launcher: str
    notes: tuple[str, ...]


def parallelise_gpu(fn: ir.Function, module: ir.Module, platform: str = "cuda",
                    block_1d: int = BLOCK_1D, block_2d: tuple[int, int] = BLOCK_2D) -> GpuResult:
    """Turn CPU function ``fn`` into kernels plus a launcher ``<name>_launch`` (same params)."""
    if any(isinstance(n, ir.Call) and n.name.startswith("_mm") for n in ir.walk(fn)):
        raise ir.NotApplicable("the function still uses vector intrinsics: detensorise first")
    if any(isinstance(n, (ir.Builtin, ir.Sync)) for n in ir.walk(fn)):
        raise ir.NotApplicable("the function already uses GPU constructs")
    notes: list[str] = []
    uniform_decls: list[ir.Decl] = []   # scalars computed from parameters (grid sizes use them)
    setup: list[ir.Stmt] = []           # thread-local set-up, replicated into the kernels using it
    uniform = {p.name for p in fn.params if not p.pointer}
    globals_ = {p.name for p in fn.params if p.pointer}
    groups: list[list[ir.Stmt]] = []
    parallel_groups: set[int] = set()
    assigned = {n.name for n in ir.walk(fn) if isinstance(n, ir.Assign)}
    for s in fn.body:
        if (isinstance(s, ir.Decl) and not s.shape and isinstance(s.init, ir.Expr)
                and s.name not in assigned and _uniform(s.init, uniform)):
            uniform_decls.append(s)
            setup.append(s)
            uniform.add(s.name)
            continue
        if isinstance(s, ir.Return) and s.value is None:
            break
        if not groups and _is_setup(s, globals_, assigned):
            setup.append(s)  # e.g. a vector constant before the loops: every thread makes its own
            continue
        if isinstance(s, ir.For) and _band(s, uniform):
            parallel_groups.add(len(groups))
            groups.append([s])
        elif groups and len(groups) - 1 not in parallel_groups:
            groups[-1].append(s)  # sequential statements stay together on one thread
        else:
            groups.append([s])
    _check_no_scalar_crosses(groups, setup, fn)
    kernels: list[ir.Function] = []
    launches: list[ir.Stmt] = []
    for k, group in enumerate(groups):
        name = fn.name if len(groups) == 1 else f"{fn.name}_{k}"
        body, grid, block, note = _bind_group(group, uniform, block_1d, block_2d)
        notes.append(f"kernel '{name}': {note}")
        kernel_setup = _needed_setup(setup, tuple(body))
        kernels.append(replace(fn, name=name, body=tuple(_serialise(kernel_setup + list(body))),
                               kind=ir.KERNEL, launch_bounds=None))
        grid_sub = tuple(_inline_prelude(g, uniform_decls) for g in grid)
        launches.append(ir.Launch(name, (grid_sub[0], grid_sub[1], grid_sub[2]),
                                  (ir.Const(block[0]), ir.Const(block[1]), ir.Const(block[2])),
                                  tuple(ir.Var(p.name, p.dtype) for p in fn.params)))
    launcher_name = f"{fn.name}_launch"
    launcher = ir.Function(launcher_name, fn.params, tuple(launches), kind=ir.HOST)
    others = tuple(f for f in module.functions if f.name != fn.name)
    helpers = tuple(f for f in others if f.kind == ir.DEVICE)
    new_module = ir.Module(helpers + tuple(kernels) + (launcher,), platform,
                           tuple(i for i in module.includes if i in ("math.h", "stdint.h")))
    return GpuResult(new_module, tuple(k.name for k in kernels), launcher_name, tuple(notes))


def _uniform(e: ir.Expr, uniform: set[str]) -> bool:
    for n in ir.walk(e):
        if isinstance(n, ir.Var) and n.name not in uniform:
            return False
        if isinstance(n, (ir.Load, ir.AddressOf)) or (isinstance(n, ir.Call) and n.name not in MATH_FUNCS):
            return False
    return True


def _is_setup(s: ir.Stmt, globals_: set[str], assigned: set[str]) -> bool:
    """Per-thread set-up that can be replicated into every kernel: it writes only local storage
    and declares nothing that a later statement assigns."""
    if isinstance(s, ir.Assign) or ir.buffers_written(s) & globals_:
        return False
    if isinstance(s, ir.Decl) and not s.shape and (s.init is None or s.name in assigned):
        return False
    return not (isinstance(s, ir.For) and any(isinstance(n, ir.Assign) for n in ir.walk(s)))


def _check_no_scalar_crosses(groups: list[list[ir.Stmt]], setup: list[ir.Stmt], fn: ir.Function) -> None:
    """A value made in one kernel cannot be read by a later one (kernels share only global
    memory): reject a name declared at the top of one group, or a set-up name written in it,
    that a later group reads."""
    setup_names = {n for s in setup for n in _defines(s)}
    for i, g in enumerate(groups):
        made = {s.name for s in g if isinstance(s, ir.Decl)}
        made |= {n for s in g for n in _writes(s)} & setup_names
        for later in groups[i + 1:]:
            used = {n for s in later for n in ir.free_vars(s) | ir.buffers_read(s)}
            crossing = made & used
            if crossing:
                raise ir.UnsupportedConstruct(
                    f"scalar '{sorted(crossing)[0]}' computed in one loop nest and used by a later "
                    "one (needs a global temporary)", fn.line)


def _writes(s: ir.Stmt) -> set[str]:
    return {n.name for n in ir.walk(s) if isinstance(n, ir.Assign)} | ir.buffers_written(s)


def _defines(s: ir.Stmt) -> set[str]:
    out = {n.name for n in ir.walk(s) if isinstance(n, (ir.Decl, ir.Assign))}
    return out | ir.buffers_written(s)


def _needed_setup(setup: list[ir.Stmt], body: tuple[ir.Stmt, ...]) -> list[ir.Stmt]:
    """The set-up statements (in order) whose results ``body`` uses, directly or not."""
    needed: set[str] = set()
    for s in body:
        needed |= ir.free_vars(s) | ir.buffers_read(s) | ir.buffers_written(s)
    keep: list[ir.Stmt] = []
    for s in reversed(setup):
        if _defines(s) & needed:
            keep.append(s)
            needed |= ir.free_vars(s) | ir.buffers_read(s)
    return list(reversed(keep))


def _inline_prelude(e: ir.Expr, prelude: list[ir.Decl]) -> ir.Expr:
    for d in reversed(prelude):
        assert isinstance(d.init, ir.Expr)
        e = ir.substitute(e, {d.name: d.init})
    return e


def _band(loop: ir.For, uniform: set[str]) -> list[ir.For]:
    """Outermost perfectly nested loops that are independent and have launch-time bounds."""
    band: list[ir.For] = []
    current: Union[ir.For, None] = loop
    while current is not None and len(band) < 2:
        if not current.is_affine() or not all(_uniform(e, uniform) for e in (current.init, current.bound)):
            break
        verdict = loop_dependence(current)
        # an OpenMP 'parallel for' is the programmer's statement that iterations are independent,
        # except for the scalars it reduces or otherwise carries, which threads cannot share
        trusted = current.kind == ir.PARALLEL and not _carries_scalars(current)
        if not verdict.parallel and not trusted:
            break
        band.append(current)
        inner = [s for s in current.body]
        current = inner[0] if len(inner) == 1 and isinstance(inner[0], ir.For) else None
    return band


def _bind_group(group: list[ir.Stmt], uniform: set[str], block_1d: int, block_2d: tuple[int, int]
                ) -> tuple[list[ir.Stmt], tuple[ir.Expr, ir.Expr, ir.Expr], tuple[int, int, int], str]:
    head = group[0]
    if len(group) != 1 or not isinstance(head, ir.For):
        # statements outside any loop: one thread runs them in order
        body: list[ir.Stmt] = [ir.If(ir.BinOp(
            "&&", ir.BinOp("==", ir.Builtin("blockIdx.x"), ir.Const(0, "u32")),
            ir.BinOp("==", ir.Builtin("threadIdx.x"), ir.Const(0, "u32"))), tuple(group))]
        return body, (ir.Const(1), ir.Const(1), ir.Const(1)), (1, 1, 1), "sequential statements on one thread"
    band = _band(head, uniform)
    if not band:
        why = loop_dependence(head).reason
        body = [ir.If(ir.BinOp("&&", ir.BinOp("==", ir.Builtin("blockIdx.x"), ir.Const(0, "u32")),
                                ir.BinOp("==", ir.Builtin("threadIdx.x"), ir.Const(0, "u32"))),
                      (head,))]
        return body, (ir.Const(1), ir.Const(1), ir.Const(1)), (1, 1, 1), f"runs on one thread ({why})"
    innermost_body = band[-1].body
    axes = ["x"] if len(band) == 1 else ["y", "x"]
    block = (block_1d, 1, 1) if len(band) == 1 else (block_2d[0], block_2d[1], 1)
    grid: list[ir.Expr] = [ir.Const(1), ir.Const(1), ir.Const(1)]
    decls: list[ir.Stmt] = []
    guards: list[ir.Expr] = []
    for loop, axis in zip(band, axes):
        i = "xyz".index(axis)
        step = loop.step
        extent = _extent(loop)
        bsize = block[i]
        blocks = ir.BinOp("/", ir.BinOp("+", extent, ir.Const(bsize - 1)), ir.Const(bsize))
        # an empty loop still launches one block (a grid of 0 blocks is a launch error)
        grid[i] = blocks if _positive(extent) else ir.Select(ir.BinOp(">", extent, ir.Const(0)),
                                                             blocks, ir.Const(1))
        flat = ir.BinOp("+", ir.BinOp("*", ir.Builtin(f"blockIdx.{axis}"), ir.Builtin(f"blockDim.{axis}")),
                        ir.Builtin(f"threadIdx.{axis}"))
        index: ir.Expr = flat if step == ir.Const(1) else ir.BinOp("*", flat, step)
        if not (isinstance(loop.init, ir.Const) and loop.init.value == 0):
            index = ir.BinOp("+", loop.init, index)
        decls.append(ir.Decl(loop.var, loop.var_dtype, init=index))
        guards.append(ir.BinOp("<", ir.Var(loop.var, loop.var_dtype), loop.bound))
    cond = guards[0]
    for g in guards[1:]:
        cond = ir.BinOp("&&", cond, g)
    body = decls + [ir.If(cond, innermost_body)]
    names = ", ".join(f"'{loop.var}' -> {ax}" for loop, ax in zip(band, axes))
    return body, (grid[0], grid[1], grid[2]), block, f"bound {names}, block {block[:len(band)]}"


def _carries_scalars(loop: ir.For) -> bool:
    inside = {n.name for n in ir.walk(loop) if isinstance(n, ir.Decl)}
    return any(isinstance(n, ir.Assign) and n.name not in inside for n in ir.walk(loop))


def _positive(e: ir.Expr) -> bool:
    return isinstance(e, ir.Const) and isinstance(e.value, int) and e.value > 0


def _extent(loop: ir.For) -> ir.Expr:
    span = ir.BinOp("-", loop.bound, loop.init) if loop.init != ir.Const(0) else loop.bound
    if loop.step == ir.Const(1):
        return span
    return ir.BinOp("/", ir.BinOp("+", span, ir.BinOp("-", loop.step, ir.Const(1))), loop.step)


def _serialise(stmts: list[ir.Stmt]) -> list[ir.Stmt]:
    """Loops left inside a thread run sequentially: drop OpenMP/vector kinds and pragmas."""

    def fn(n: ir.Node) -> ir.Node:
        if isinstance(n, ir.For) and n.kind in (ir.PARALLEL, ir.VECTORIZED):
            return replace(n, kind=ir.SERIAL,
                           annotations=tuple(a for a in n.annotations if a[0] not in ("omp", "num_threads")))
        return n

    return [ir.transform(s, fn) for s in stmts]
