"""WMMA (CUDA tensor-core fragments): their IR form, and their lowering to scalar loops.

IR form (what the front end produces and the CUDA printer prints back):

- A fragment ``wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> a;`` is
  ``Decl("a", "wmma:matrix_a:16x16x16:f16:row_major")``: the dtype string is
  ``wmma:<use>:<M>x<N>x<K>:<element dtype>[:<layout>]`` with ``use`` one of ``matrix_a``,
  ``matrix_b``, ``accumulator``, the element dtype an IR scalar dtype (``f16``, ``f32``) and the
  layout ``row_major`` or ``col_major`` (matrix_a/matrix_b only; accumulators have none).
  ``FragmentType.parse`` / ``FragmentType.dtype`` convert between the string and its fields.
  A fragment is named in calls by ``Var(name, <that dtype>)``; it appears nowhere else.
- The operations are calls with the canonical ``wmma::`` spelling, statements of their own
  (``ExprStmt``), result dtype ``void``; a pointer operand is an ``AddressOf``:

      wmma::fill_fragment(frag, value)
      wmma::load_matrix_sync(frag, AddressOf(buf, idx), ldm)                # matrix_a / matrix_b
      wmma::load_matrix_sync(frag, AddressOf(buf, idx), ldm, layout)        # accumulator
      wmma::mma_sync(d, a, b, c)
      wmma::store_matrix_sync(AddressOf(buf, idx), frag, ldm, layout)

  where ``layout`` is ``Var("wmma::mem_row_major")`` or ``Var("wmma::mem_col_major")`` (a named
  enumerator, printed as written).

Only m16n16k16 with half inputs and float or half accumulators is accepted (the front end
reports anything else as an ``UnsupportedConstruct``).

Lowering (``lower_wmma``): WMMA is warp-collective, but the result of every operation is the same
for every lane of the warp: a load gives each lane the same tile, ``mma_sync`` computes the same
product, a store writes the same values. So each thread may hold the *whole* tile in a private
array and compute the whole operation by itself. That is what the lowering does: fragments become
per-thread local arrays (``rows x cols`` elements, logical row-major order), and each operation a
scalar loop nest. This is correct, and it is redundant work: every lane of a warp repeats the
tile's loads, its 16x16x16 multiply-accumulate and its stores (32x the work of one warp on CUDA).
The lowered code is plain C-like IR, so loop recovery (GPU -> CPU) and the HIP printer (HIP has no
WMMA without rocWMMA) accept it.

Warp rendezvous: ``load_matrix_sync`` and ``store_matrix_sync`` wait for the whole warp, which a
program may rely on to exchange data between lanes through memory (lanes write a shared tile
element by element, then the warp loads it as a fragment; or the warp stores a fragment and lanes
read elements of it). Where that can happen (a load from a buffer the function writes, a store to
a buffer the function reads), the lowering keeps the rendezvous as ``Sync("warp")`` before the
load / after the store. Loads of read-only inputs and stores to write-only outputs need none.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Union

from passes import ir

PREFIX = "wmma:"
USES = ("matrix_a", "matrix_b", "accumulator")
LAYOUTS = ("row_major", "col_major")
MEM_LAYOUTS = ("wmma::mem_row_major", "wmma::mem_col_major")
SHAPES = ((16, 16, 16),)
INPUT_DTYPES = ("f16",)
ACC_DTYPES = ("f32", "f16")

FILL, LOAD, MMA, STORE = ("wmma::fill_fragment", "wmma::load_matrix_sync", "wmma::mma_sync",
                          "wmma::store_matrix_sync")
CALLS = (FILL, LOAD, MMA, STORE)
PASS_NAME = "wmma_lowering"


@dataclass(frozen=True)
class FragmentType:
    """The fields of a fragment dtype string (see the module docstring)."""

    use: str
    m: int
    n: int
    k: int
    elem: str
    layout: Union[str, None] = None

    @property
    def dtype(self) -> str:
        text = f"{PREFIX}{self.use}:{self.m}x{self.n}x{self.k}:{self.elem}"
        return text + (f":{self.layout}" if self.layout else "")

    @property
    def rows(self) -> int:
        return self.k if self.use == "matrix_b" else self.m

    @property
    def cols(self) -> int:
        return self.k if self.use == "matrix_a" else self.n

    @staticmethod
    def parse(dtype: str) -> FragmentType:
        """Fields of ``dtype``; ValueError if it is not a well-formed fragment dtype."""
        if not dtype.startswith(PREFIX):
            raise ValueError(f"not a WMMA fragment dtype: {dtype!r}")
        parts = dtype[len(PREFIX):].split(":")
        if len(parts) not in (3, 4) or parts[0] not in USES:
            raise ValueError(f"malformed WMMA fragment dtype: {dtype!r}")
        dims = parts[1].split("x")
        if len(dims) != 3 or not all(d.isdigit() for d in dims):
            raise ValueError(f"malformed WMMA fragment shape in {dtype!r}")
        layout = parts[3] if len(parts) == 4 else None
        if (layout is None) != (parts[0] == "accumulator") or (layout and layout not in LAYOUTS):
            raise ValueError(f"WMMA fragment dtype {dtype!r}: matrix_a/matrix_b need a layout "
                             "(row_major or col_major), accumulators have none")
        return FragmentType(parts[0], int(dims[0]), int(dims[1]), int(dims[2]), parts[2], layout)


def is_fragment_dtype(dtype: str) -> bool:
    return dtype.startswith(PREFIX)


def check_supported(ft: FragmentType) -> Union[str, None]:
    """Why fragment type ``ft`` is not supported, or None when it is."""
    if (ft.m, ft.n, ft.k) not in SHAPES:
        return (f"WMMA shape m{ft.m}n{ft.n}k{ft.k}: only m16n16k16 is supported")
    allowed = ACC_DTYPES if ft.use == "accumulator" else INPUT_DTYPES
    if ft.elem not in allowed:
        return f"WMMA {ft.use} of {ft.elem}: only {' or '.join(allowed)} is supported"
    return None


def has_wmma(node: ir.Node) -> bool:
    """True when ``node`` declares a fragment or calls a WMMA operation."""
    for n in ir.walk(node):
        if isinstance(n, ir.Decl) and is_fragment_dtype(n.dtype):
            return True
        if isinstance(n, ir.Call) and n.name in CALLS:
            return True
    return False


# ------------------------------------------------------------------------------ lowering


def lower_wmma(fn: ir.Function) -> ir.Function:
    """``fn`` with every fragment a per-thread local array and every WMMA operation scalar
    loops (see the module docstring). Raises ``NotApplicable`` when ``fn`` uses no WMMA and
    ``UnsupportedConstruct`` for a WMMA use that has no faithful lowering."""
    if not has_wmma(fn):
        raise ir.NotApplicable(f"'{fn.name}' uses no WMMA")
    return _Lowering(fn).run()


def lower_module(module: ir.Module) -> tuple[ir.Module, list[str]]:
    """Every function of ``module`` that uses WMMA lowered; also the names of those functions."""
    done: list[str] = []
    for fn in module.functions:
        if has_wmma(fn):
            module = module.with_function(lower_wmma(fn))
            done.append(fn.name)
    return module, done


class _Lowering:
    def __init__(self, fn: ir.Function):
        self.fn = fn
        self.line = fn.line
        self.frags: dict[str, FragmentType] = {}
        self.arrays: dict[str, tuple[int, ...]] = {}  # local/shared arrays of fn -> shape
        for n in ir.walk(fn):
            if isinstance(n, ir.Decl):
                if is_fragment_dtype(n.dtype):
                    self.frags[n.name] = self._parse(n.dtype)
                elif n.shape:
                    self.arrays[n.name] = n.shape
        self.env = {p.name: p.dtype for p in fn.params}
        for n in ir.walk(fn):
            if isinstance(n, ir.Decl):
                self.env[n.name] = self.frags[n.name].elem if n.name in self.frags else n.dtype
        self.taken = {p.name for p in fn.params} | ir.free_vars(fn) | ir.declared_names(fn)
        self.counter = 0
        # loop variables shared by the (sibling) loop nests of all operations; the accumulator
        # temporaries get a name per operation so that no declaration is repeated
        self.r, self.c = self.fresh("wmma_r"), self.fresh("wmma_c")
        self.i, self.j, self.k = self.fresh("wmma_i"), self.fresh("wmma_j"), self.fresh("wmma_k")
        calls = [n for n in ir.walk(fn) if isinstance(n, ir.Call) and n.name in CALLS]
        self.written = {c.args[0].buffer for c in calls
                        if c.name == STORE and isinstance(c.args[0], ir.AddressOf)}
        self.written |= {n.buffer for n in ir.walk(fn) if isinstance(n, ir.Store)}
        self.read = {c.args[1].buffer for c in calls
                     if c.name == LOAD and isinstance(c.args[1], ir.AddressOf)}
        self.read |= {n.buffer for n in ir.walk(fn) if isinstance(n, ir.Load)}

    def _parse(self, dtype: str) -> FragmentType:
        try:
            ft = FragmentType.parse(dtype)
        except ValueError as exc:
            raise ir.UnsupportedConstruct("WMMA fragment", self.line, str(exc)) from None
        why = check_supported(ft)
        if why:
            raise ir.UnsupportedConstruct(why, self.line)
        return ft

    def fresh(self, base: str) -> str:
        name = base
        while name in self.taken:
            self.counter += 1
            name = f"{base}_{self.counter}"
        self.taken.add(name)
        return name

    def run(self) -> ir.Function:
        def fn(n: ir.Node) -> Union[ir.Node, tuple[ir.Stmt, ...]]:
            if isinstance(n, ir.Decl) and n.name in self.frags:
                if n.init is not None:
                    raise ir.UnsupportedConstruct(f"initialised WMMA fragment '{n.name}'", self.line)
                ft = self.frags[n.name]
                return ir.Decl(n.name, ft.elem, (ft.rows, ft.cols), scope=ir.LOCAL)
            if isinstance(n, ir.ExprStmt) and isinstance(n.expr, ir.Call) and n.expr.name in CALLS:
                return tuple(self.operation(n.expr))
            return n

        body = ir.transform_stmts(self.fn.body, fn)  # type: ignore[arg-type]  # spliced tuples
        leftover = [n for n in ir.walk(ir.Function(self.fn.name, self.fn.params, body))
                    if (isinstance(n, ir.Call) and n.name in CALLS)
                    or (isinstance(n, ir.Var) and n.name in self.frags)]
        if leftover:
            raise ir.UnsupportedConstruct("WMMA operation or fragment inside an expression",
                                          self.line, "WMMA calls must be statements of their own")
        return replace(self.fn, body=body)

    # -------------------------------------------------------------- operations

    def frag(self, e: ir.Expr, what: str) -> tuple[str, FragmentType]:
        if not isinstance(e, ir.Var) or e.name not in self.frags:
            raise ir.UnsupportedConstruct(f"{what}: operand is not a WMMA fragment", self.line)
        return e.name, self.frags[e.name]

    def operation(self, c: ir.Call) -> list[ir.Stmt]:
        if c.name == FILL:
            return self.fill(c)
        if c.name == LOAD:
            return self.load(c)
        if c.name == MMA:
            return self.mma(c)
        return self.store(c)

    def loops(self, names: tuple[str, ...], extents: tuple[int, ...],
              body: tuple[ir.Stmt, ...]) -> ir.For:
        """A loop nest over ``names`` (outermost first) with constant ``extents``."""
        stmt: Union[ir.For, None] = None
        for name, extent in reversed(list(zip(names, extents))):
            inner = body if stmt is None else (stmt,)
            stmt = ir.For(name, ir.Const(0), ir.Const(extent), ir.Const(1), inner)
        assert stmt is not None
        return stmt

    def convert(self, e: ir.Expr, dtype: str) -> ir.Expr:
        from passes.typeinfer import dtype_of

        return e if dtype_of(e, self.env) == dtype else ir.Cast(dtype, e)

    def fill(self, c: ir.Call) -> list[ir.Stmt]:
        if len(c.args) != 2:
            raise ir.UnsupportedConstruct(f"{FILL} with {len(c.args)} arguments", self.line)
        name, ft = self.frag(c.args[0], FILL)
        r, col = self.r, self.c
        value = self.convert(c.args[1], ft.elem)
        if any(isinstance(n, ir.Call) for n in ir.walk(value)):
            tmp = self.fresh("wmma_fill")  # evaluate the value once, as the call does
            self.env[tmp] = ft.elem
            pre: list[ir.Stmt] = [ir.Decl(tmp, ft.elem, init=value)]
            value = ir.Var(tmp, ft.elem)
        else:
            pre = []
        store = ir.Store(name, (ir.Var(r), ir.Var(col)), value)
        return pre + [self.loops((r, col), (ft.rows, ft.cols), (store,))]

    def layout_col(self, e: ir.Expr, what: str) -> bool:
        if isinstance(e, ir.Var) and e.name in MEM_LAYOUTS:
            return e.name == "wmma::mem_col_major"
        raise ir.UnsupportedConstruct(f"{what}: layout that is not wmma::mem_row_major or "
                                      "wmma::mem_col_major", self.line)

    def address(self, ptr: ir.Expr, offset: ir.Expr, what: str) -> tuple[str, tuple[ir.Expr, ...]]:
        """Buffer and indices of the element ``offset`` elements after pointer ``ptr``."""
        if not isinstance(ptr, ir.AddressOf):
            raise ir.UnsupportedConstruct(f"{what}: pointer operand is not a buffer address", self.line)
        idx = ptr.indices
        if len(idx) <= 1:
            base = idx[0] if idx else ir.Const(0)
            return ptr.buffer, (_add(base, offset),)
        shape = self.arrays.get(ptr.buffer)
        if shape is None or len(shape) != len(idx) or any(d <= 0 for d in shape[1:]):
            raise ir.UnsupportedConstruct(f"{what}: pointer into array '{ptr.buffer}' of unknown shape",
                                          self.line)
        flat: ir.Expr = idx[0]
        for i, d in zip(idx[1:], shape[1:]):
            flat = _add(ir.BinOp("*", flat, ir.Const(d)), i)
        flat = _add(flat, offset)
        out: list[ir.Expr] = []
        for d in reversed(shape[1:]):  # row-major: the last dimension varies fastest
            out.append(ir.BinOp("%", flat, ir.Const(d)))
            flat = ir.BinOp("/", flat, ir.Const(d))
        out.append(flat)
        return ptr.buffer, tuple(reversed(out))

    def offset(self, r: str, col: str, ldm: ir.Expr, col_major: bool) -> ir.Expr:
        ri, ci = ir.Var(r), ir.Var(col)
        if col_major:
            return ir.BinOp("+", ir.BinOp("*", ci, ldm), ri)
        return ir.BinOp("+", ir.BinOp("*", ri, ldm), ci)

    def elem_check(self, buffer: str, ft: FragmentType, what: str) -> None:
        have = self.env.get(buffer)
        if have != ft.elem:
            raise ir.UnsupportedConstruct(
                f"{what}: {have} memory with a {ft.elem} fragment", self.line,
                "WMMA loads and stores need memory of the fragment's element type")

    def load(self, c: ir.Call) -> list[ir.Stmt]:
        name, ft = self.frag(c.args[0], LOAD)
        if ft.use == "accumulator":
            if len(c.args) != 4:
                raise ir.UnsupportedConstruct(f"{LOAD} of an accumulator without a layout", self.line)
            col_major = self.layout_col(c.args[3], LOAD)
        else:
            if len(c.args) != 3:
                raise ir.UnsupportedConstruct(f"{LOAD} of a {ft.use} with {len(c.args)} arguments",
                                              self.line)
            col_major = ft.layout == "col_major"
        r, col = self.r, self.c
        buf, idx = self.address(c.args[1], self.offset(r, col, c.args[2], col_major), LOAD)
        self.elem_check(buf, ft, LOAD)
        store = ir.Store(name, (ir.Var(r), ir.Var(col)), ir.Load(buf, idx))
        pre: list[ir.Stmt] = [ir.Sync("warp")] if buf in self.written else []
        return pre + [self.loops((r, col), (ft.rows, ft.cols), (store,))]

    def store(self, c: ir.Call) -> list[ir.Stmt]:
        if len(c.args) != 4:
            raise ir.UnsupportedConstruct(f"{STORE} with {len(c.args)} arguments", self.line)
        name, ft = self.frag(c.args[1], STORE)
        if ft.use != "accumulator":
            raise ir.UnsupportedConstruct(f"{STORE} of a {ft.use} fragment", self.line,
                                          "only accumulators can be stored")
        col_major = self.layout_col(c.args[3], STORE)
        r, col = self.r, self.c
        buf, idx = self.address(c.args[0], self.offset(r, col, c.args[2], col_major), STORE)
        self.elem_check(buf, ft, STORE)
        st = ir.Store(buf, idx, ir.Load(name, (ir.Var(r), ir.Var(col))))
        post: list[ir.Stmt] = [ir.Sync("warp")] if buf in self.read else []
        return [self.loops((r, col), (ft.rows, ft.cols), (st,))] + post

    def mma(self, c: ir.Call) -> list[ir.Stmt]:
        if len(c.args) != 4:
            raise ir.UnsupportedConstruct(f"{MMA} with {len(c.args)} arguments", self.line,
                                          "satfinite is not supported")
        (d, fd), (a, fa), (b, fb), (cc, fc) = (self.frag(x, MMA) for x in c.args)
        if (fd.use, fa.use, fb.use, fc.use) != ("accumulator", "matrix_a", "matrix_b", "accumulator"):
            raise ir.UnsupportedConstruct(f"{MMA} with fragments of the wrong kinds", self.line,
                                          "expects (accumulator, matrix_a, matrix_b, accumulator)")
        if len({(f.m, f.n, f.k) for f in (fd, fa, fb, fc)}) != 1:
            raise ir.UnsupportedConstruct(f"{MMA} with fragments of different shapes", self.line)
        # products and sums in float, rounded once to d's type (the tensor cores' fp16 path)
        i, j, k = self.i, self.j, self.k
        acc = self.fresh("wmma_acc")
        self.env[acc] = "f32"
        vi, vj, vk, vacc = ir.Var(i), ir.Var(j), ir.Var(k), ir.Var(acc, "f32")
        prod = ir.BinOp("*", self.convert(ir.Load(a, (vi, vk)), "f32"),
                        self.convert(ir.Load(b, (vk, vj)), "f32"))
        inner = self.loops((k,), (fa.k,), (ir.Assign(acc, ir.BinOp("+", vacc, prod)),))
        body = (ir.Decl(acc, "f32", init=self.convert(ir.Load(cc, (vi, vj)), "f32")), inner,
                ir.Store(d, (vi, vj), self.convert(vacc, fd.elem)))
        return [self.loops((i, j), (fd.m, fd.n), body)]


def _add(a: ir.Expr, b: ir.Expr) -> ir.Expr:
    """``a + b`` without an integer ``+ 0`` on either side."""
    if isinstance(a, ir.Const) and a.value == 0 and not isinstance(a.value, float):
        return b
    if isinstance(b, ir.Const) and b.value == 0 and not isinstance(b.value, float):
        return a
    return ir.BinOp("+", a, b)
