"""Unique names: every declaration of a function gets a name no other declaration uses.

Why: C lets sibling scopes reuse a name (two loops each declaring ``int d``). Passes that move
statements across scopes (loop recovery hoists per-thread state to block level) key their
decisions on names, so two unrelated ``d`` would be merged. Renaming once, scope-aware, removes
the ambiguity for every pass after it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from passes import ir


def uniquify(fn: ir.Function) -> ir.Function:
    """``fn`` with distinct names for all its declarations (the first keeps its name)."""
    used = {p.name for p in fn.params}
    return replace(fn, body=tuple(_block(fn.body, {}, used)))


def _fresh(name: str, used: set[str]) -> str:
    candidate, n = name, 0
    while candidate in used:
        n += 1
        candidate = f"{name}_{n}"
    used.add(candidate)
    return candidate


def _rename_expr(e: ir.Expr, env: dict[str, str]) -> ir.Expr:
    if not env:
        return e

    def fn(n: ir.Node) -> ir.Node:
        if isinstance(n, ir.Var) and n.name in env:
            return replace(n, name=env[n.name])
        if isinstance(n, (ir.Load, ir.AddressOf)) and n.buffer in env:
            return replace(n, buffer=env[n.buffer])
        return n

    return ir.transform(e, fn)


def _block(stmts: Sequence[ir.Stmt], outer: dict[str, str], used: set[str]) -> list[ir.Stmt]:
    env = dict(outer)
    out: list[ir.Stmt] = []
    for s in stmts:
        r = lambda e: _rename_expr(e, env)  # noqa: E731 - env changes as declarations appear
        if isinstance(s, ir.Decl):
            init = s.init
            if isinstance(init, ir.Expr):
                init = r(init)
            elif isinstance(init, tuple):
                init = tuple(r(x) for x in init)
            new = _fresh(s.name, used)
            env[s.name] = new
            out.append(replace(s, name=new, init=init))
        elif isinstance(s, ir.For):
            new = _fresh(s.var, used)
            inner = {**env, s.var: new}
            out.append(replace(s, var=new, init=r(s.init), bound=_rename_expr(s.bound, inner),
                               step=_rename_expr(s.step, inner), body=tuple(_block(s.body, inner, used))))
        elif isinstance(s, ir.If):
            out.append(replace(s, cond=r(s.cond), then=tuple(_block(s.then, env, used)),
                               orelse=tuple(_block(s.orelse, env, used))))
        elif isinstance(s, ir.While):
            out.append(replace(s, cond=r(s.cond), body=tuple(_block(s.body, env, used))))
        elif isinstance(s, ir.Assign):
            out.append(replace(s, name=env.get(s.name, s.name), value=r(s.value)))
        elif isinstance(s, ir.Store):
            out.append(replace(s, buffer=env.get(s.buffer, s.buffer),
                               indices=tuple(r(i) for i in s.indices), value=r(s.value)))
        elif isinstance(s, ir.ExprStmt):
            out.append(replace(s, expr=r(s.expr)))
        elif isinstance(s, ir.Return) and s.value is not None:
            out.append(replace(s, value=r(s.value)))
        elif isinstance(s, ir.Launch):
            out.append(replace(s, args=tuple(r(a) for a in s.args)))
        else:
            out.append(s)
    return out
