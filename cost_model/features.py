"""A fixed-length feature vector of a candidate program, for the learned cost model.

Why these features: the cost model must tell apart candidates of one workload that differ in loop
structure (split, reorder, fuse), in how loops run (parallel, vectorised, unrolled, bound to GPU
threads), in data reuse (tiling changes the footprint of the inner loops) and in the instructions
used (AVX-512, VNNI, AMX, dp4a, WMMA). Each of these leaves a trace in the IR that is cheap to
measure statically, so the features are computed from the IR alone (no compilation), with symbolic
extents evaluated at the workload's scalar values (``dims``) when they are given.

The vector is ``len(FEATURE_NAMES)`` long, in that order, always finite. Counts that span orders of
magnitude are ``log2(1 + x)``; fractions are in [0, 1]. The layout is part of the saved state of a
model (``cost_model.base``): changing it invalidates saved models, which then refuse to load.

Analysis model (deliberately simple and total; any IR the front end produces is accepted):
- Each ``For`` has an estimated trip count: ``ceil((bound - init) / step)`` for counting loops,
  the number of halvings/doublings for ``>>=``/``*=`` loops, ``DEFAULT_TRIPS`` when the bounds
  cannot be evaluated. Variables of enclosing loops are taken at the middle of their range, so a
  triangular loop gets its average trip count and a tile loop ``ii < min(i + T, N)`` gets ``T``.
  ``While`` loops count ``DEFAULT_TRIPS`` iterations.
- Scalars come from ``dims`` (parameters by name; GPU builtins by name, e.g. ``"blockDim.x"``),
  else ``DEFAULT_SCALAR``; pure local definitions (``int base = r * cols``) are evaluated and
  substituted into indices, as the dependence analysis does.
- Both branches of an ``If`` are counted (an upper bound on the work).
- Footprint of a loop level: per buffer, the largest number of distinct elements any one access
  touches, estimated as the product of the trip counts of the loops (inside that level) its index
  depends on (directly, or through the bounds of a dependent loop), times the lanes of a vector
  access; summed over buffers in bytes.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, field
from typing import Mapping, Sequence, Union

import numpy as np

from passes import ir, typeinfer
from passes.mathfuncs import MATH_FUNCS

DEFAULT_SCALAR = 128  # value of a scalar parameter that ``dims`` does not give
DEFAULT_BLOCK_DIM = 128  # blockDim.* when not given (per axis x; y and z default to 1)
DEFAULT_GRID_DIM = 64
DEFAULT_TRIPS = 16  # trip count of a loop whose bounds cannot be evaluated
MAX_TRIPS = 2.0 ** 40  # caps keep the features finite for absurd or overflowing bounds

OUTER_LEVELS = 6  # extents of the deepest nest, outermost first
INNER_LEVELS = 4  # ... and innermost first
PASS_HASH_BUCKETS = 4

# Pass names the tuner knows (the translation pipeline's normalising passes and the tunable
# ones of the search space). Other names share ``PASS_HASH_BUCKETS`` hashed slots.
KNOWN_PASSES: tuple[str, ...] = (
    "loop_recovery", "detensorize", "cpu_parallel", "gpu_parallel", "inline", "names", "simplify",
    "wmma_lowering", "split", "reorder", "fuse", "unroll", "vectorize", "parallel", "bind",
    "cache_read", "cache_write", "cache", "tensorize", "pipeline",
)
_PASS_ALIASES = {"vectorise": "vectorize", "tensorise": "tensorize", "parallelise": "parallel",
                 "parallelize": "parallel", "cache_reads": "cache_read", "cache_writes": "cache_write",
                 "wmma": "wmma_lowering", "fusion": "fuse"}

_VARYING_BUILTINS = frozenset(f"{b}.{a}" for b in ("threadIdx", "blockIdx") for a in "xyz")
_MATH_CHEAP = ("max", "min", "abs", "fma", "floor", "ceil", "round", "sign")

FEATURE_NAMES: tuple[str, ...] = (
    # structure
    "n_functions", "n_loops", "max_depth", "n_ifs", "n_while",
    *(f"log2_extent_outer_{i}" for i in range(OUTER_LEVELS)),
    *(f"log2_extent_inner_{i}" for i in range(INNER_LEVELS)),
    "log2_iters_deepest_nest", "log2_iters_total",
    # work per iteration of the innermost loop of the deepest nest
    "inner_loads", "inner_stores", "inner_flops", "inner_int_ops", "inner_math_calls",
    "inner_local_accesses",
    # total work, log2(1 + count)
    "log2_total_loads", "log2_total_stores", "log2_total_flops", "log2_total_int_ops",
    "log2_total_math_calls", "log2_total_load_bytes", "log2_total_store_bytes",
    # how loops run
    "n_parallel_loops", "n_vectorized_loops", "n_unrolled_loops", "n_thread_loops",
    "log2_parallel_extent", "parallel_loop_depth", "omp_collapse", "log2_num_threads",
    "log2_max_unroll", "log2_unrolled_body_copies", "log2_vectorized_extent", "innermost_kind_vectorized",
    "innermost_kind_unrolled", "innermost_kind_parallel",
    # access patterns, weighted by how often each access runs
    "frac_stride1", "frac_invariant", "frac_strided", "frac_gpu_coalesced", "frac_gpu_broadcast",
    # memory footprints (bytes, log2) of the innermost 1, 2, 3 levels of the deepest nest, and all
    "log2_footprint_l1", "log2_footprint_l2", "log2_footprint_l3", "log2_footprint_all",
    "log2_arith_intensity", "log2_arith_intensity_l2",
    # data types and buffers
    "n_global_buffers", "mean_elem_bytes", "log2_local_array_bytes", "log2_shared_bytes",
    "max_vector_bits",
    # intrinsics
    "n_intrinsic_calls", "n_avx512_calls", "n_vnni_calls", "n_amx_calls", "n_dp4a_calls",
    "n_wmma_calls", "log2_intrinsic_ops",
    # GPU
    "n_syncs", "n_shuffles", "n_atomics", "n_builtin_uses", "log2_threads_per_block", "log2_grid_blocks",
    "n_helper_calls",
    # pass sequence
    "n_passes",
    *(f"pass_{p}" for p in KNOWN_PASSES),
    *(f"pass_hash_{i}" for i in range(PASS_HASH_BUCKETS)),
)
N_FEATURES = len(FEATURE_NAMES)
_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}

Number = Union[int, float]
_ARITH = ("+", "-", "*", "/", "%")


def _log2p(x: float) -> float:
    return math.log2(1.0 + max(0.0, min(float(x), 2.0 ** 120)))


@dataclass
class _Ops:
    """What one execution of a statement list does (nested loops excluded)."""

    loads: float = 0.0
    stores: float = 0.0
    load_bytes: float = 0.0
    store_bytes: float = 0.0
    local_accesses: float = 0.0
    flops: float = 0.0
    int_ops: float = 0.0
    math: float = 0.0
    intrinsics: float = 0.0
    avx512: float = 0.0
    vnni: float = 0.0
    amx: float = 0.0
    dp4a: float = 0.0
    wmma: float = 0.0
    intrinsic_ops: float = 0.0
    syncs: float = 0.0
    shuffles: float = 0.0
    atomics: float = 0.0
    builtins: float = 0.0
    helper_calls: float = 0.0
    ifs: float = 0.0


_OPS_FIELDS = tuple(_Ops.__dataclass_fields__)


@dataclass
class _Access:
    buffer: str
    write: bool
    elem_bytes: int
    lanes: int
    vars: frozenset[str]  # loop variables and builtins the (substituted) indices mention
    coef: Union[float, None]  # coefficient of the innermost enclosing loop variable, last index
    tx_coef: Union[float, None]  # coefficient of threadIdx.x, last index
    global_buffer: bool
    loops: tuple[_Loop, ...]  # enclosing loops, outermost first


@dataclass(eq=False)
class _Loop:
    var: str
    extent: float
    kind: str
    depth: int
    weight: float  # executions of one iteration of the body = product of extents, outermost to here
    bound_vars: frozenset[str] = frozenset()  # variables the init and bound read
    unroll: float = 0.0  # unroll factor (full unroll = extent)
    collapse: int = 1
    num_threads: float = 0.0
    children: list[_Loop] = field(default_factory=list)
    ops: _Ops = field(default_factory=_Ops)
    accesses: list[_Access] = field(default_factory=list)
    parent: Union[_Loop, None] = None


class _Analyzer:
    """One pass over a function body building the loop tree with its operations and accesses."""

    def __init__(self, fn: ir.Function, dims: Mapping[str, Number]):
        self.types = typeinfer.type_env(fn)
        self.global_buffers = {p.name for p in fn.params if p.pointer}
        self.values: dict[str, Number] = {}
        for p in fn.params:
            if not p.pointer:
                self.values[p.name] = dims.get(p.name, DEFAULT_SCALAR)
        for axis in "xyz":
            default_block = DEFAULT_BLOCK_DIM if axis == "x" else 1
            default_grid = DEFAULT_GRID_DIM if axis == "x" else 1
            block = dims.get(f"blockDim.{axis}", default_block)
            grid = dims.get(f"gridDim.{axis}", default_grid)
            self.values[f"blockDim.{axis}"] = block
            self.values[f"gridDim.{axis}"] = grid
            self.values[f"threadIdx.{axis}"] = dims.get(f"threadIdx.{axis}", int(block) // 2)
            self.values[f"blockIdx.{axis}"] = dims.get(f"blockIdx.{axis}", int(grid) // 2)
        self.values["warpSize"] = dims.get("warpSize", 32)
        self.assigned = {n.name for n in ir.walk(fn) if isinstance(n, ir.Assign)}
        self.defs: dict[str, ir.Expr] = {}
        self.loop_vars: list[str] = []
        self.local_bytes = 0.0
        self.shared_bytes = 0.0
        self.vector_bits = 0
        self.root = _Loop("", 1.0, ir.SERIAL, 0, 1.0)
        self.n_while = 0

    # ---------------------------------------------------------------------------- evaluation

    def eval(self, e: ir.Expr) -> Union[Number, None]:
        """Numeric value of ``e`` with loop variables at their current (middle) value, or None."""
        try:
            v = self._eval(e)
        except (ArithmeticError, TypeError, ValueError, RecursionError):
            return None
        if v is None or isinstance(v, bool):
            return None if v is None else int(v)
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if abs(v) > 2 ** 62:
            return None
        return v

    def _eval(self, e: ir.Expr) -> Union[Number, None]:
        if isinstance(e, ir.Const):
            return e.value if isinstance(e.value, (int, float)) else None
        if isinstance(e, ir.Var):
            return self.values.get(e.name)
        if isinstance(e, ir.Builtin):
            return self.values.get(e.name)
        if isinstance(e, ir.Cast):
            v = self._eval(e.a)
            if v is None:
                return None
            return int(v) if ir.is_int(e.dtype) else float(v)
        if isinstance(e, ir.UnOp):
            v = self._eval(e.a)
            if v is None:
                return None
            if e.op == "-":
                return -v
            if e.op == "!":
                return int(not v)
            if e.op == "~" and isinstance(v, int):
                return ~v
            return None
        if isinstance(e, ir.Select):
            c = self._eval(e.cond)
            if c is None:
                return None
            return self._eval(e.a if c else e.b)
        if isinstance(e, ir.Call) and e.name in ("min", "max", "imin", "imax") and len(e.args) == 2:
            a, b = self._eval(e.args[0]), self._eval(e.args[1])
            if a is None or b is None:
                return None
            return min(a, b) if e.name in ("min", "imin") else max(a, b)
        if isinstance(e, ir.BinOp):
            a, b = self._eval(e.a), self._eval(e.b)
            if a is None or b is None:
                return None
            return _binop(e.op, a, b)
        return None

    def linear(self, e: ir.Expr, symbols: set[str]) -> Union[tuple[float, dict[str, float]], None]:
        """``e`` as ``c + sum(k_v * v)`` over ``symbols`` (numeric coefficients), or None."""
        try:
            return self._linear(e, symbols)
        except (ArithmeticError, TypeError, ValueError, RecursionError):
            return None

    def _linear(self, e: ir.Expr, symbols: set[str]) -> Union[tuple[float, dict[str, float]], None]:
        if isinstance(e, (ir.Var, ir.Builtin)) and e.name in symbols:
            return 0.0, {e.name: 1.0}
        if isinstance(e, ir.Cast):
            return self._linear(e.a, symbols)
        if isinstance(e, ir.UnOp) and e.op == "-":
            inner = self._linear(e.a, symbols)
            if inner is None:
                return None
            return -inner[0], {k: -v for k, v in inner[1].items()}
        if isinstance(e, ir.BinOp) and e.op in ("+", "-", "*", "<<"):
            a, b = self._linear(e.a, symbols), self._linear(e.b, symbols)
            if a is None or b is None:
                return None
            if e.op in ("+", "-"):
                sign = 1.0 if e.op == "+" else -1.0
                coefs = dict(a[1])
                for k, v in b[1].items():
                    coefs[k] = coefs.get(k, 0.0) + sign * v
                return a[0] + sign * b[0], coefs
            if e.op == "<<":
                if b[1] or not 0 <= b[0] < 63:
                    return None
                scale = float(2 ** int(b[0]))
                return a[0] * scale, {k: v * scale for k, v in a[1].items()}
            if a[1] and b[1]:
                return None
            (const, coefs), scale = (a, b[0]) if a[1] else (b, a[0])
            return const * scale, {name: v * scale for name, v in coefs.items()}
        if any(isinstance(n, (ir.Var, ir.Builtin)) and n.name in symbols for n in ir.walk(e)):
            return None
        value = self._eval(e)
        return (float(value) if value is not None else float(DEFAULT_SCALAR)), {}

    # ---------------------------------------------------------------------------- loops

    def trip_count(self, s: ir.For) -> float:
        init, bound, step = self.eval(s.init), self.eval(s.bound), self.eval(s.step)
        if init is None or bound is None or step is None:
            return float(DEFAULT_TRIPS)
        trips: Union[float, None] = None
        if s.update == "+" and step > 0 and s.cmp in ("<", "<=", "!="):
            span = bound - init + (1 if s.cmp == "<=" else 0)
            trips = max(0.0, math.ceil(span / step))
        elif s.update == "-" and step > 0 and s.cmp in (">", ">=", "!="):
            span = init - bound + (1 if s.cmp == ">=" else 0)
            trips = max(0.0, math.ceil(span / step))
        elif s.update in (">>", "/", "*", "<<") and s.cmp in ("<", "<=", ">", ">=", "!="):
            trips = _geometric_trips(s.update, s.cmp, init, bound, step)
        if trips is None:
            return float(DEFAULT_TRIPS)
        return float(min(trips, MAX_TRIPS))

    def middle_value(self, s: ir.For, trips: float) -> Union[Number, None]:
        init, step = self.eval(s.init), self.eval(s.step)
        if init is None or step is None or trips < 1:
            return init
        half = int((trips - 1) // 2)
        if s.update == "+":
            return init + half * step
        if s.update == "-":
            return init - half * step
        return init

    # ---------------------------------------------------------------------------- statements

    def visit_body(self, stmts: Sequence[ir.Stmt], loop: _Loop) -> None:
        saved_defs = dict(self.defs)
        for s in stmts:
            self.visit(s, loop)
        self.defs = saved_defs

    def visit(self, s: ir.Stmt, loop: _Loop) -> None:
        ops = loop.ops
        if isinstance(s, ir.Decl):
            if s.dtype in ir.VECTOR_DTYPES:
                self.vector_bits = max(self.vector_bits, ir.DTYPE_BITS[s.dtype])
            if s.shape:
                size = float(np.prod([max(1, d) for d in s.shape])) * _elem_bytes(s.dtype)
                if s.scope == ir.SHARED:
                    self.shared_bytes += size
                else:
                    self.local_bytes += size
            inits = s.init if isinstance(s.init, tuple) else (s.init,) if s.init is not None else ()
            for e in inits:
                self.expr(e, loop)
            if isinstance(s.init, ir.Expr) and not s.shape:
                if s.name not in self.assigned and _pure(s.init):
                    self.defs[s.name] = _substitute(s.init, self.defs)
                    v = self.eval(s.init)
                    if v is not None:
                        self.values[s.name] = v
        elif isinstance(s, ir.Assign):
            self.expr(s.value, loop)
        elif isinstance(s, ir.Store):
            self.expr(s.value, loop)
            for i in s.indices:
                self.expr(i, loop, in_index=True)
            dtype = s.view or self.types.get(s.buffer, "f32")
            self.access(s.buffer, s.indices, True, _elem_bytes(dtype), 1, loop)
        elif isinstance(s, ir.ExprStmt):
            self.expr(s.expr, loop)
        elif isinstance(s, ir.For):
            self.visit_for(s, loop)
        elif isinstance(s, ir.While):
            self.n_while += 1
            self.expr(s.cond, loop)
            child = _Loop("", float(DEFAULT_TRIPS), ir.SERIAL, loop.depth + 1,
                          loop.weight * DEFAULT_TRIPS, parent=loop)
            loop.children.append(child)
            self.visit_body(s.body, child)
        elif isinstance(s, ir.If):
            ops.ifs += 1
            self.expr(s.cond, loop)
            self.visit_body(s.then, loop)
            self.visit_body(s.orelse, loop)
        elif isinstance(s, ir.Sync):
            ops.syncs += 1
        elif isinstance(s, ir.Return) and s.value is not None:
            self.expr(s.value, loop)

    def visit_for(self, s: ir.For, loop: _Loop) -> None:
        for e in (s.init, s.bound, s.step):
            self.expr(e, loop, in_index=True)
        trips = self.trip_count(s)
        unroll = 0.0
        factor = s.annotation("unroll")
        if s.kind == ir.UNROLLED or factor is not None:
            f = factor if isinstance(factor, (int, float)) and not isinstance(factor, bool) else 0
            unroll = float(f) if f and f > 0 else trips
        collapse = 1
        omp = s.annotation("omp")
        if isinstance(omp, str):
            m = re.search(r"collapse\s*\(\s*(\d+)\s*\)", omp)
            if m:
                collapse = max(1, int(m.group(1)))
        threads = s.annotation("num_threads")
        bound_vars = frozenset(_names(s.init) | _names(s.bound))
        child = _Loop(s.var, trips, s.kind, loop.depth + 1, loop.weight * trips, bound_vars,
                      unroll, collapse,
                      float(threads) if isinstance(threads, (int, float)) else 0.0, parent=loop)
        loop.children.append(child)
        saved = self.values.get(s.var)
        middle = self.middle_value(s, trips)
        if middle is not None:
            self.values[s.var] = middle
        else:
            self.values.pop(s.var, None)
        self.defs.pop(s.var, None)
        self.loop_vars.append(s.var)
        self.visit_body(s.body, child)
        self.loop_vars.pop()
        if saved is None:
            self.values.pop(s.var, None)
        else:
            self.values[s.var] = saved

    # ---------------------------------------------------------------------------- expressions

    def expr(self, e: ir.Expr, loop: _Loop, in_index: bool = False) -> None:
        ops = loop.ops
        if isinstance(e, ir.Load):
            for i in e.indices:
                self.expr(i, loop, in_index=True)
            dtype = e.view or self.types.get(e.buffer, "f32")
            self.access(e.buffer, e.indices, False, _elem_bytes(dtype), 1, loop)
            return
        if isinstance(e, ir.Builtin):
            ops.builtins += 1
            return
        if isinstance(e, ir.AddressOf):
            for i in e.indices:
                self.expr(i, loop, in_index=True)
            return
        if isinstance(e, ir.Call):
            self.call(e, loop)
            return
        if isinstance(e, ir.BinOp) and e.op in _ARITH and not in_index:
            dtype = self.dtype(e)
            if ir.is_float(dtype):
                ops.flops += 1
            elif _reads_memory(e):
                ops.int_ops += 1
        for child in e.children():
            if isinstance(child, ir.Expr):
                self.expr(child, loop, in_index)

    def dtype(self, e: ir.Expr) -> str:
        try:
            return typeinfer.dtype_of(e, self.types)
        except (TypeError, KeyError):
            return "i32"

    def call(self, c: ir.Call, loop: _Loop) -> None:
        ops = loop.ops
        name = c.name
        pointer_args = [a for a in c.args if isinstance(a, ir.AddressOf)]
        if name in MATH_FUNCS:
            if name == "fma":
                ops.flops += 2
            elif name in _MATH_CHEAP:
                ops.flops += 1
            else:
                ops.math += 1
        elif name.startswith("_mm") or name.startswith("_tile") or name.startswith("_cvt"):
            self.intrinsic(c, loop, pointer_args)
        elif name.startswith("__dp4a"):
            ops.dp4a += 1
            ops.int_ops += 8
            ops.intrinsic_ops += 8
        elif name.startswith("wmma::"):
            ops.wmma += 1
            if "mma_sync" in name:
                ops.flops += 2 * 16 * 16 * 16
                ops.intrinsic_ops += 2 * 16 * 16 * 16
            elif pointer_args:
                a = pointer_args[0]
                self.access(a.buffer, a.indices, "store" in name,
                            _elem_bytes(self.types.get(a.buffer, "f16")), 16, loop)
        elif "shfl" in name:
            ops.shuffles += 1
        elif name.startswith("atomic"):
            ops.atomics += 1
            if pointer_args:
                a = pointer_args[0]
                self.access(a.buffer, a.indices, True, _elem_bytes(self.types.get(a.buffer, "f32")),
                            1, loop)
        else:
            ops.helper_calls += 1
        for arg in c.args:
            self.expr(arg, loop)

    def intrinsic(self, c: ir.Call, loop: _Loop, pointer_args: list[ir.AddressOf]) -> None:
        ops = loop.ops
        name = c.name
        ops.intrinsics += 1
        bits = 512 if name.startswith("_mm512") else 256 if name.startswith("_mm256") else 128
        if name.startswith("_mm512"):
            ops.avx512 += 1
        if name.startswith("_tile"):
            ops.amx += 1
            bits = 0
        if name.startswith("_mm"):
            self.vector_bits = max(self.vector_bits, bits)
        lane_bits = 64 if name.endswith("pd") else 8 if name.endswith(("epi8", "epu8", "si512", "si256",
                                                                          "si128")) else 32
        lanes = max(1, bits // lane_bits)
        if "dpbusd" in name or "dpbssd" in name or "dpwssd" in name:
            ops.vnni += 1
            work = 2.0 * bits / 8
            ops.int_ops += work
            ops.intrinsic_ops += work
        elif name.startswith("_tile_dp"):
            work = 2.0 * 16 * 16 * (64 if "b" in name[8:11] else 32)
            ops.int_ops += work
            ops.intrinsic_ops += work
        elif any(k in name for k in ("fmadd", "fmsub", "fnmadd", "fnmsub")):
            ops.flops += 2 * lanes
            ops.intrinsic_ops += 2 * lanes
        elif any(f"_{k}_" in name for k in ("add", "sub", "mul", "div", "max", "min", "abs", "sqrt",
                                              "mullo")) or "reduce" in name:
            if name.endswith(("ps", "pd")):
                ops.flops += lanes
            else:
                ops.int_ops += lanes
            ops.intrinsic_ops += lanes
        if ("load" in name or "store" in name) and pointer_args:
            a = pointer_args[0]
            elem = _elem_bytes(self.types.get(a.buffer, "f32"))
            n = max(1, (bits // 8) // elem) if bits else 1
            self.access(a.buffer, a.indices, "store" in name, elem, n, loop)

    def access(self, buffer: str, indices: Sequence[ir.Expr], write: bool, elem_bytes: int,
               lanes: int, loop: _Loop) -> None:
        ops = loop.ops
        is_global = buffer in self.global_buffers
        if write:
            ops.stores += 1
            ops.store_bytes += elem_bytes * lanes
        else:
            ops.loads += 1
            ops.load_bytes += elem_bytes * lanes
        if not is_global:
            ops.local_accesses += 1
        subst = [_substitute(i, self.defs) for i in indices]
        names: set[str] = set()
        for i in subst:
            names |= _names(i)
        coef: Union[float, None] = 0.0
        tx_coef: Union[float, None] = 0.0
        if subst:
            symbols = set(self.loop_vars) | _VARYING_BUILTINS
            lin = self.linear(subst[-1], symbols)
            inner_var = self.loop_vars[-1] if self.loop_vars else None
            if lin is None:
                coef = None if inner_var is not None and inner_var in names else 0.0
                tx_coef = None if "threadIdx.x" in names else 0.0
            else:
                coef = lin[1].get(inner_var, 0.0) if inner_var is not None else 0.0
                tx_coef = lin[1].get("threadIdx.x", 0.0)
        loops: list[_Loop] = []
        node: Union[_Loop, None] = loop
        while node is not None and node is not self.root:
            loops.append(node)
            node = node.parent
        loop.accesses.append(_Access(buffer, write, elem_bytes, lanes, frozenset(names), coef, tx_coef,
                                     is_global, tuple(reversed(loops))))


# -------------------------------------------------------------------------------- helpers


def _binop(op: str, a: Number, b: Number) -> Union[Number, None]:
    ints = isinstance(a, int) and isinstance(b, int)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            return None
        if ints:
            q = abs(int(a)) // abs(int(b))
            return q if (a >= 0) == (b >= 0) else -q
        return a / b
    if op == "%":
        if b == 0 or not ints:
            return None
        r = abs(int(a)) % abs(int(b))
        return r if a >= 0 else -r
    if op in ("<<", ">>"):
        if not ints or not 0 <= int(b) < 63:
            return None
        return int(a) << int(b) if op == "<<" else int(a) >> int(b)
    if op in ("&", "|", "^"):
        if not ints:
            return None
        return {"&": int(a) & int(b), "|": int(a) | int(b), "^": int(a) ^ int(b)}[op]
    comparisons = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b,
                   "&&": bool(a) and bool(b), "||": bool(a) or bool(b)}
    if op in comparisons:
        return int(comparisons[op])
    return None


def _geometric_trips(update: str, cmp: str, init: Number, bound: Number, step: Number) -> Union[float, None]:
    """Trip count of ``for (v = init; v CMP bound; v UPDATE= step)`` for shifts and scaling."""
    if update in (">>", "<<"):
        if not 0 < step < 63:
            return None
        factor = 2.0 ** step
    else:
        if step <= 1:
            return None
        factor = float(step)
    shrink = update in (">>", "/")
    v = float(init)
    trips = 0
    tests = {"<": lambda x: x < bound, "<=": lambda x: x <= bound, ">": lambda x: x > bound,
             ">=": lambda x: x >= bound, "!=": lambda x: x != bound}[cmp]
    while tests(v) and trips < 128:
        trips += 1
        v = math.floor(v / factor) if shrink else v * factor
        if not shrink and v == 0:
            return None
    return None if trips >= 128 else float(trips)


def _elem_bytes(dtype: str) -> int:
    return max(1, ir.DTYPE_BITS.get(dtype, 32) // 8)


def _names(e: ir.Node) -> set[str]:
    return {n.name for n in ir.walk(e) if isinstance(n, (ir.Var, ir.Builtin))}


def _pure(e: ir.Expr) -> bool:
    return not any(isinstance(n, (ir.Load, ir.AddressOf)) or
                   (isinstance(n, ir.Call) and n.name not in MATH_FUNCS) for n in ir.walk(e))


def _reads_memory(e: ir.Expr) -> bool:
    return any(isinstance(n, ir.Load) for n in ir.walk(e))


def _substitute(e: ir.Expr, defs: Mapping[str, ir.Expr]) -> ir.Expr:
    if not defs or not (_names(e) & defs.keys()):
        return e
    out: ir.Expr = ir.substitute(e, dict(defs))
    return out


def _all_loops(root: _Loop) -> list[_Loop]:
    out: list[_Loop] = []
    stack = [root]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children)
    return out


def _deepest_path(root: _Loop) -> list[_Loop]:
    """Loops from the outermost to the innermost of the deepest nest (ties: the most iterations)."""
    best: Union[_Loop, None] = None
    for node in _all_loops(root):
        if node is root or node.children:
            continue
        if best is None or (node.depth, node.weight) > (best.depth, best.weight):
            best = node
    path: list[_Loop] = []
    while best is not None and best is not root:
        path.append(best)
        best = best.parent
    return list(reversed(path))


def _footprint(level: _Loop, root: _Loop) -> float:
    """Bytes one execution of ``level`` (all of its iterations) touches; see the module notes."""
    per_buffer: dict[str, float] = {}
    elem: dict[str, int] = {}
    for node in _all_loops(level):
        for acc in node.accesses:
            inner = [lp for lp in acc.loops if lp.depth >= level.depth and lp is not root] \
                if level is not root else list(acc.loops)
            deps = set(acc.vars)
            for lp in reversed(inner):  # a dependent loop's bounds make its own bound vars count
                if lp.var in deps:
                    deps |= lp.bound_vars
            elements = float(acc.lanes)
            for lp in inner:
                if lp.var and lp.var in deps:
                    elements *= max(1.0, lp.extent)
            elements = min(elements, MAX_TRIPS)
            key = acc.buffer
            if elements > per_buffer.get(key, 0.0):
                per_buffer[key] = elements
                elem[key] = acc.elem_bytes
    return sum(per_buffer[b] * elem[b] for b in per_buffer)


def _subtree_work(level: _Loop) -> float:
    """Arithmetic operations of one execution of ``level`` (all its iterations)."""
    outer = level.weight / max(level.extent, 1.0) if level.extent > 0 else level.weight
    total = 0.0
    for node in _all_loops(level):
        total += (node.ops.flops + node.ops.int_ops + node.ops.math) * node.weight
    return total / max(outer, 1e-30)


def _normalise_pass(name: str) -> str:
    base = re.split(r"[\s(:\[{=]", name.strip().lower(), maxsplit=1)[0].replace("-", "_")
    return _PASS_ALIASES.get(base, base)


def _pass_features(passes: Sequence[str]) -> dict[str, float]:
    out = {"n_passes": float(len(passes))}
    for p in passes:
        name = _normalise_pass(p)
        if name in KNOWN_PASSES:
            key = f"pass_{name}"
        else:
            key = f"pass_hash_{zlib.crc32(name.encode()) % PASS_HASH_BUCKETS}"
        out[key] = out.get(key, 0.0) + 1.0
    return out


# -------------------------------------------------------------------------------- entry point


def extract(fn: Union[ir.Function, ir.Module], dims: Union[Mapping[str, Number], None] = None,
            passes: Sequence[str] = ()) -> np.ndarray:
    """The feature vector (``FEATURE_NAMES`` order, float64, finite) of a candidate.

    ``fn``: the candidate's kernel, or a whole module (its kernel and device functions are
    analysed together; host launchers are skipped). ``dims``: the workload's scalar values by
    parameter name (a spec's ``scalar_values()``), optionally GPU geometry (``"blockDim.x"``...).
    ``passes``: the pass sequence that produced the candidate."""
    dims = dict(dims or {})
    if isinstance(fn, ir.Module):
        functions = [f for f in fn.functions if f.kind != ir.HOST] or list(fn.functions)
    else:
        functions = [fn]
    analyzers = []
    root = _Loop("", 1.0, ir.SERIAL, 0, 1.0)
    for f in functions:
        a = _Analyzer(f, dims)
        a.root = root
        a.visit_body(f.body, root)
        analyzers.append(a)
    feats = dict.fromkeys(FEATURE_NAMES, 0.0)
    feats["n_functions"] = float(len(functions))
    loops = [lp for lp in _all_loops(root) if lp is not root]
    feats["n_loops"] = float(sum(1 for lp in loops if lp.var))
    feats["n_while"] = float(sum(a.n_while for a in analyzers))
    feats["max_depth"] = float(max((lp.depth for lp in loops), default=0))

    totals = _Ops()
    for node in _all_loops(root):
        for name in _OPS_FIELDS:
            setattr(totals, name, getattr(totals, name) + getattr(node.ops, name) * node.weight)
    counts = _Ops()
    for node in _all_loops(root):
        for name in _OPS_FIELDS:
            setattr(counts, name, getattr(counts, name) + getattr(node.ops, name))

    path = _deepest_path(root)
    for i, lp in enumerate(path[:OUTER_LEVELS]):
        feats[f"log2_extent_outer_{i}"] = _log2p(lp.extent)
    for i, lp in enumerate(reversed(path[-INNER_LEVELS:])):
        feats[f"log2_extent_inner_{i}"] = _log2p(lp.extent)
    innermost = path[-1] if path else root
    feats["log2_iters_deepest_nest"] = _log2p(innermost.weight if path else 0.0)
    leaves = [lp for lp in loops if not lp.children]
    feats["log2_iters_total"] = _log2p(sum(lp.weight for lp in leaves))

    inner = innermost.ops
    feats["inner_loads"] = inner.loads
    feats["inner_stores"] = inner.stores
    feats["inner_flops"] = inner.flops
    feats["inner_int_ops"] = inner.int_ops
    feats["inner_math_calls"] = inner.math
    feats["inner_local_accesses"] = inner.local_accesses
    feats["n_ifs"] = counts.ifs

    feats["log2_total_loads"] = _log2p(totals.loads)
    feats["log2_total_stores"] = _log2p(totals.stores)
    feats["log2_total_flops"] = _log2p(totals.flops)
    feats["log2_total_int_ops"] = _log2p(totals.int_ops)
    feats["log2_total_math_calls"] = _log2p(totals.math)
    feats["log2_total_load_bytes"] = _log2p(totals.load_bytes)
    feats["log2_total_store_bytes"] = _log2p(totals.store_bytes)

    # loop kinds
    named = [lp for lp in loops if lp.var]
    feats["n_parallel_loops"] = float(sum(lp.kind == ir.PARALLEL for lp in named))
    feats["n_vectorized_loops"] = float(sum(lp.kind == ir.VECTORIZED for lp in named))
    feats["n_unrolled_loops"] = float(sum(lp.unroll > 0 for lp in named))
    feats["n_thread_loops"] = float(sum(lp.kind == ir.THREAD for lp in named))
    parallel = sorted((lp for lp in named if lp.kind == ir.PARALLEL), key=lambda lp: lp.depth)
    if parallel:
        outer = parallel[0]
        extent = outer.extent
        node = outer
        for _ in range(outer.collapse - 1):
            if not node.children:
                break
            node = node.children[0]
            extent *= node.extent
        feats["log2_parallel_extent"] = _log2p(extent)
        feats["parallel_loop_depth"] = float(outer.depth)
        feats["omp_collapse"] = float(outer.collapse)
        feats["log2_num_threads"] = _log2p(outer.num_threads)
    unrolled = [lp for lp in named if lp.unroll > 0]
    if unrolled:
        feats["log2_max_unroll"] = _log2p(max(lp.unroll for lp in unrolled))
        feats["log2_unrolled_body_copies"] = _log2p(float(np.prod([lp.unroll for lp in unrolled])))
    vectorized = [lp for lp in named if lp.kind == ir.VECTORIZED]
    if vectorized:
        feats["log2_vectorized_extent"] = _log2p(max(lp.extent for lp in vectorized))
    if path:
        feats["innermost_kind_vectorized"] = float(innermost.kind == ir.VECTORIZED)
        feats["innermost_kind_unrolled"] = float(innermost.unroll > 0)
        feats["innermost_kind_parallel"] = float(innermost.kind in (ir.PARALLEL, ir.THREAD))

    # access patterns
    unit = invariant = strided = 0.0
    coalesced = broadcast = gpu_total = 0.0
    for node in _all_loops(root):
        for acc in node.accesses:
            w = node.weight
            if node is not root:
                if acc.coef is None or abs(acc.coef) not in (0.0, 1.0):
                    strided += w
                elif acc.coef == 0.0:
                    invariant += w
                else:
                    unit += w
            if acc.global_buffer and any(v.startswith("threadIdx") for v in acc.vars):
                gpu_total += w
                if acc.tx_coef == 1.0:
                    coalesced += w
                elif acc.tx_coef == 0.0:
                    broadcast += w
    in_loops = unit + invariant + strided
    if in_loops > 0:
        feats["frac_stride1"] = unit / in_loops
        feats["frac_invariant"] = invariant / in_loops
        feats["frac_strided"] = strided / in_loops
    if gpu_total > 0:
        feats["frac_gpu_coalesced"] = coalesced / gpu_total
        feats["frac_gpu_broadcast"] = broadcast / gpu_total

    # footprints and arithmetic intensity
    levels = {1: innermost, 2: path[-2] if len(path) >= 2 else root,
              3: path[-3] if len(path) >= 3 else root}
    if not path:
        levels = {1: root, 2: root, 3: root}
    for k, lp in levels.items():
        feats[f"log2_footprint_l{k}"] = _log2p(_footprint(lp, root))
    total_bytes = _footprint(root, root)
    feats["log2_footprint_all"] = _log2p(total_bytes)
    work = totals.flops + totals.int_ops + totals.math
    feats["log2_arith_intensity"] = _log2p(work / total_bytes) if total_bytes > 0 else 0.0
    l2_bytes = _footprint(levels[2], root)
    feats["log2_arith_intensity_l2"] = _log2p(_subtree_work(levels[2]) / l2_bytes) if l2_bytes > 0 else 0.0

    # data types and buffers
    buffers = [p for f in functions for p in f.params if p.pointer]
    feats["n_global_buffers"] = float(len({p.name for p in buffers}))
    if buffers:
        feats["mean_elem_bytes"] = float(np.mean([_elem_bytes(p.dtype) for p in buffers]))
    feats["log2_local_array_bytes"] = _log2p(sum(a.local_bytes for a in analyzers))
    feats["log2_shared_bytes"] = _log2p(sum(a.shared_bytes for a in analyzers))
    feats["max_vector_bits"] = float(max((a.vector_bits for a in analyzers), default=0))

    feats["n_intrinsic_calls"] = counts.intrinsics
    feats["n_avx512_calls"] = counts.avx512
    feats["n_vnni_calls"] = counts.vnni
    feats["n_amx_calls"] = counts.amx
    feats["n_dp4a_calls"] = counts.dp4a
    feats["n_wmma_calls"] = counts.wmma
    feats["log2_intrinsic_ops"] = _log2p(totals.intrinsic_ops)

    feats["n_syncs"] = counts.syncs
    feats["n_shuffles"] = counts.shuffles
    feats["n_atomics"] = counts.atomics
    feats["n_builtin_uses"] = counts.builtins
    if counts.builtins:
        threads = 1.0
        for axis in "xyz":
            threads *= float(analyzers[0].values.get(f"blockDim.{axis}", 1) or 1)
        feats["log2_threads_per_block"] = _log2p(threads)
        blocks = 1.0
        for axis in "xyz":
            blocks *= float(analyzers[0].values.get(f"gridDim.{axis}", 1) or 1)
        feats["log2_grid_blocks"] = _log2p(blocks)
    feats["n_helper_calls"] = counts.helper_calls

    feats.update(_pass_features(passes))
    out = np.array([feats[name] for name in FEATURE_NAMES], dtype=np.float64)
    return np.nan_to_num(out, nan=0.0, posinf=1e9, neginf=-1e9)


def feature_index(name: str) -> int:
    """Position of a feature in the vector (raises KeyError with the name if unknown)."""
    return _INDEX[name]


def describe(vector: np.ndarray) -> dict[str, float]:
    """The vector as a name -> value mapping, for logs and debugging."""
    return {name: float(v) for name, v in zip(FEATURE_NAMES, vector)}
