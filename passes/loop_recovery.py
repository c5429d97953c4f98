"""Loop recovery: a CUDA/HIP kernel becomes a sequential C function with explicit loops.

The SIMT program "every thread of every block runs this body" is rewritten as

    for each block (bz, by, bx):            # independent by the programming model
        per-block storage (was __shared__)
        for each barrier-free region of the body:
            for each thread (tz, ty, tx):   # a thread loop
                the region's statements

Barriers (``__syncthreads``, and the implicit warp barrier of a shuffle) split the body into
regions (loop fission). A barrier nested in a loop or branch is legal only where every thread
takes the same path: such loops and branches become block-level control flow around the regions.
Branches that depend on the thread but whose condition cannot change while they run (the
``if (i >= n) return;`` guard, ``if (warp == 0)``) are kept by predicating each region.
Thread-private variables that live across regions are re-computed in each region when they are
pure functions of the indices (cheap, readable) and otherwise expanded into per-block arrays
indexed by the linear thread id. Warp shuffles become an exchange through a per-block buffer;
atomics become plain read-modify-write statements (threads of a block run one after another).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Iterable, Sequence, Union

from passes import ir
from passes.inline import inline_gpu_helpers
from passes.mathfuncs import MATH_FUNCS
from passes.names import uniquify
from passes.typeinfer import dtype_of, type_env

AXES = ("x", "y", "z")
SHUFFLES = ("__shfl_sync", "__shfl_down_sync", "__shfl_up_sync", "__shfl_xor_sync")
ATOMICS = {
    "atomicAdd": "+", "atomicSub": "-", "atomicAnd": "&", "atomicOr": "|", "atomicXor": "^",
    "atomicMax": "max", "atomicMin": "min", "atomicExch": "exch", "atomicCAS": "cas",
}


@dataclass(frozen=True)
class Geometry:
    """Launch geometry of a kernel: grid extents as expressions over the kernel's parameters,
    block extents as constants (per-thread state is sized by them)."""

    grid: tuple[ir.Expr, ir.Expr, ir.Expr]
    block: tuple[int, int, int]
    shared_bytes: int = 0
    warp_size: int = 32

    @property
    def threads(self) -> int:
        return self.block[0] * self.block[1] * self.block[2]


@dataclass(frozen=True, eq=True)
class ThreadRegion(ir.Stmt):
    """A barrier-free run of thread statements; becomes a thread loop nest at the end."""

    body: tuple[ir.Stmt, ...]


def recover_loops(fn: ir.Function, module: ir.Module, geometry: Geometry) -> ir.Function:
    """Rewrite kernel ``fn`` of ``module`` into a C function with the same parameters."""
    if fn.kind != ir.KERNEL:
        raise ir.NotApplicable(f"'{fn.name}' is not a kernel")
    if any(b <= 0 for b in geometry.block) or geometry.threads > 1024:
        raise ir.NotApplicable(f"invalid block size {geometry.block}")
    return _Recovery(fn, module, geometry).run()


class _Recovery:
    def __init__(self, fn: ir.Function, module: ir.Module, geometry: Geometry):
        self.fn = uniquify(inline_gpu_helpers(fn, module))
        self.geo = geometry
        self.taken = {p.name for p in self.fn.params} | ir.free_vars(self.fn) | \
            ir.declared_names(self.fn)
        self.counter = itertools.count()
        self.block_vars = {a: self.fresh(f"b{a}") for a in AXES}
        self.thread_vars = {a: self.fresh(f"t{a}") for a in AXES}
        self.shared_decls: list[ir.Decl] = []
        self.env = type_env(self.fn)
        self.assigned = _assigned_names(self.fn.body)  # names the kernel ever assigns
        self.global_atomics = False

    # ---------------------------------------------------------------- helpers

    def fresh(self, base: str) -> str:
        name = base
        while name in self.taken:
            name = f"{base}_{next(self.counter)}"
        self.taken.add(name)
        return name

    def tid_expr(self) -> ir.Expr:
        """Linear thread index within the block, written with builtins (substituted later)."""
        bx, by, _ = self.geo.block
        tx, ty, tz = (ir.Builtin(f"threadIdx.{a}") for a in AXES)
        expr: ir.Expr = tx
        if by > 1 or self.geo.block[2] > 1:
            inner: ir.Expr = ty
            if self.geo.block[2] > 1:
                inner = ir.BinOp("+", ty, ir.BinOp("*", ir.Const(by, "u32"), tz))
            expr = ir.BinOp("+", tx, ir.BinOp("*", ir.Const(bx, "u32"), inner))
        return expr

    # ---------------------------------------------------------------- pipeline

    def run(self) -> ir.Function:
        body = self.substitute_dims(self.fn.body)
        body = tuple(eliminate_returns(list(body), self.fn.line, self.env))
        body = self.hoist_shared(body)
        body = tuple(self.lower_collectives(body))
        uniform = {p.name for p in self.fn.params if not p.pointer}
        items = self.split(body, uniform)
        items = self.fix_cross_region_vars(items)
        items = [x for s in items for x in _as_list(self.materialise(s))]
        block_body = tuple(self.shared_decls) + tuple(items)
        return replace(self.fn, body=self.block_loops(block_body))

    def substitute_dims(self, body: tuple[ir.Stmt, ...]) -> tuple[ir.Stmt, ...]:
        mapping: dict[str, ir.Expr] = {"warpSize": ir.Const(self.geo.warp_size, "i32")}
        for i, a in enumerate(AXES):
            mapping[f"blockDim.{a}"] = ir.Const(self.geo.block[i], "u32")
            g = self.geo.grid[i]
            mapping[f"gridDim.{a}"] = g if isinstance(g, ir.Const) else ir.Cast("u32", g)
        return tuple(ir.substitute(s, mapping) for s in body)

    def hoist_shared(self, body: tuple[ir.Stmt, ...]) -> tuple[ir.Stmt, ...]:
        """Shared-memory declarations become per-block arrays declared once per block."""

        def fn(n: ir.Node) -> Union[ir.Node, tuple[()]]:
            if isinstance(n, ir.Decl) and n.scope == ir.SHARED:
                shape = n.shape
                if shape == (-1,):
                    size = ir.DTYPE_BITS.get(n.dtype, 32) // 8
                    if self.geo.shared_bytes <= 0:
                        raise ir.UnsupportedConstruct(
                            f"dynamic shared memory '{n.name}' without a shared-memory size in "
                            "the launch", self.fn.line)
                    shape = (self.geo.shared_bytes // size,)
                if n.init is not None:
                    raise ir.UnsupportedConstruct(f"initialised __shared__ variable '{n.name}'",
                                                  self.fn.line)
                self.shared_decls.append(replace(n, shape=shape, scope=ir.LOCAL))
                return ()
            return n

        return ir.transform_stmts(body, fn)  # type: ignore[arg-type]

    # ---------------------------------------------------------------- collectives

    def lower_collectives(self, stmts: Iterable[ir.Stmt]) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        for s in stmts:
            if isinstance(s, (ir.For, ir.While)):
                own = [s.init, s.bound, s.step] if isinstance(s, ir.For) else [s.cond]
                if any(_calls(e, SHUFFLES + tuple(ATOMICS)) for e in own):
                    raise ir.UnsupportedConstruct("warp collective or atomic in a loop header",
                                                  self.fn.line)
                out.append(replace(s, body=tuple(self.lower_collectives(s.body))))
            elif isinstance(s, ir.If):
                if _calls(s.cond, SHUFFLES + tuple(ATOMICS)):
                    raise ir.UnsupportedConstruct("warp collective or atomic in a branch condition",
                                                  self.fn.line)
                out.append(replace(s, then=tuple(self.lower_collectives(s.then)),
                                   orelse=tuple(self.lower_collectives(s.orelse))))
            else:
                out.extend(self.lower_atomics(self.lower_shuffles(s)))
        return out

    def lower_shuffles(self, s: ir.Stmt) -> list[ir.Stmt]:
        calls = [n for n in ir.walk(s) if isinstance(n, ir.Call) and n.name in SHUFFLES]
        if not calls:
            return [s]
        if any(isinstance(n, ir.Call) and n.name.startswith(("__ballot", "__any", "__all"))
               for n in ir.walk(s)):
            raise ir.UnsupportedConstruct("warp vote (__ballot_sync/__any_sync/__all_sync)",
                                          self.fn.line)
        pre: list[ir.Stmt] = []
        replacements: dict[ir.Call, ir.Expr] = {}
        w = self.geo.warp_size
        size = -(-self.geo.threads // w) * w
        tid = self.tid_expr()
        for c in calls:
            if c in replacements:
                continue
            if len(c.args) not in (3, 4):
                raise ir.UnsupportedConstruct(f"{c.name} with {len(c.args)} arguments", self.fn.line)
            value, x = c.args[1], c.args[2]
            width: ir.Expr = c.args[3] if len(c.args) == 4 else ir.Const(w, "i32")
            dtype = dtype_of(value, self.env)
            buf = self.fresh("exchange")
            self.shared_decls.append(ir.Decl(buf, dtype, (size,), scope=ir.LOCAL))
            pre.append(ir.Store(buf, (tid,), value))
            lane = ir.BinOp("%", tid, ir.Const(w, "u32"))
            own = ir.Load(buf, (tid,))
            base = ir.BinOp("-", tid, lane)
            full = isinstance(width, ir.Const) and int(width.value) == w  # one segment per warp
            seg_lane = lane if full else ir.BinOp("%", lane, width)
            if c.name == "__shfl_down_sync":
                ok: ir.Expr = ir.BinOp("<", ir.BinOp("+", seg_lane, x), width)
                src: ir.Expr = ir.Load(buf, (ir.BinOp("+", tid, x),))
            elif c.name == "__shfl_up_sync":
                ok = ir.BinOp(">=", seg_lane, x)
                src = ir.Load(buf, (ir.BinOp("-", tid, x),))
            elif c.name == "__shfl_xor_sync":
                src_lane = ir.BinOp("^", lane, x)
                seg_end = width if full else \
                    ir.BinOp("*", ir.BinOp("+", ir.BinOp("/", lane, width), ir.Const(1)), width)
                ok = ir.BinOp("<", src_lane, seg_end)
                src = ir.Load(buf, (ir.BinOp("+", base, src_lane),))
            else:  # __shfl_sync: read lane x of the caller's segment
                seg_start = ir.Const(0, "u32") if full else ir.BinOp("*", ir.BinOp("/", lane, width), width)
                src_lane = ir.BinOp("%", x, width)
                if not full:
                    src_lane = ir.BinOp("+", seg_start, src_lane)
                ok = ir.Const(1)
                src = ir.Load(buf, (ir.BinOp("+", base, src_lane),))
            replacements[c] = src if ok == ir.Const(1) else ir.Select(ok, src, own)
        pre.append(ir.Sync("warp"))

        def fn(n: ir.Node) -> ir.Node:
            return replacements.get(n, n) if isinstance(n, ir.Call) else n

        return pre + [ir.transform(s, fn)]

    def lower_atomics(self, stmts: list[ir.Stmt]) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        for s in stmts:
            call = _top_call(s)
            if call is None or call.name not in ATOMICS:
                if any(isinstance(n, ir.Call) and n.name in ATOMICS for n in ir.walk(s)):
                    raise ir.UnsupportedConstruct("atomic nested inside an expression", self.fn.line)
                out.append(s)
                continue
            addr = call.args[0]
            if not isinstance(addr, ir.AddressOf):
                raise ir.UnsupportedConstruct(f"{call.name} on a non-buffer address", self.fn.line)
            old = ir.Load(addr.buffer, addr.indices)
            op = ATOMICS[call.name]
            value = call.args[1]
            new: ir.Expr
            if op in ("max", "min"):
                new = ir.Call(op, (old, value), dtype_of(old, self.env))
            elif op == "exch":
                new = value
            elif op == "cas":
                new = ir.Select(ir.BinOp("==", old, call.args[1]), call.args[2], old)
            else:
                new = ir.BinOp(op, old, value)
            if any(p.pointer and p.name == addr.buffer for p in self.fn.params):
                self.global_atomics = True
            if isinstance(s, ir.ExprStmt):
                out.append(ir.Store(addr.buffer, addr.indices, new))
            else:
                tmp = self.fresh("old")
                dt = dtype_of(old, self.env)
                self.env[tmp] = dt
                out.append(ir.Decl(tmp, dt, init=old))
                out.append(ir.Store(addr.buffer, addr.indices, _replace_expr(new, old, ir.Var(tmp, dt))))
                if isinstance(s, ir.Decl):
                    out.append(replace(s, init=ir.Var(tmp, dt)))
                elif isinstance(s, ir.Assign):
                    out.append(replace(s, value=ir.Var(tmp, dt)))
        return out

    # ---------------------------------------------------------------- fission

    def split(self, stmts: Sequence[ir.Stmt], uniform: set[str]) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        run: list[ir.Stmt] = []

        def flush() -> None:
            if run:
                out.append(ThreadRegion(tuple(run)))
                run.clear()

        assigned = self.assigned
        for s in stmts:
            if isinstance(s, ir.Sync):
                flush()
                continue
            if not _has_barrier(s):
                if (isinstance(s, ir.Decl) and not s.shape and s.init is not None
                        and isinstance(s.init, ir.Expr) and s.name not in assigned
                        and self.is_uniform(s.init, uniform)):
                    out.append(s)  # computed once per block, visible to block-level control
                    uniform.add(s.name)
                else:
                    run.append(s)
                continue
            flush()
            if isinstance(s, ir.For):
                uniform_bounds = all(self.is_uniform(e, uniform) for e in (s.init, s.bound, s.step))
                if uniform_bounds and s.var not in _assigned_names(s.body):
                    out.append(replace(s, body=tuple(self.split(s.body, uniform | {s.var}))))
                elif self.warp_loop_ok(s):
                    decl, loop = self.warp_uniform_loop(s, uniform)
                    run.append(decl)
                    flush()
                    out.extend(loop)
                else:
                    raise ir.UnsupportedConstruct(
                        f"barrier (__syncthreads or warp shuffle) inside loop '{s.var}' whose "
                        "bounds depend on the thread", s.line or self.fn.line)
            elif isinstance(s, ir.If):
                then = self.split(s.then, set(uniform))
                orelse = self.split(s.orelse, set(uniform))
                if self.is_uniform(s.cond, uniform):
                    out.append(replace(s, then=tuple(then), orelse=tuple(orelse)))
                elif self.is_stable(s.cond, s):
                    out.extend(_predicate(then, s.cond))
                    out.extend(_predicate(orelse, ir.UnOp("!", s.cond)))
                else:
                    raise ir.UnsupportedConstruct(
                        "barrier inside a branch whose condition depends on the thread and on "
                        "values that change inside the branch", s.line or self.fn.line)
            else:
                raise ir.UnsupportedConstruct(
                    f"barrier inside a {type(s).__name__.lower()} statement",
                    getattr(s, "line", 0) or self.fn.line)
        flush()
        return out

    def warp_loop_ok(self, loop: ir.For) -> bool:
        """A loop with thread-dependent bounds can hold warp collectives (not block barriers):
        its trip count need only be uniform within a warp, as in one-warp-per-row loops."""
        has_block_sync = any(isinstance(n, ir.Sync) and n.scope == "block" for n in ir.walk(loop))
        cond = ir.BinOp(loop.cmp, ir.Var(loop.var, loop.var_dtype), loop.bound)
        return (not has_block_sync and loop.var not in _assigned_names(loop.body)
                and not any(isinstance(n, (ir.Load, ir.Call)) for n in ir.walk(cond))
                and not (ir.free_vars(cond) & _assigned_names(loop.body)))

    def warp_uniform_loop(self, loop: ir.For, uniform: set[str]) -> tuple[ir.Stmt, list[ir.Stmt]]:
        """``for (v = init; v CMP bound; v UPDATE= step) body`` with warp collectives inside and a
        thread-dependent trip count becomes a block-level loop that runs while any thread is
        still iterating; each thread's body and update are predicated on its own condition:

            v = init;                                   // per thread
            while (1) {
                active = 0; [threads] if (v CMP bound) active = 1;
                if (!active) break;
                [threads, predicated] body;  [threads] if (v CMP bound) v UPDATE= step;
            }
        """
        v = ir.Var(loop.var, loop.var_dtype)
        cond = ir.BinOp(loop.cmp, v, loop.bound)
        active = self.fresh(f"{loop.var}_active")
        step = ir.Assign(loop.var, ir.BinOp(loop.update, v, loop.step))
        body: list[ir.Stmt] = [
            ir.Assign(active, ir.Const(0)),
            ThreadRegion((ir.If(cond, (ir.Assign(active, ir.Const(1)),)),)),
            ir.If(ir.UnOp("!", ir.Var(active)), (ir.Break(),)),
            *_predicate(self.split(loop.body, set(uniform)), cond),
            ThreadRegion((ir.If(cond, (step,)),)),
        ]
        decl = ir.Decl(loop.var, loop.var_dtype, init=loop.init)
        return decl, [ir.Decl(active, "i32", init=ir.Const(0)),
                      ir.While(ir.Const(1), tuple(body), line=loop.line)]

    def is_uniform(self, e: ir.Expr, uniform: set[str]) -> bool:
        for n in ir.walk(e):
            if isinstance(n, ir.Builtin) and n.name.startswith("threadIdx"):
                return False
            if isinstance(n, ir.Var) and n.name not in uniform:
                return False
            if isinstance(n, (ir.Load, ir.AddressOf)):
                return False
            if isinstance(n, ir.Call) and n.name not in MATH_FUNCS:
                return False
        return True

    def is_stable(self, cond: ir.Expr, branch: ir.If) -> bool:
        """A condition that cannot change while its branch runs: no memory reads, and none of
        its variables is assigned inside the branch."""
        if any(isinstance(n, (ir.Load, ir.Call)) for n in ir.walk(cond)):
            return False
        return not (ir.free_vars(cond) & _assigned_names(branch.then + branch.orelse))

    # ---------------------------------------------------------------- cross-region variables

    def fix_cross_region_vars(self, items: list[ir.Stmt]) -> list[ir.Stmt]:
        regions = [n for s in items for n in ir.walk(s) if isinstance(n, ThreadRegion)]
        decls: dict[str, ir.Decl] = {}
        order: list[str] = []
        for r in regions:
            for n in ir.walk(r):
                if isinstance(n, ir.Decl):
                    decls[n.name] = n
                    order.append(n.name)
        users: dict[str, list[int]] = {name: [] for name in decls}
        for i, r in enumerate(regions):
            names = ir.free_vars(r) | _assigned_names(r.body) | ir.buffers_read(r) | \
                ir.buffers_written(r) | {n.name for n in ir.walk(r) if isinstance(n, ir.Decl)}
            for name in names & set(decls):
                users[name].append(i)
        crossing = {n for n, rs in users.items() if len(rs) > 1}
        if not crossing:
            return items
        assigned = _assigned_names(tuple(regions))
        top_level = {s.name for r in regions for s in r.body if isinstance(s, ir.Decl)}
        remat: set[str] = set()
        changed = True
        candidates = {n for n in decls if n not in assigned and n in top_level
                      and not decls[n].shape and isinstance(decls[n].init, ir.Expr)}
        while changed:  # pure in indices, parameters, block values and other remat names
            changed = False
            for name in sorted(candidates - remat):
                init = decls[name].init
                assert isinstance(init, ir.Expr)
                deps = ir.free_vars(init)
                if any(isinstance(n, (ir.Load, ir.AddressOf)) or
                       (isinstance(n, ir.Call) and n.name not in MATH_FUNCS) for n in ir.walk(init)):
                    continue
                if all(d not in decls or d in remat for d in deps):
                    remat.add(name)
                    changed = True
        expand = crossing - remat
        # remat names needed by crossing remat names must also be available: closure per region
        tid = self.tid_expr()
        arrays = {name: self.fresh(f"{name}_per_thread") for name in sorted(expand)}
        for name, arr in arrays.items():
            d = decls[name]
            self.shared_decls.append(ir.Decl(arr, d.dtype, (self.geo.threads,) + d.shape, scope=ir.LOCAL))

        def rewrite_region(r: ThreadRegion) -> ThreadRegion:
            body = tuple(_expand_vars(r.body, arrays, decls, tid))
            declared = {n.name for n in ir.walk(ThreadRegion(body)) if isinstance(n, ir.Decl)}
            used = ir.free_vars(ThreadRegion(body))
            needed: list[str] = []
            frontier = [n for n in used if n in remat and n not in declared]
            while frontier:
                n = frontier.pop()
                if n in needed:
                    continue
                needed.append(n)
                init = decls[n].init
                assert isinstance(init, ir.Expr)
                frontier.extend(d for d in ir.free_vars(init) if d in remat and d not in declared)
            prefix = tuple(decls[n] for n in order if n in needed)
            return ThreadRegion(_drop_dead_decls(prefix + body))

        def fn(n: ir.Node) -> ir.Node:
            return rewrite_region(n) if isinstance(n, ThreadRegion) else n

        return [ir.transform(s, fn) for s in items]

    # ---------------------------------------------------------------- loops

    def materialise(self, s: ir.Stmt) -> ir.Stmt:
        def fn(n: ir.Node) -> Union[ir.Node, tuple[()]]:
            if not isinstance(n, ThreadRegion):
                return n
            if not n.body:
                return ()
            mapping: dict[str, ir.Expr] = {}
            for i, a in enumerate(AXES):
                if self.geo.block[i] > 1:
                    mapping[f"threadIdx.{a}"] = ir.Var(self.thread_vars[a], "u32")
                else:
                    mapping[f"threadIdx.{a}"] = ir.Const(0, "u32")
            body = tuple(ir.substitute(x, mapping) for x in n.body)
            for i, a in enumerate(AXES):  # x innermost
                if self.geo.block[i] > 1:
                    body = (ir.For(self.thread_vars[a], ir.Const(0, "u32"),
                                   ir.Const(self.geo.block[i], "u32"), ir.Const(1, "u32"), body,
                                   var_dtype="u32", annotations=(("thread_loop", f"threadIdx.{a}"),)),)
            return body  # type: ignore[return-value]  # spliced into the statement list

        result = ir.transform(s, fn)  # type: ignore[arg-type]
        return result

    def block_loops(self, body: tuple[ir.Stmt, ...]) -> tuple[ir.Stmt, ...]:
        mapping: dict[str, ir.Expr] = {}
        for i, a in enumerate(AXES):
            g = self.geo.grid[i]
            single = isinstance(g, ir.Const) and g.value == 1
            mapping[f"blockIdx.{a}"] = ir.Const(0, "u32") if single else ir.Var(self.block_vars[a], "u32")
        body = tuple(ir.substitute(s, mapping) for s in body)
        has_global_atomics = self.global_atomics
        for i, a in enumerate(AXES):
            g = self.geo.grid[i]
            if isinstance(g, ir.Const) and g.value == 1:
                continue
            notes: tuple[tuple[str, str], ...] = (("block_loop", f"blockIdx.{a}"),)
            if not has_global_atomics:
                notes += (("independent", "CUDA blocks are unordered"),)
            bound = g if isinstance(g, ir.Const) else ir.Cast("u32", g)
            body = (ir.For(self.block_vars[a], ir.Const(0, "u32"), bound, ir.Const(1, "u32"), body,
                           var_dtype="u32", annotations=notes),)
        return body


# -------------------------------------------------------------------- free helpers


def _as_list(x: Union[ir.Stmt, tuple[ir.Stmt, ...]]) -> list[ir.Stmt]:
    return list(x) if isinstance(x, tuple) else [x]


def _calls(e: ir.Node, names: Sequence[str]) -> bool:
    return any(isinstance(n, ir.Call) and n.name in names for n in ir.walk(e))


def _top_call(s: ir.Stmt) -> Union[ir.Call, None]:
    if isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.Call):
        return s.expr
    if isinstance(s, ir.Decl) and isinstance(s.init, ir.Call):
        return s.init
    if isinstance(s, ir.Assign) and isinstance(s.value, ir.Call):
        return s.value
    return None


def _replace_expr(e: ir.Expr, old: ir.Expr, new: ir.Expr) -> ir.Expr:
    def fn(n: ir.Node) -> ir.Node:
        return new if n == old else n

    return ir.transform(e, fn)


def _has_barrier(s: ir.Node) -> bool:
    return any(isinstance(n, ir.Sync) for n in ir.walk(s))


def _assigned_names(stmts: Union[Sequence[ir.Stmt], ir.Node]) -> set[str]:
    nodes: Iterable[ir.Node] = [stmts] if isinstance(stmts, ir.Node) else stmts
    out: set[str] = set()
    for s in nodes:
        for n in ir.walk(s):
            if isinstance(n, ir.Assign):
                out.add(n.name)
            elif isinstance(n, ir.For):
                out.add(n.var)
    return out


def _predicate(items: list[ir.Stmt], cond: ir.Expr) -> list[ir.Stmt]:
    out: list[ir.Stmt] = []
    for s in items:
        if isinstance(s, ThreadRegion):
            out.append(ThreadRegion((ir.If(cond, s.body),)))
        elif isinstance(s, ir.For):
            out.append(replace(s, body=tuple(_predicate(list(s.body), cond))))
        elif isinstance(s, ir.If):
            out.append(replace(s, then=tuple(_predicate(list(s.then), cond)),
                               orelse=tuple(_predicate(list(s.orelse), cond))))
        else:
            out.append(s)
    return out


def _expand_vars(stmts: tuple[ir.Stmt, ...], arrays: dict[str, str], decls: dict[str, ir.Decl],
                 tid: ir.Expr) -> tuple[ir.Stmt, ...]:
    if not arrays:
        return stmts

    def fn(n: ir.Node) -> Union[ir.Node, tuple[ir.Stmt, ...]]:
        if isinstance(n, ir.Var) and n.name in arrays:
            return ir.Load(arrays[n.name], (tid,))
        if isinstance(n, ir.Assign) and n.name in arrays:
            return ir.Store(arrays[n.name], (tid,), n.value)
        if isinstance(n, (ir.Load, ir.AddressOf)) and n.buffer in arrays:
            return replace(n, buffer=arrays[n.buffer], indices=(tid,) + n.indices)
        if isinstance(n, ir.Store) and n.buffer in arrays:
            return replace(n, buffer=arrays[n.buffer], indices=(tid,) + n.indices)
        if isinstance(n, ir.Decl) and n.name in arrays:
            if n.init is None:
                return ()
            if n.shape:
                raise ir.UnsupportedConstruct(f"initialised local array '{n.name}' used across "
                                              "a barrier")
            assert isinstance(n.init, ir.Expr)
            return (ir.Store(arrays[n.name], (tid,), n.init),)
        return n

    return ir.transform_stmts(stmts, fn)  # type: ignore[arg-type]


def _drop_dead_decls(body: tuple[ir.Stmt, ...]) -> tuple[ir.Stmt, ...]:
    """Remove top-level pure declarations nothing reads (left over after re-computation)."""
    while True:
        used: set[str] = set()
        for s in body:
            for n in ir.walk(s):
                if isinstance(n, ir.Var):
                    used.add(n.name)
                elif isinstance(n, ir.Assign):
                    used.add(n.name)
        keep = tuple(s for s in body if not (
            isinstance(s, ir.Decl) and not s.shape and s.name not in used
            and (s.init is None or (isinstance(s.init, ir.Expr) and _pure(s.init)))))
        if keep == body:
            return body
        body = keep


def _pure(e: ir.Expr) -> bool:
    return not any(isinstance(n, ir.Call) and n.name not in MATH_FUNCS for n in ir.walk(e))


def eliminate_returns(stmts: list[ir.Stmt], line: int = 0,
                      env: Union[dict[str, str], None] = None) -> list[ir.Stmt]:
    """Turn early returns into structured control flow: what follows a conditional return is
    moved into the branch that does not return."""
    for i, s in enumerate(stmts):
        if isinstance(s, ir.Return):
            return stmts[:i]
        if isinstance(s, ir.If) and _contains_return(s):
            rest = stmts[i + 1:]
            then = eliminate_returns(list(s.then) + rest, line, env)
            orelse = eliminate_returns(list(s.orelse) + rest, line, env)
            if not then:
                return stmts[:i] + [ir.If(_negate(s.cond, env or {}), tuple(orelse))]
            return stmts[:i] + [ir.If(s.cond, tuple(then), tuple(orelse))]
        if isinstance(s, (ir.For, ir.While)) and _contains_return(s):
            raise ir.UnsupportedConstruct("return inside a loop of a kernel", line)
    return stmts


def _contains_return(s: ir.Node) -> bool:
    return any(isinstance(n, ir.Return) for n in ir.walk(s))


def _negate(cond: ir.Expr, env: dict[str, str]) -> ir.Expr:
    """Logical negation; comparisons are flipped only on integers (NaN breaks it for floats)."""
    flips = {"<": ">=", ">=": "<", ">": "<=", "<=": ">", "==": "!=", "!=": "=="}
    if isinstance(cond, ir.BinOp) and cond.op in flips and all(
            ir.is_int(dtype_of(x, env)) or dtype_of(x, env) == "u32" for x in (cond.a, cond.b)):
        return ir.BinOp(flips[cond.op], cond.a, cond.b)
    if isinstance(cond, ir.UnOp) and cond.op == "!":
        return cond.a
    return ir.UnOp("!", cond)
