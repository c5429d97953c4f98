"""Kernel launches in host functions, and the launch geometry of a kernel (``find_launch``).

Why: a CUDA/HIP kernel's meaning depends on its launch geometry, which only the host code
states. Loop recovery and the drivers need it as expressions over the *kernel's* parameters,
so ``find_launch`` maps the launcher's variables back through the launch's argument list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tree_sitter import Node

from passes import ir
from passes.frontend.cst import fail, named, need_field, text
from passes.frontend.scope import DIM3

if TYPE_CHECKING:
    from passes.frontend.expressions import ExprBuilder
    from passes.frontend.statements import StmtBuilder

Dim3 = tuple[ir.Expr, ir.Expr, ir.Expr]
_NULL_STREAMS = ("0", "NULL", "nullptr", "0u")


def is_launch(node: Node) -> bool:
    fn = node.child_by_field_name("function")
    return any(c.type == "kernel_call_syntax" for c in node.children) or (
        fn is not None and text(fn) == "hipLaunchKernelGGL")


def dim3_value(b: ExprBuilder, parts: list[Node], node: Node) -> Dim3:
    """Geometry from ``dim3(a, b)`` arguments, a ``dim3`` variable, or a plain integer."""
    if len(parts) == 1:
        one = parts[0]
        if one.type == "identifier":
            sym = b.scopes.lookup(text(one))
            if sym is not None and sym.kind == DIM3 and sym.dims is not None:
                return sym.dims
        if one.type == "call_expression" and text(need_field(one, "function")) == "dim3":
            return dim3_value(b, named(need_field(one, "arguments")), one)
    if not 1 <= len(parts) <= 3:
        fail("dim3 with more than 3 components", node)
    exprs = [b.expr(p) for p in parts]
    if any(not ir.is_int(b.dtype(e)) for e in exprs):
        fail("non-integer launch geometry", node)
    exprs += [ir.Const(1)] * (3 - len(exprs))
    return exprs[0], exprs[1], exprs[2]


def launch_statement(b: StmtBuilder, node: Node) -> ir.Launch:
    if b.kind != "host":
        fail("kernel launch in device code", node)
    args = named(need_field(node, "arguments"))
    fn = need_field(node, "function")
    if text(fn) == "hipLaunchKernelGGL":
        if len(args) < 5:
            fail("hipLaunchKernelGGL", node, "expects kernel, grid, block, shared bytes, stream")
        kernel_node, config, args = args[0], args[1:5], args[5:]
    else:
        kernel_node = fn
        config = named(next(c for c in node.children if c.type == "kernel_call_syntax"))
    kernel = text(kernel_node)
    sig = b.ctx.functions.get(kernel)
    if kernel_node.type != "identifier" or sig is None or sig.kind != ir.KERNEL:
        fail(f"launch of '{kernel}'", kernel_node, "not a __global__ function of this file")
    if not 2 <= len(config) <= 4:
        fail("launch configuration", node)
    if len(config) == 4 and text(config[3]) not in _NULL_STREAMS:
        fail("launch on a stream", config[3])
    grid = dim3_value(b, [config[0]], config[0])
    block = dim3_value(b, [config[1]], config[1])
    shared = b.expr(config[2]) if len(config) >= 3 else ir.Const(0)
    if len(args) != len(sig.params):
        fail(f"launch of '{kernel}'", node, f"expects {len(sig.params)} arguments")
    values = []
    for param, arg in zip(sig.params, args):
        value = b.call_arg(arg)
        if param.pointer != isinstance(value, ir.AddressOf):
            fail(f"launch of '{kernel}'", arg, f"argument for '{param.name}' has the wrong kind")
        values.append(value)
    return ir.Launch(kernel, grid, block, tuple(values), shared)


# ------------------------------------------------------------------------------------------
# find_launch


@dataclass(frozen=True)
class LaunchInfo:
    """Launch geometry of a kernel over the kernel's own parameters.

    ``grid``/``block``/``shared_bytes`` are None when the geometry depends on something other
    than kernel parameters and constants; ``reason`` says what. ``launcher`` names the host
    function that can be called in place of the kernel (same parameter list)."""

    grid: Dim3 | None
    block: Dim3 | None
    launcher: str | None
    shared_bytes: ir.Expr | None = None
    reason: str = ""


def find_launch(module: ir.Module, kernel: str) -> LaunchInfo | None:
    """The launch of ``kernel`` in a host function of ``module``; None when nothing launches it."""
    found = [(fn, n) for fn in module.functions if fn.kind == ir.HOST
             for n in ir.walk(fn) if isinstance(n, ir.Launch) and n.kernel == kernel]
    if not found:
        return None
    kfn = module.function(kernel)
    results = [_map_launch(host, launch, kfn) for host, launch in found]
    host = found[0][0]
    launcher = host.name if _same_params(host, kfn) else None
    first = results[0]
    if any(r != first for r in results[1:]):
        return LaunchInfo(None, None, launcher, None, f"'{kernel}' is launched with several geometries")
    if isinstance(first, str):
        return LaunchInfo(None, None, launcher, None, first)
    grid, block, shared = first
    return LaunchInfo(grid, block, launcher, shared)


def _same_params(a: ir.Function, b: ir.Function) -> bool:
    def key(f: ir.Function) -> list[tuple[str, str, bool]]:
        return [(p.name, p.dtype, p.pointer) for p in f.params]

    return key(a) == key(b)


def _map_launch(host: ir.Function, launch: ir.Launch, kfn: ir.Function) -> tuple[Dim3, Dim3, ir.Expr] | str:
    mapping: dict[str, ir.Expr] = {}
    host_params = {p.name: p for p in host.params}
    for arg, kparam in zip(launch.args, kfn.params):
        if isinstance(arg, ir.Var) and arg.name in host_params and not kparam.pointer:
            mapping.setdefault(arg.name, ir.Var(kparam.name, kparam.dtype))
    locals_ = _single_assignment_locals(host)
    exprs = (*launch.grid, *launch.block, launch.shared_bytes)
    resolved = []
    for e in exprs:
        for _ in range(16):  # locals defined from locals
            names = ir.free_vars(e) & locals_.keys()
            if not names:
                break
            e = ir.substitute(e, {n: locals_[n] for n in names})
        missing = sorted(ir.free_vars(e) - mapping.keys())
        if missing:
            return (f"the geometry depends on '{missing[0]}', which is not a parameter of "
                    f"'{host.name}' passed unchanged to '{kfn.name}'")
        resolved.append(ir.substitute(e, mapping))
    return (resolved[0], resolved[1], resolved[2]), (resolved[3], resolved[4], resolved[5]), resolved[6]


def _single_assignment_locals(fn: ir.Function) -> dict[str, ir.Expr]:
    """Scalars of ``fn`` declared with an initial value and never assigned again."""
    assigned = {n.name for n in ir.walk(fn) if isinstance(n, ir.Assign)}
    assigned |= {n.var for n in ir.walk(fn) if isinstance(n, ir.For)}
    return {n.name: n.init for n in ir.walk(fn)
            if isinstance(n, ir.Decl) and isinstance(n.init, ir.Expr) and n.name not in assigned}
