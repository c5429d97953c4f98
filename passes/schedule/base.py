"""The contract of tunable passes, and the loop plumbing they share.

A tunable pass is a rewrite of one ``ir.Function`` whose *where* and *how much* are chosen by the
search. The call sequence is:

1. ``space(fn)`` lists the ``Site`` s of ``fn`` where the pass may apply (one per loop, or per
   band of loops) and, per site, the parameters with their finite choices. Parameters depend on
   the site (split factors are filtered by a loop's constant extent, reorder choices are the
   permutations of *that* band), so the space is a list of sites, each with independent
   ``ParamDecl`` s, rather than one flat list of parameters. ``space`` is structural and cheap;
   it lists every *candidate*, not only legal ones.
2. ``apply(fn, params)`` (``params`` = ``{"loop": ..., **site parameters}``) either returns a new,
   different function or raises ``ir.NotApplicable`` saying why (the legality check failed, the
   parameters make no sense here, the program would not change). It never returns its input.

Loops are addressed by their variable name in ``names.uniquify(fn)`` (``apply`` and ``space``
uniquify first, which is idempotent), or by their pre-order index among the function's loops.
Names are the better key for sequences of passes: a split of ``i`` shifts every later index but
leaves ``j`` named ``j`` (the split keeps the original name on the inner loop and calls the new
outer one ``i_o``).

Every transformed program must still be verified by the caller (``measure.platforms``): the
legality checks are proofs about the IR, the verification is the check of the whole chain
(printer, compiler) on real data.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Mapping, Union

from passes import ir
from passes.names import uniquify

LoopRef = Union[str, int]


@dataclass(frozen=True)
class ParamDecl:
    """One parameter of a site: a name, its finite choices (in a meaningful order) and why."""

    name: str
    choices: tuple[Any, ...]
    doc: str = ""


@dataclass(frozen=True)
class Site:
    """A place where a pass may apply: the loop it is keyed on and its independent parameters."""

    loop: str
    params: tuple[ParamDecl, ...] = ()
    note: str = ""

    def configs(self) -> Iterator[dict[str, Any]]:
        """Every parameter assignment of this site (the cartesian product of the choices)."""
        def rec(i: int, acc: dict[str, Any]) -> Iterator[dict[str, Any]]:
            if i == len(self.params):
                yield dict(acc)
                return
            p = self.params[i]
            for c in p.choices:
                acc[p.name] = c
                yield from rec(i + 1, acc)
        yield from rec(0, {"loop": self.loop})

    def sample(self, rng: random.Random) -> dict[str, Any]:
        return {"loop": self.loop, **{p.name: rng.choice(p.choices) for p in self.params}}


class TunablePass(ABC):
    """Base of the tunable schedule passes (see the module docstring for the contract)."""

    name: str = "base"

    def space(self, fn: ir.Function) -> list[Site]:
        return self.sites(uniquify(fn))

    def apply(self, fn: ir.Function, params: Mapping[str, Any]) -> ir.Function:
        fn = uniquify(fn)
        out = self.rewrite(fn, dict(params))
        if out == fn:
            raise ir.NotApplicable(f"{self.name}: the program would not change")
        return out

    @abstractmethod
    def sites(self, fn: ir.Function) -> list[Site]:
        """``space`` on a function with unique names."""

    @abstractmethod
    def rewrite(self, fn: ir.Function, params: dict[str, Any]) -> ir.Function:
        """``apply`` on a function with unique names."""


# --------------------------------------------------------------------------------- parameters


def int_param(params: Mapping[str, Any], key: str, lo: int = 1) -> int:
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter {key!r} must be an integer, got {value!r}")
    if value < lo:
        raise ir.NotApplicable(f"parameter {key}={value} is below {lo}")
    return value


# ------------------------------------------------------------------------------------ loops


@dataclass(frozen=True)
class LoopInfo:
    """A loop with the loops around it (outermost first) and the other statements of its block."""

    loop: ir.For
    ancestors: tuple[ir.For, ...]
    index: int  # pre-order position among the function's loops
    block: tuple[ir.Stmt, ...] = field(compare=False)
    position: int = 0  # index of the loop in ``block``


def loop_infos(fn: ir.Function) -> list[LoopInfo]:
    out: list[LoopInfo] = []

    def visit(stmts: tuple[ir.Stmt, ...], anc: tuple[ir.For, ...]) -> None:
        for pos, s in enumerate(stmts):
            if isinstance(s, ir.For):
                out.append(LoopInfo(s, anc, len(out), stmts, pos))
                visit(s.body, anc + (s,))
            elif isinstance(s, ir.If):
                visit(s.then, anc)
                visit(s.orelse, anc)
            elif isinstance(s, ir.While):
                visit(s.body, anc)

    visit(fn.body, ())
    return out


def find_loop(fn: ir.Function, ref: Any) -> LoopInfo:
    """The loop named (or numbered, pre-order) ``ref``; ``NotApplicable`` when there is none."""
    infos = loop_infos(fn)
    if isinstance(ref, bool) or not isinstance(ref, (str, int)):
        raise ValueError(f"parameter 'loop' must be a loop variable name or an index, got {ref!r}")
    if isinstance(ref, int):
        if not 0 <= ref < len(infos):
            raise ir.NotApplicable(f"there is no loop number {ref} (the function has {len(infos)})")
        return infos[ref]
    matches = [i for i in infos if i.loop.var == ref]
    if not matches:
        raise ir.NotApplicable(f"there is no loop over {ref!r} in {fn.name}")
    return matches[0]


def replace_loop(fn: ir.Function, var: str, new: Union[ir.Stmt, tuple[ir.Stmt, ...]]) -> ir.Function:
    """``fn`` with the loop over ``var`` replaced by ``new`` (a tuple is spliced into the block)."""
    def fn_(n: ir.Node) -> Any:
        if isinstance(n, ir.For) and n.var == var:
            return new
        return n

    result: ir.Function = ir.transform(fn, fn_)
    return result


def map_blocks(fn: ir.Function, f: Callable[[tuple[ir.Stmt, ...]], tuple[ir.Stmt, ...]]) -> ir.Function:
    """``fn`` with ``f`` applied to every statement list, innermost first."""
    def block(stmts: tuple[ir.Stmt, ...]) -> tuple[ir.Stmt, ...]:
        return f(tuple(stmt(s) for s in stmts))

    def stmt(s: ir.Stmt) -> ir.Stmt:
        if isinstance(s, ir.For):
            return _replace(s, body=block(s.body))
        if isinstance(s, ir.If):
            return _replace(s, then=block(s.then), orelse=block(s.orelse))
        if isinstance(s, ir.While):
            return _replace(s, body=block(s.body))
        return s

    return _replace(fn, body=block(fn.body))


def _replace(node: Any, **changes: Any) -> Any:
    return replace(node, **changes)


def all_names(fn: ir.Function) -> set[str]:
    """Every name the function declares or reads (parameters, locals, loop variables)."""
    return {p.name for p in fn.params} | ir.free_vars(fn) | ir.declared_names(fn)


def fresh_name(base: str, used: set[str]) -> str:
    candidate, n = base, 0
    while candidate in used:
        n += 1
        candidate = f"{base}{n}"
    used.add(candidate)
    return candidate


def fresh_copy(stmts: tuple[ir.Stmt, ...], used: set[str]) -> tuple[ir.Stmt, ...]:
    """``stmts`` with every name they declare (locals, loop variables) renamed to a fresh one,
    scope-aware; ``used`` grows by the new names. Why: a copy of a loop body placed next to the
    original (unrolling, remainder loops) must not redeclare a name in one C scope, and passes
    after us rely on unique names."""
    # names.uniquify renames a declaration whose name is taken; declaring every used name as a
    # parameter of a scratch function makes it rename all of them, with its scoping rules.
    scratch = ir.Function("__copy", tuple(ir.Param(n, "i32") for n in sorted(used)), stmts)
    out = uniquify(scratch).body
    used |= ir.declared_names(ir.Function("__copy", (), out))
    return out


def assigned_scalars(node: ir.Node) -> set[str]:
    return {n.name for n in ir.walk(node) if isinstance(n, ir.Assign)}


def header_problem(loop: ir.For, region: ir.Node) -> Union[str, None]:
    """Why the header (init, bound, step) of ``loop`` might change value while ``region`` runs,
    or ``None``. Passes that re-evaluate or move a header need it invariant."""
    written = ir.buffers_written(region)
    assigned = assigned_scalars(region)
    for part in (loop.init, loop.bound, loop.step):
        for n in ir.walk(part):
            if isinstance(n, (ir.Load, ir.AddressOf)) and n.buffer in written:
                return f"the header of loop '{loop.var}' reads '{n.buffer}', which the loop writes"
            if isinstance(n, ir.Call) and n.name not in _PURE_CALLS:
                return f"the header of loop '{loop.var}' calls '{n.name}'"
        bad = ir.free_vars(part) & assigned
        if bad:
            return f"the header of loop '{loop.var}' reads '{sorted(bad)[0]}', assigned in the loop"
    if loop.var in assigned:
        return f"the body assigns the loop variable '{loop.var}'"
    return None


def exits_loop(body: tuple[ir.Stmt, ...]) -> Union[str, None]:
    """A ``break``/``continue`` that binds to the loop whose body this is, or any ``return``."""
    for s in body:
        for n in _walk_no_loops(s):
            if isinstance(n, (ir.Break, ir.Continue, ir.Return)):
                return type(n).__name__.lower()
        for n in ir.walk(s):
            if isinstance(n, ir.Return):
                return "return"
    return None


def _walk_no_loops(node: ir.Node) -> Iterator[ir.Node]:
    yield node
    if isinstance(node, (ir.For, ir.While)):
        return
    for c in node.children():
        yield from _walk_no_loops(c)


def affine_problem(loop: ir.For) -> Union[str, None]:
    if not loop.is_affine():
        return f"loop '{loop.var}' is not of the form var < bound; var += constant"
    return None


def const_trip(loop: ir.For) -> Union[int, None]:
    """The trip count of an affine loop with constant bounds, else ``None``."""
    if loop.is_affine() and isinstance(loop.init, ir.Const) and isinstance(loop.bound, ir.Const):
        step = int(loop.step.value)  # type: ignore[attr-defined]
        return max(0, -(-(int(loop.bound.value) - int(loop.init.value)) // step))
    return None


_PURE_CALLS = frozenset({"min", "max", "abs"})
