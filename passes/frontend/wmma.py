"""WMMA in CUDA sources: ``using namespace nvcuda;``, fragment declarations and the four calls.

Why a module of its own: WMMA is the one C++ library the front end reads. Its names may be spelled
``nvcuda::wmma::x``, ``wmma::x`` (after ``using namespace nvcuda;``) or ``x`` (after ``using
namespace nvcuda::wmma;``); fragments are template types; the calls take fragments by reference.
This module resolves those spellings to the IR form documented in ``passes/wmma.py`` (fragment
dtype strings, canonical ``wmma::`` call names, pointers as ``AddressOf``) and checks what nvcc
would check (operand kinds, element types of the memory, layouts), so that a kernel the front end
accepts is one the printers and the lowering can handle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tree_sitter import Node

from passes import ir
from passes import wmma as W
from passes.frontend.cst import fail, field, named, need_field, text
from passes.frontend.scope import FRAGMENT, Symbol
from passes.frontend.types import base_dtype, unwrap_declarator

if TYPE_CHECKING:
    from passes.frontend.expressions import ExprBuilder

NAMESPACES = ("nvcuda", "nvcuda::wmma")
_NO_NAMESPACE = "spell nvcuda::wmma:: or add 'using namespace nvcuda;'"
FUNCTIONS = ("fill_fragment", "load_matrix_sync", "mma_sync", "store_matrix_sync")


def _flat(name: str) -> str:
    return "".join(name.split()).removeprefix("::")


def using(node: Node, platform: str, namespaces: set[str]) -> None:
    """``using namespace nvcuda;`` / ``nvcuda::wmma`` / ``wmma`` (after ``nvcuda``): record it
    in ``namespaces``. Every other ``using`` is rejected."""
    words = [text(c) for c in node.children if not c.is_named]
    target = [c for c in named(node)]
    if words[:2] != ["using", "namespace"] or len(target) != 1:
        fail("using", node, text(node)[:40])
    name = _flat(text(target[0]))
    if name == "wmma" and "nvcuda" in namespaces:
        name = "nvcuda::wmma"
    if name not in NAMESPACES:
        fail(f"using namespace {name}", node, "only nvcuda and nvcuda::wmma are known")
    if platform != "cuda":
        fail(f"using namespace {name} in {platform} code", node, "WMMA is CUDA only")
    namespaces.add(name)


def resolve(spelled: str, namespaces: set[str]) -> str | None:
    """The WMMA member named by ``spelled`` (``wmma::matrix_a`` -> ``matrix_a``), or None when
    the spelling does not name one in the namespaces in effect."""
    name = _flat(spelled)
    if name.startswith("nvcuda::wmma::"):
        return name[len("nvcuda::wmma::"):]
    if name.startswith("wmma::") and "nvcuda" in namespaces:
        return name[len("wmma::"):]
    if "::" not in name and "nvcuda::wmma" in namespaces:
        return name
    return None


def _namespaces(b: ExprBuilder) -> set[str]:
    return b.wmma_namespaces


# ------------------------------------------------------------------------------ types


def _template_parts(type_node: Node) -> tuple[str, Node] | None:
    """``(qualified name, template_argument_list)`` of a (qualified) template type, else None."""
    prefix = ""
    cur = type_node
    while cur.type == "qualified_identifier":
        scope = field(cur, "scope")
        prefix += (text(scope) if scope is not None else "") + "::"
        name = field(cur, "name")
        if name is None:
            return None
        cur = name
    if cur.type != "template_type":
        return None
    return prefix + text(need_field(cur, "name")), need_field(cur, "arguments")


def is_fragment_type(type_node: Node, b: ExprBuilder) -> bool:
    parts = _template_parts(type_node)
    if parts is None:
        return False
    member = resolve(parts[0], _namespaces(b))
    if member is None and _flat(parts[0]).endswith("fragment") and "wmma" in parts[0]:
        fail(f"type '{parts[0]}'", type_node, _NO_NAMESPACE)
    return member == "fragment"


def fragment_type(type_node: Node, b: ExprBuilder) -> W.FragmentType:
    parts = _template_parts(type_node)
    assert parts is not None
    args = named(parts[1])
    if len(args) not in (5, 6):
        fail("WMMA fragment", type_node, "expects <use, M, N, K, type[, layout]>")
    use = _member(args[0], b, W.USES, "fragment use")
    m, n, k = (_int_arg(a, b) for a in args[1:4])
    if args[4].type != "type_descriptor":
        fail("WMMA fragment element type", args[4], text(args[4]))
    elem = base_dtype(need_field(args[4], "type"))
    layout = None
    if len(args) == 6:
        layout = _member(args[5], b, W.LAYOUTS, "fragment layout")
    if use == "accumulator" and layout is not None:
        fail("WMMA accumulator with a layout", type_node, "accumulators take their layout at load/store")
    if use != "accumulator" and layout is None:
        fail(f"WMMA {use} without a layout", type_node, "give wmma::row_major or wmma::col_major")
    ft = W.FragmentType(use, m, n, k, elem, layout)
    why = W.check_supported(ft)
    if why:
        fail(why, type_node)
    return ft


def _member(node: Node, b: ExprBuilder, allowed: tuple[str, ...], what: str) -> str:
    inner = need_field(node, "type") if node.type == "type_descriptor" else node
    member = resolve(text(inner), _namespaces(b))
    if member is None and "::" in text(inner):
        fail(f"WMMA {what} '{text(node)}'", node, _NO_NAMESPACE)
    if member not in allowed:
        fail(f"WMMA {what} '{text(node)}'", node, f"expects one of {', '.join(allowed)}")
    return member


def _int_arg(node: Node, b: ExprBuilder) -> int:
    if node.type == "type_descriptor":  # a #define'd size reads as a type name
        name = text(node).strip()
        value = b.ctx.defines.get(name)
        if value is None or not isinstance(value, ir.Const) or not isinstance(value.value, int):
            fail(f"WMMA fragment size '{name}'", node, "not an integer constant")
        return int(value.value)
    return b.const_int(node)


def fragment_declaration(b: ExprBuilder, node: Node) -> list[ir.Stmt]:
    """``wmma::fragment<...> a, b;`` -> one ``Decl`` per fragment (no initialiser, no array)."""
    if b.kind not in ("kernel", "device"):
        fail("WMMA fragment outside device code", node)
    ft = fragment_type(need_field(node, "type"), b)
    out: list[ir.Stmt] = []
    for decl_node in node.children_by_field_name("declarator"):
        if decl_node.type != "identifier":
            d = unwrap_declarator(decl_node) if decl_node.type != "init_declarator" else None
            what = "initialised" if d is None else ("array of" if d.sizes else "pointer to")
            fail(f"{what} WMMA fragment", decl_node, text(decl_node)[:40])
        sym = b.declare(decl_node, Symbol(FRAGMENT, text(decl_node), ft.dtype))
        b.env[sym.name] = ft.dtype
        out.append(ir.Decl(sym.name, ft.dtype))
    return out


# ------------------------------------------------------------------------------ calls


def call_name(fn_node: Node, b: ExprBuilder) -> str | None:
    """The canonical ``wmma::`` name of a call to a WMMA function, else None."""
    if fn_node.type not in ("identifier", "qualified_identifier"):
        return None
    member = resolve(text(fn_node), _namespaces(b))
    if member in FUNCTIONS:
        return "wmma::" + member
    if member is None and fn_node.type == "qualified_identifier" and "wmma" in text(fn_node):
        fail(f"call of '{text(fn_node)}'", fn_node, "unknown WMMA function, or " + _NO_NAMESPACE)
    if member is not None and fn_node.type == "qualified_identifier":
        fail(f"WMMA function '{member}'", fn_node, f"supported: {', '.join(FUNCTIONS)}")
    return None


def call(b: ExprBuilder, name: str, args: list[Node], node: Node) -> ir.Call:
    if b.ctx.platform != "cuda":
        fail(f"{name} in {b.ctx.platform} code", node, "WMMA is CUDA only")
    if b.kind not in ("kernel", "device"):
        fail(f"{name} outside device code", node)
    if name == W.FILL:
        _arity(name, args, 2, node)
        frag, _ = _fragment(b, args[0])
        return ir.Call(name, (frag, b.expr(args[1])), "void")
    if name == W.MMA:
        if len(args) == 5:
            fail(f"{name} with satfinite", node, "only the four-operand form is supported")
        _arity(name, args, 4, node)
        frags = [_fragment(b, a) for a in args]
        uses = tuple(ft.use for _, ft in frags)
        if uses != ("accumulator", "matrix_a", "matrix_b", "accumulator"):
            fail(f"{name} with fragments ({', '.join(uses)})", node,
                 "expects (accumulator, matrix_a, matrix_b, accumulator)")
        return ir.Call(name, tuple(v for v, _ in frags), "void")
    if name == W.LOAD:
        if not args:
            _arity(name, args, 3, node)
        frag, ft = _fragment(b, args[0])
        want = 4 if ft.use == "accumulator" else 3
        _arity(name, args, want, node)
        ptr = _pointer(b, args[1], ft, name)
        rest: tuple[ir.Expr, ...] = (b.expr(args[2]),)
        if want == 4:
            rest += (_mem_layout(b, args[3]),)
        return ir.Call(name, (frag, ptr, *rest), "void")
    assert name == W.STORE
    _arity(name, args, 4, node)
    frag, ft = _fragment(b, args[1])
    if ft.use != "accumulator":
        fail(f"{name} of a {ft.use} fragment", args[1], "only accumulators can be stored")
    ptr = _pointer(b, args[0], ft, name)
    return ir.Call(name, (ptr, frag, b.expr(args[2]), _mem_layout(b, args[3])), "void")


def _arity(name: str, args: list[Node], n: int, node: Node) -> None:
    if len(args) != n:
        fail(f"call to '{name}'", node, f"expects {n} arguments here, got {len(args)}")


def _fragment(b: ExprBuilder, node: Node) -> tuple[ir.Var, W.FragmentType]:
    sym = b.scopes.lookup(text(node)) if node.type == "identifier" else None
    if sym is None or sym.kind != FRAGMENT:
        fail("WMMA operand that is not a fragment variable", node, text(node)[:40])
    return ir.Var(sym.name, sym.dtype), W.FragmentType.parse(sym.dtype)


def _pointer(b: ExprBuilder, node: Node, ft: W.FragmentType, name: str) -> ir.AddressOf:
    ptr = b.pointer(node)
    if ptr.view is not None or not ptr.at_element:
        fail(f"{name}: pointer cast or array row", node, "pass a pointer to an element")
    if ptr.elem != ft.elem:
        fail(f"{name}: {ptr.elem} memory with a {ft.elem} fragment", node,
             "the memory must have the fragment's element type")
    return ir.AddressOf(ptr.buffer, ptr.indices)


def _mem_layout(b: ExprBuilder, node: Node) -> ir.Var:
    member = resolve(text(node), _namespaces(b)) if node.type in ("identifier", "qualified_identifier") \
        else None
    if member not in ("mem_row_major", "mem_col_major"):
        fail(f"WMMA layout '{text(node)[:40]}'", node,
             "expects wmma::mem_row_major or wmma::mem_col_major (" + _NO_NAMESPACE + ")")
    return ir.Var(f"wmma::{member}")
