"""Names inside one function: symbols, nested scopes and the renaming that keeps IR names unique.

Why: the passes identify a variable by its name alone (``typeinfer.type_env``), so a declaration
that shadows a live outer name, or re-declares a dead name with another type, must get a fresh
IR name (``i`` -> ``i_1``). Two sibling loops that both declare ``int i`` keep ``i``. Local
pointers and ``dim3`` variables are aliases resolved by substitution; a symbol remembers the
variables its value was computed from, so that re-assigning one of them while the alias is live
is rejected instead of silently changing what the alias denotes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from passes import ir

SCALAR, BUFFER, ARRAY, POINTER, DIM3 = "scalar", "buffer", "array", "pointer", "dim3"
FRAGMENT = "fragment"  # a WMMA fragment (passes/wmma.py): usable only as an operand of wmma:: calls


@dataclass(frozen=True)
class PtrVal:
    """A pointer value of the source, as an element position in a buffer or array.

    ``indices`` has one entry per dimension of ``buffer`` (one for global buffers), in units of
    the buffer's element type ``elem``; ``depth`` is the dimension that the next subscript or
    pointer arithmetic moves along; ``view`` is the type read through the pointer when the source
    cast it (``(const int*)A``), ``"void"`` for ``void*``."""

    buffer: str
    elem: str
    indices: tuple[ir.Expr, ...]
    depth: int = 0
    view: str | None = None

    @property
    def at_element(self) -> bool:
        """True when dereferencing yields an element (not a row of a multi-dim array)."""
        return self.depth == len(self.indices) - 1


@dataclass(frozen=True)
class Symbol:
    kind: str
    name: str  # IR name (the source name, possibly renamed)
    dtype: str = "i32"  # scalars: their dtype; buffers/arrays/pointers: element dtype
    shape: tuple[int, ...] = ()
    scope: str = ir.REGISTER
    ptr: PtrVal | None = None
    dims: tuple[ir.Expr, ir.Expr, ir.Expr] | None = None
    deps: frozenset[str] = frozenset()


@dataclass
class Scopes:
    """The scope stack of one function plus every IR name declared so far."""

    stack: list[dict[str, Symbol]] = field(default_factory=lambda: [{}])
    declared: dict[str, tuple[str, str, tuple[int, ...], str]] = field(default_factory=dict)
    reserved: set[str] = field(default_factory=set)

    def push(self) -> None:
        self.stack.append({})

    def pop(self) -> None:
        self.stack.pop()

    def lookup(self, source_name: str) -> Symbol | None:
        for frame in reversed(self.stack):
            if source_name in frame:
                return frame[source_name]
        return None

    def live_symbols(self) -> list[Symbol]:
        return [s for frame in self.stack for s in frame.values()]

    def declare(self, source_name: str, sym: Symbol) -> Symbol:
        """Enter ``sym`` for ``source_name`` in the innermost scope, choosing its IR name."""
        if sym.kind in (POINTER, DIM3):  # aliases: no IR name of their own
            sym = replace(sym, name=source_name)
            self.stack[-1][source_name] = sym
            return sym
        signature = (sym.kind, sym.dtype, sym.shape, sym.scope)
        live = {s.name for s in self.live_symbols() if s.kind not in (POINTER, DIM3)}
        live |= {s for frame in self.stack for s in frame if frame[s].kind not in (POINTER, DIM3)}
        candidate, n = source_name, 0
        while (candidate in live or candidate in self.reserved
               or self.declared.get(candidate, signature) != signature):
            n += 1
            candidate = f"{source_name}_{n}"
        self.declared[candidate] = signature
        sym = replace(sym, name=candidate)
        self.stack[-1][source_name] = sym
        return sym

    def check_assign(self, ir_name: str, node_line: int) -> None:
        """Reject a write to a variable that a live alias (pointer, dim3) was computed from."""
        for sym in self.live_symbols():
            if ir_name in sym.deps:
                what = "local pointer" if sym.kind == POINTER else "dim3 variable"
                raise ir.UnsupportedConstruct(
                    f"assignment to '{ir_name}'", node_line,
                    f"{what} '{sym.name}' was computed from it and is still in scope")
