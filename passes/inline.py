"""Inlining of helper (device) functions into their callers.

Why: loop recovery must see every barrier and warp collective of a kernel in one body. A helper
such as ``warp_sum(v)`` that runs a shuffle loop hides one. Helpers that use no GPU-only
construct are left alone: printers print them as functions on every platform.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Iterable

from passes import ir

COLLECTIVE_PREFIXES = ("__shfl", "__ballot", "__any_sync", "__all_sync", "__activemask",
                       "__syncthreads")


def uses_gpu_only(fn: ir.Function, module: ir.Module, seen: frozenset[str] = frozenset()) -> bool:
    """True when ``fn`` (or a helper it calls) uses builtins, barriers or warp collectives."""
    for node in ir.walk(fn):
        if isinstance(node, (ir.Builtin, ir.Sync)):
            return True
        if isinstance(node, ir.Call):
            if node.name.startswith(COLLECTIVE_PREFIXES):
                return True
            if node.name not in seen and _is_helper(module, node.name):
                if uses_gpu_only(module.function(node.name), module, seen | {fn.name}):
                    return True
    return False


def _is_helper(module: ir.Module, name: str) -> bool:
    return any(f.name == name and f.kind == ir.DEVICE for f in module.functions)


def inline_gpu_helpers(fn: ir.Function, module: ir.Module) -> ir.Function:
    """Inline every call of a helper that uses GPU-only constructs; others stay calls."""
    targets = {f.name for f in module.functions
               if f.kind == ir.DEVICE and uses_gpu_only(f, module)}
    if not targets:
        return fn
    counter = itertools.count(1)
    taken = {n.name for n in ir.walk(fn) if isinstance(n, ir.Var)} | {
        n.name for n in ir.walk(fn) if isinstance(n, ir.Decl)} | {p.name for p in fn.params}
    body = fn.body
    for _ in range(8):  # helpers calling helpers: a few rounds, recursion is rejected below
        new_body = tuple(_inline_stmts(body, module, targets, counter, taken, fn.line))
        if new_body == body:
            break
        body = new_body
    else:
        raise ir.UnsupportedConstruct("recursive helper function", fn.line)
    return replace(fn, body=body)


def _inline_stmts(stmts: Iterable[ir.Stmt], module: ir.Module, targets: set[str],
                  counter: itertools.count, taken: set[str], line: int) -> list[ir.Stmt]:
    out: list[ir.Stmt] = []
    for s in stmts:
        if isinstance(s, ir.For):
            out.append(replace(s, body=tuple(_inline_stmts(s.body, module, targets, counter, taken, line))))
            continue
        if isinstance(s, ir.While):
            out.append(replace(s, body=tuple(_inline_stmts(s.body, module, targets, counter, taken, line))))
            continue
        if isinstance(s, ir.If):
            pre, cond = _hoist_calls(s.cond, module, targets, counter, taken, line)
            out.extend(pre)
            out.append(replace(
                s, cond=cond,
                then=tuple(_inline_stmts(s.then, module, targets, counter, taken, line)),
                orelse=tuple(_inline_stmts(s.orelse, module, targets, counter, taken, line))))
            continue
        exprs = [c for c in s.children() if isinstance(c, ir.Expr)]
        if not any(_has_target_call(e, targets) for e in exprs):
            out.append(s)
            continue
        direct = _direct_call(s, targets)
        if direct is not None:  # x = f(...): the callee returns straight into x
            target, dtype, call = direct
            args = []
            for a in call.args:
                pre, new_a = _hoist_calls(a, module, targets, counter, taken, line)
                out.extend(pre)
                args.append(new_a)
            if isinstance(s, ir.Decl):
                out.append(ir.Decl(target, dtype))
            stmts, _ = _expand_call(module.function(call.name), tuple(args), counter, taken, line,
                                    target=target)
            out.extend(stmts)
            continue
        mapping: dict[int, ir.Expr] = {}
        for e in exprs:
            pre, new_e = _hoist_calls(e, module, targets, counter, taken, line)
            out.extend(pre)
            mapping[id(e)] = new_e
        out.append(_replace_children(s, mapping))
    return out


def _direct_call(s: ir.Stmt, targets: set[str]) -> tuple[str, str, ir.Call] | None:
    """(target, dtype, call) for ``x = f(...)`` / ``T x = f(...)`` with ``f`` a target."""
    if isinstance(s, ir.Assign) and isinstance(s.value, ir.Call) and s.value.name in targets:
        return s.name, s.value.dtype, s.value
    if (isinstance(s, ir.Decl) and not s.shape and isinstance(s.init, ir.Call)
            and s.init.name in targets):
        return s.name, s.dtype, s.init
    return None


def _replace_children(s: ir.Stmt, mapping: dict[int, ir.Expr]) -> ir.Stmt:
    changes: dict[str, object] = {}
    for name, value in vars(s).items():
        if isinstance(value, ir.Expr) and id(value) in mapping:
            changes[name] = mapping[id(value)]
        elif isinstance(value, tuple):
            changes[name] = tuple(mapping.get(id(v), v) if isinstance(v, ir.Expr) else v for v in value)
    return replace(s, **changes)  # type: ignore[type-var]


def _has_target_call(e: ir.Node, targets: set[str]) -> bool:
    return any(isinstance(n, ir.Call) and n.name in targets for n in ir.walk(e))


def _hoist_calls(e: ir.Expr, module: ir.Module, targets: set[str], counter: itertools.count,
                 taken: set[str], line: int) -> tuple[list[ir.Stmt], ir.Expr]:
    """Move target calls out of ``e`` into statements; returns (statements, rewritten e)."""
    pre: list[ir.Stmt] = []

    def visit(n: ir.Expr, conditional: bool) -> ir.Expr:
        if isinstance(n, ir.Select):
            return replace(n, cond=visit(n.cond, conditional), a=visit(n.a, True), b=visit(n.b, True))
        if isinstance(n, ir.BinOp) and n.op in ("&&", "||"):
            return replace(n, a=visit(n.a, conditional), b=visit(n.b, True))
        if isinstance(n, ir.Call):
            args = tuple(visit(a, conditional) for a in n.args)
            n = replace(n, args=args)
            if n.name in targets:
                if conditional:
                    raise ir.UnsupportedConstruct(
                        f"call of helper '{n.name}' (which uses barriers or warp collectives) "
                        "inside a conditional expression", line)
                stmts, result = _expand_call(module.function(n.name), args, counter, taken, line)
                pre.extend(stmts)
                return result
            return n
        if isinstance(n, ir.Load):
            return replace(n, indices=tuple(visit(i, conditional) for i in n.indices))
        if isinstance(n, (ir.BinOp,)):
            return replace(n, a=visit(n.a, conditional), b=visit(n.b, conditional))
        if isinstance(n, ir.UnOp) or isinstance(n, ir.Cast):
            return replace(n, a=visit(n.a, conditional))
        return n

    return pre, visit(e, False)


def _fresh(base: str, counter: itertools.count, taken: set[str]) -> str:
    while True:
        name = f"{base}_{next(counter)}"
        if name not in taken:
            taken.add(name)
            return name


def _expand_call(callee: ir.Function, args: tuple[ir.Expr, ...], counter: itertools.count,
                 taken: set[str], line: int, target: str = "") -> tuple[list[ir.Stmt], ir.Expr]:
    """The callee's body with parameters bound to ``args``. With ``target`` (the call is the
    whole right-hand side of ``target = f(...)``) the result goes straight into ``target``, and
    a parameter whose argument is ``target`` itself works on it in place: nothing can observe
    the intermediate values, so ``v = warp_sum(v)`` needs no copies."""
    if len(args) != len(callee.params):
        raise ir.UnsupportedConstruct(f"call of '{callee.name}' with {len(args)} arguments", line)
    stmts: list[ir.Stmt] = []
    rename: dict[str, ir.Expr] = {}
    buffer_rename: dict[str, tuple[str, ir.Expr | None]] = {}
    for p, a in zip(callee.params, args):
        if p.pointer:
            if isinstance(a, ir.Var):
                buffer_rename[p.name] = (a.name, None)
            elif isinstance(a, ir.AddressOf) and len(a.indices) == 1:
                buffer_rename[p.name] = (a.buffer, a.indices[0])
            else:
                raise ir.UnsupportedConstruct(
                    f"pointer argument '{p.name}' of helper '{callee.name}'", line)
            continue
        if target and isinstance(a, ir.Var) and a.name == target and \
                sum(isinstance(n, ir.Var) and n.name == target for x in args for n in ir.walk(x)) == 1:
            rename[p.name] = a
            continue
        fresh = _fresh(p.name, counter, taken)
        stmts.append(ir.Decl(fresh, p.dtype, init=a))
        rename[p.name] = ir.Var(fresh, p.dtype)
    local_names = ir.declared_names(callee)
    local_map = {name: _fresh(name, counter, taken) for name in local_names}
    if target:
        ret_name = target
    else:
        ret_name = _fresh(f"{callee.name}_result", counter, taken) if callee.ret_dtype != "void" else ""

    def fn(n: ir.Node) -> ir.Node | tuple[()]:
        if isinstance(n, ir.Var):
            if n.name in rename:
                return rename[n.name]
            if n.name in local_map:
                return replace(n, name=local_map[n.name])
        if isinstance(n, ir.Decl) and n.name in local_map:
            return replace(n, name=local_map[n.name])
        if isinstance(n, ir.Assign):
            if n.name in local_map:
                return replace(n, name=local_map[n.name])
            if n.name in rename:
                target = rename[n.name]
                assert isinstance(target, ir.Var)
                return replace(n, name=target.name)
        if isinstance(n, ir.For) and n.var in local_map:
            return replace(n, var=local_map[n.var])
        if isinstance(n, (ir.Load, ir.Store, ir.AddressOf)) and n.buffer in buffer_rename:
            buf, offset = buffer_rename[n.buffer]
            idx = n.indices if offset is None else (ir.BinOp("+", offset, n.indices[0]),)
            return replace(n, buffer=buf, indices=idx)
        if isinstance(n, ir.Return):
            if n.value is None:
                return n
            if n.value == ir.Var(ret_name, n.value.dtype if isinstance(n.value, ir.Var) else ""):
                return ()  # returns the variable it works on in place
            return ir.Assign(ret_name, n.value)
        return n

    _check_returns_at_end(callee.body, callee, line)
    body = ir.transform_stmts(callee.body, fn)  # type: ignore[arg-type]
    body = _strip_void_returns(body)
    if ret_name and not target:
        stmts.append(ir.Decl(ret_name, callee.ret_dtype))
    stmts.extend(body)
    return stmts, (ir.Var(ret_name, callee.ret_dtype) if ret_name else ir.Const(0))


def _check_returns_at_end(body: tuple[ir.Stmt, ...], callee: ir.Function, line: int) -> None:
    """Returns are only inlinable as the last statement (of the body or of both if-branches)."""
    for i, s in enumerate(body):
        last = i == len(body) - 1
        if isinstance(s, ir.Return) and not last:
            raise ir.UnsupportedConstruct(f"early return in helper '{callee.name}'", line)
        if isinstance(s, ir.If):
            if last:
                _check_returns_at_end(s.then, callee, line)
                _check_returns_at_end(s.orelse, callee, line)
            elif any(isinstance(n, ir.Return) for n in ir.walk(s)):
                raise ir.UnsupportedConstruct(f"early return in helper '{callee.name}'", line)
        elif isinstance(s, (ir.For, ir.While)) and any(isinstance(n, ir.Return) for n in ir.walk(s)):
            raise ir.UnsupportedConstruct(f"return inside a loop of helper '{callee.name}'", line)


def _strip_void_returns(body: tuple[ir.Stmt, ...]) -> tuple[ir.Stmt, ...]:
    def fn(n: ir.Node) -> ir.Node | tuple[()]:
        if isinstance(n, ir.Return) and n.value is None:
            return ()
        return n

    return ir.transform_stmts(body, fn)  # type: ignore[arg-type]
