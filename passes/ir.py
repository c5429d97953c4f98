"""The loop-nest intermediate representation shared by the front end, the passes and the printers.

Why this shape: kernels for CPUs and GPUs differ in *where* parallelism is written (OpenMP pragmas
and vector intrinsics on one side, thread/block indices on the other) but agree on the rest: typed
buffers, loops, scalar statements and calls. The IR keeps exactly that common core, plus the few
GPU-specific constructs (thread builtins, barriers, kernel launches) that loop recovery removes and
GPU parallelisation introduces. Every node is an immutable dataclass so that passes build new
programs instead of editing shared ones; ``dataclasses.replace`` is the way to rewrite a node.

Conventions:
- Global buffers are the pointer parameters of a function; they are one-dimensional (flat) and are
  indexed with a single expression. Local and shared arrays keep their declared shape and are
  indexed with one expression per dimension.
- dtypes are short strings: scalars ``bool i8 u8 i16 u16 i32 u32 i64 u64 f16 bf16 f32 f64`` and
  the x86 vector register types ``m128 m128i m128d m256 m256i m256d m512 m512i m512d`` and mask
  types ``mask8 mask16 mask32 mask64``. Anything else (a WMMA fragment) is carried as ``opaque:``
  followed by its source spelling.
- A ``For`` loop is ``for (var = init; var CMP bound; var UPDATE= step)``. The affine case
  (``CMP`` is ``<`` and ``UPDATE`` is ``+`` with a positive step) is what the analyses reason
  about; any other form is kept faithfully and treated as an opaque serial loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, Callable, Iterator, Sequence, Union

# --------------------------------------------------------------------------------------------
# dtypes

INT_DTYPES = ("i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64")
FLOAT_DTYPES = ("f16", "bf16", "f32", "f64")
SCALAR_DTYPES = ("bool",) + INT_DTYPES + FLOAT_DTYPES
VECTOR_DTYPES = ("m128", "m128i", "m128d", "m256", "m256i", "m256d", "m512", "m512i", "m512d")
MASK_DTYPES = ("mask8", "mask16", "mask32", "mask64")

DTYPE_BITS = {
    "bool": 8, "i8": 8, "u8": 8, "i16": 16, "u16": 16, "i32": 32, "u32": 32, "i64": 64, "u64": 64,
    "f16": 16, "bf16": 16, "f32": 32, "f64": 64,
    "m128": 128, "m128i": 128, "m128d": 128, "m256": 256, "m256i": 256, "m256d": 256,
    "m512": 512, "m512i": 512, "m512d": 512,
    "mask8": 8, "mask16": 16, "mask32": 32, "mask64": 64,
}

NUMPY_DTYPES = {
    "bool": "bool", "i8": "int8", "u8": "uint8", "i16": "int16", "u16": "uint16", "i32": "int32",
    "u32": "uint32", "i64": "int64", "u64": "uint64", "f16": "float16", "f32": "float32",
    "f64": "float64",
}


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


def is_int(dtype: str) -> bool:
    return dtype in INT_DTYPES or dtype == "bool"


def is_signed(dtype: str) -> bool:
    return dtype.startswith("i") or is_float(dtype)


def is_vector(dtype: str) -> bool:
    return dtype in VECTOR_DTYPES or dtype in MASK_DTYPES


# Memory scopes of buffers.
GLOBAL, SHARED, LOCAL, REGISTER = "global", "shared", "local", "register"
SCOPES = (GLOBAL, SHARED, LOCAL, REGISTER)

# Loop kinds.
SERIAL, PARALLEL, VECTORIZED, UNROLLED, THREAD = "serial", "parallel", "vectorized", "unrolled", "thread"
LOOP_KINDS = (SERIAL, PARALLEL, VECTORIZED, UNROLLED, THREAD)

# GPU builtins.
THREAD_BUILTINS = tuple(f"{b}.{a}" for b in ("threadIdx", "blockIdx", "blockDim", "gridDim") for a in "xyz")
BUILTINS = THREAD_BUILTINS + ("warpSize",)


class Node:
    """Base of every IR node; gives structural iteration over children."""

    def children(self) -> Iterator[Node]:
        assert is_dataclass(self)
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, (tuple, list)):
                for item in value:
                    if isinstance(item, Node):
                        yield item
                    elif isinstance(item, (tuple, list)):
                        yield from (x for x in item if isinstance(x, Node))


# --------------------------------------------------------------------------------------------
# expressions


class Expr(Node):
    """An expression. Operators on expressions build IR (``a + 1`` is ``BinOp('+', a, Const(1))``)."""

    def __add__(self, other: ExprLike) -> Expr:
        return BinOp("+", self, as_expr(other))

    def __radd__(self, other: ExprLike) -> Expr:
        return BinOp("+", as_expr(other), self)

    def __sub__(self, other: ExprLike) -> Expr:
        return BinOp("-", self, as_expr(other))

    def __rsub__(self, other: ExprLike) -> Expr:
        return BinOp("-", as_expr(other), self)

    def __mul__(self, other: ExprLike) -> Expr:
        return BinOp("*", self, as_expr(other))

    def __rmul__(self, other: ExprLike) -> Expr:
        return BinOp("*", as_expr(other), self)

    def __floordiv__(self, other: ExprLike) -> Expr:  # C division of integers
        return BinOp("/", self, as_expr(other))

    def __mod__(self, other: ExprLike) -> Expr:
        return BinOp("%", self, as_expr(other))

    def __neg__(self) -> Expr:
        return UnOp("-", self)


@dataclass(frozen=True, eq=True)
class Const(Expr):
    value: Union[int, float, bool]
    dtype: str = "i32"


@dataclass(frozen=True, eq=True)
class Var(Expr):
    """A scalar variable: a parameter, a local, or a loop variable."""

    name: str
    dtype: str = "i32"


@dataclass(frozen=True, eq=True)
class Builtin(Expr):
    """A GPU builtin such as ``threadIdx.x`` or ``warpSize`` (see ``BUILTINS``)."""

    name: str


@dataclass(frozen=True, eq=True)
class BinOp(Expr):
    """Binary operator with C semantics: + - * / % << >> & | ^ < <= > >= == != && ||."""

    op: str
    a: Expr
    b: Expr


@dataclass(frozen=True, eq=True)
class UnOp(Expr):
    """Unary operator with C semantics: - ! ~."""

    op: str
    a: Expr


@dataclass(frozen=True, eq=True)
class Select(Expr):
    """``cond ? a : b``."""

    cond: Expr
    a: Expr
    b: Expr


@dataclass(frozen=True, eq=True)
class Cast(Expr):
    dtype: str
    a: Expr


@dataclass(frozen=True, eq=True)
class Load(Expr):
    """Read of ``buffer[indices...]`` (one index for global buffers, one per dimension otherwise).

    ``view``: when set, the bytes at the address of that element are read as a value of dtype
    ``view`` (the source wrote ``*(const int*)&A[i]`` or ``((int*)A)[j]``); the index stays in
    units of the buffer's own element type. Detensorised integer vectors are byte arrays read
    through views."""

    buffer: str
    indices: tuple[Expr, ...]
    view: Union[str, None] = None


@dataclass(frozen=True, eq=True)
class AddressOf(Expr):
    """The address ``&buffer[indices...]`` (``buffer + i`` in the source); pointer operand of calls."""

    buffer: str
    indices: tuple[Expr, ...]


@dataclass(frozen=True, eq=True)
class Call(Expr):
    """A call: a math function, an intrinsic of the semantics table, a GPU primitive (shuffle,
    atomic, ballot), or a helper function of the module. ``dtype`` is the result type."""

    name: str
    args: tuple[Expr, ...]
    dtype: str = "f32"


ExprLike = Union[Expr, int, float, bool]


def as_expr(value: ExprLike) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, bool):
        return Const(value, "bool")
    if isinstance(value, int):
        return Const(value, "i32")
    if isinstance(value, float):
        return Const(value, "f32")
    raise TypeError(f"cannot make an IR expression of {value!r}")


# --------------------------------------------------------------------------------------------
# statements


class Stmt(Node):
    """A statement."""


@dataclass(frozen=True, eq=True)
class Decl(Stmt):
    """Declares a local scalar (``shape == ()``) or array, optionally initialised.

    ``scope`` is ``register`` for scalars, ``local`` for per-thread arrays and ``shared`` for
    GPU shared memory (one copy per block). ``init`` may be an expression (scalars) or a tuple of
    expressions (an array initialiser list)."""

    name: str
    dtype: str
    shape: tuple[int, ...] = ()
    init: Union[Expr, tuple[Expr, ...], None] = None
    scope: str = REGISTER
    const: bool = False


@dataclass(frozen=True, eq=True)
class Assign(Stmt):
    """``name = value`` for a scalar variable."""

    name: str
    value: Expr


@dataclass(frozen=True, eq=True)
class Store(Stmt):
    """``buffer[indices...] = value``; ``view`` as in ``Load``."""

    buffer: str
    indices: tuple[Expr, ...]
    value: Expr
    view: Union[str, None] = None


@dataclass(frozen=True, eq=True)
class ExprStmt(Stmt):
    """An expression evaluated for its effect (an intrinsic store, an atomic, a helper call)."""

    expr: Expr


@dataclass(frozen=True, eq=True)
class For(Stmt):
    """``for (dtype var = init; var cmp bound; var update= step) body``.

    ``kind`` says how the loop runs (serial, parallel = OpenMP, vectorized, unrolled, thread =
    bound to a GPU axis named by ``binding``); ``annotations`` carries what a printer needs beyond
    that, e.g. ``(("num_threads", 4), ("reduction", "+:sum"), ("unroll", 4))``."""

    var: str
    init: Expr
    bound: Expr
    step: Expr
    body: tuple[Stmt, ...]
    cmp: str = "<"
    update: str = "+"
    var_dtype: str = "i32"
    kind: str = SERIAL
    binding: Union[str, None] = None
    annotations: tuple[tuple[str, Any], ...] = ()
    line: int = field(default=0, compare=False)  # source line, for messages

    def is_affine(self) -> bool:
        """True for ``var < bound`` with ``var += positive constant`` (the analysable form)."""
        return (
            self.cmp == "<" and self.update == "+" and isinstance(self.step, Const)
            and isinstance(self.step.value, int) and self.step.value > 0
        )

    def annotation(self, key: str, default: Any = None) -> Any:
        return dict(self.annotations).get(key, default)


@dataclass(frozen=True, eq=True)
class While(Stmt):
    cond: Expr
    body: tuple[Stmt, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, eq=True)
class If(Stmt):
    cond: Expr
    then: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] = ()
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, eq=True)
class Sync(Stmt):
    """A barrier: ``block`` (``__syncthreads``) or ``warp`` (``__syncwarp``)."""

    scope: str = "block"
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, eq=True)
class Return(Stmt):
    value: Union[Expr, None] = None


@dataclass(frozen=True, eq=True)
class Break(Stmt):
    pass


@dataclass(frozen=True, eq=True)
class Continue(Stmt):
    pass


@dataclass(frozen=True, eq=True)
class Launch(Stmt):
    """``kernel<<<grid, block, shared_bytes>>>(args)`` in a host function; grid/block are 3-tuples."""

    kernel: str
    grid: tuple[Expr, Expr, Expr]
    block: tuple[Expr, Expr, Expr]
    args: tuple[Expr, ...]
    shared_bytes: Expr = Const(0)


# --------------------------------------------------------------------------------------------
# functions and modules


@dataclass(frozen=True, eq=True)
class Param(Node):
    """A function parameter: a scalar, or (``pointer``) a flat global buffer of ``dtype`` elements."""

    name: str
    dtype: str
    pointer: bool = False
    const: bool = False
    restrict: bool = False


# Function kinds.
KERNEL, DEVICE, HOST = "kernel", "device", "host"


@dataclass(frozen=True, eq=True)
class Function(Node):
    """A function. ``kind``: ``kernel`` (``__global__``, or the entry of a CPU kernel), ``device``
    (a helper called from kernels), ``host`` (a CPU-side launcher holding ``Launch`` statements)."""

    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    kind: str = KERNEL
    ret_dtype: str = "void"
    launch_bounds: Union[tuple[int, ...], None] = None
    line: int = 0

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)


@dataclass(frozen=True, eq=True)
class Module(Node):
    """A translation unit: its functions, the platform it is written for (``cpu``, ``cuda``,
    ``hip``) and the system headers it needs (printers add their own)."""

    functions: tuple[Function, ...]
    platform: str
    includes: tuple[str, ...] = ()

    def function(self, name: str) -> Function:
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(f"no function named {name!r} in the module")

    def kernels(self) -> list[Function]:
        return [f for f in self.functions if f.kind == KERNEL]

    def with_function(self, fn: Function) -> Module:
        """The module with ``fn`` replacing the function of the same name (or appended)."""
        names = [f.name for f in self.functions]
        if fn.name in names:
            funcs = tuple(fn if f.name == fn.name else f for f in self.functions)
        else:
            funcs = self.functions + (fn,)
        return replace(self, functions=funcs)


# --------------------------------------------------------------------------------------------
# generic traversal


def walk(node: Node) -> Iterator[Node]:
    """Pre-order iteration over ``node`` and all nodes below it."""
    yield node
    for child in node.children():
        yield from walk(child)


def _map_value(value: Any, fn: Callable[[Node], Node]) -> Any:
    if isinstance(value, Node):
        return transform(value, fn)
    if isinstance(value, tuple):
        return tuple(_map_value(v, fn) for v in value)
    return value


def transform(node: Node, fn: Callable[[Node], Node]) -> Any:
    """Bottom-up rewrite: children first, then ``fn`` on the rebuilt node. ``fn`` returns the
    node unchanged or a replacement. A statement may be replaced by a tuple of statements when it
    sits in a statement list (the tuple is spliced)."""
    assert is_dataclass(node)
    changes = {}
    for f in fields(node):
        old = getattr(node, f.name)
        new = _map_value(old, fn)
        if isinstance(old, tuple) and old and all(isinstance(x, Stmt) for x in old):
            new = _splice(new)
        if new is not old and new != old:
            changes[f.name] = new
    rebuilt = replace(node, **changes) if changes else node
    return fn(rebuilt)


def _splice(items: Sequence[Any]) -> tuple[Any, ...]:
    out: list[Any] = []
    for item in items:
        if isinstance(item, tuple):
            out.extend(item)
        else:
            out.append(item)
    return tuple(out)


def transform_stmts(stmts: Sequence[Stmt], fn: Callable[[Node], Node]) -> tuple[Stmt, ...]:
    """``transform`` over a statement list, splicing tuple results."""
    return _splice([transform(s, fn) for s in stmts])


def substitute(node: Node, mapping: dict[str, Expr]) -> Any:
    """Replace variables (``Var`` by name) and builtins (``Builtin`` by name) with expressions."""

    def fn(n: Node) -> Node:
        if isinstance(n, Var) and n.name in mapping:
            return mapping[n.name]
        if isinstance(n, Builtin) and n.name in mapping:
            return mapping[n.name]
        return n

    return transform(node, fn)


def free_vars(node: Node) -> set[str]:
    """Names of the variables an expression or statement reads (loop variables included)."""
    return {n.name for n in walk(node) if isinstance(n, Var)}


def declared_names(node: Node) -> set[str]:
    """Names declared anywhere in ``node``: local variables and arrays, and loop variables."""
    out: set[str] = set()
    for n in walk(node):
        if isinstance(n, Decl):
            out.add(n.name)
        elif isinstance(n, For):
            out.add(n.var)
    return out


def buffers_read(node: Node) -> set[str]:
    return {n.buffer for n in walk(node) if isinstance(n, (Load, AddressOf))}


def buffers_written(node: Node) -> set[str]:
    out = {n.buffer for n in walk(node) if isinstance(n, Store)}
    for n in walk(node):
        if isinstance(n, Call) and n.args and isinstance(n.args[0], AddressOf):
            out.add(n.args[0].buffer)  # atomics and intrinsic stores write through their pointer
    return out


def uses_builtin(node: Node, prefix: str = "") -> bool:
    return any(isinstance(n, Builtin) and n.name.startswith(prefix) for n in walk(node))


class UnsupportedConstruct(Exception):
    """Raised when a source construct cannot be represented or a pass cannot apply.

    The message names the construct and, when known, its line, so that the user can act on it."""

    def __init__(self, construct: str, line: int = 0, detail: str = ""):
        self.construct = construct
        self.line = line
        self.detail = detail
        where = f" at line {line}" if line else ""
        super().__init__(f"unsupported construct: {construct}{where}" + (f" ({detail})" if detail else ""))


class NotApplicable(Exception):
    """A pass does not apply to the program; the message says why."""
