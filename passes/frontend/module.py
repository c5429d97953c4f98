"""``parse_module``: a whole source file -> ``ir.Module``.

Why: the top level of a file mixes preprocessor lines, ``extern "C"`` blocks, prototypes and
definitions; this module walks them in order, collects signatures first (so that calls and
launches can be typed wherever the callee is defined) and rejects every top-level construct the
IR cannot hold (globals, ``__constant__`` memory, templates, structs).
"""

from __future__ import annotations

from tree_sitter import Node

from passes import ir
from passes.frontend import preproc, wmma
from passes.frontend.context import ModuleContext, Signature
from passes.frontend.cst import check_syntax, fail, field, named, parse_tree, text
from passes.frontend.functions import build_function, called_names, function_name, signature, specifiers

PLATFORMS = ("cpu", "cuda", "hip")
_TOP_REJECTED = {
    "template_declaration": "template", "type_definition": "typedef", "struct_specifier": "struct",
    "class_specifier": "class", "union_specifier": "union", "enum_specifier": "enum",
    "namespace_definition": "namespace", "using_declaration": "using", "alias_declaration": "using",
    "preproc_if": "conditional compilation (#if)", "preproc_ifdef": "conditional compilation (#ifdef)",
    "preproc_function_def": "function-like macro", "static_assert_declaration": "static_assert",
}


def parse_module(source: str, platform: str, filename: str = "<source>") -> ir.Module:
    """Translate one C/CUDA/HIP file. Raises ``ir.UnsupportedConstruct`` (construct + line) for
    anything it cannot represent faithfully; ``filename`` prefixes the error detail."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; expected one of {PLATFORMS}")
    try:
        return _parse(source, platform)
    except ir.UnsupportedConstruct as exc:
        if filename == "<source>":
            raise
        detail = f"{filename}" + (f": {exc.detail}" if exc.detail else "")
        raise ir.UnsupportedConstruct(exc.construct, exc.line, detail) from exc


def _parse(source: str, platform: str) -> ir.Module:
    tree = parse_tree(source)
    check_syntax(tree.root_node)
    items = list(_top_items(tree.root_node))
    ctx = ModuleContext(platform)
    defs = [n for n in items if n.type == "function_definition"]
    calls = {function_name(d): called_names(field(d, "body") or d) - {function_name(d)} for d in defs}
    called = set().union(*calls.values()) if calls else set()
    sigs: list[Signature] = []
    for d in defs:
        sig = signature(d, ctx, _kind(d, platform, called))
        if sig.name in ctx.functions:
            fail(f"second definition of '{sig.name}'", d, "overloading is not supported")
        ctx.functions[sig.name] = sig
        sigs.append(sig)
    includes: list[str] = []
    functions: list[ir.Function] = []
    for node in items:
        if node.type == "function_definition":
            functions.append(build_function(node, ctx, ctx.functions[function_name(node)]))
        elif node.type == "preproc_include":
            name = preproc.include_name(node)
            if name not in includes:
                includes.append(name)
        elif node.type == "preproc_def" or node.type == "preproc_function_def":
            preproc.define(node, ctx)
        elif node.type == "preproc_call":
            _top_directive(node, ctx)
        elif node.type == "declaration":
            _top_declaration(node)
        elif node.type == "using_declaration":
            wmma.using(node, platform, ctx.wmma_namespaces)
        elif node.type in _TOP_REJECTED:
            fail(_TOP_REJECTED[node.type], node, text(node)[:40])
        elif node.type not in ("comment", "expression_statement") or named(node):
            fail(f"top-level '{node.type}'", node, text(node)[:40])
    return ir.Module(tuple(functions), platform, tuple(includes))


def _top_items(root: Node) -> list[Node]:
    """Top-level nodes, looking inside ``extern "C"`` and include guards."""
    out: list[Node] = []
    for node in named(root):
        if node.type == "linkage_specification":
            body = field(node, "body")
            if body is None:
                continue
            out.extend(_top_items(body) if body.type == "declaration_list" else [body])
        elif node.type == "preproc_ifdef" and preproc.is_include_guard(node):
            inner = [c for c in named(node) if c != field(node, "name")][1:]
            for c in inner:
                out.extend(_top_items(c) if c.type == "linkage_specification" else [c])
        else:
            out.append(node)
    return out


def _kind(node: Node, platform: str, called: set[str]) -> str:
    spec = specifiers(node)
    if "__global__" in spec:
        return ir.KERNEL
    if "__device__" in spec:
        return ir.DEVICE
    if "__host__" in spec or platform != "cpu":
        return ir.HOST
    return ir.DEVICE if function_name(node) in called else ir.KERNEL


def _top_directive(node: Node, ctx: ModuleContext) -> None:
    directive = preproc.directive(node)
    if directive == "#pragma" and preproc.pragma_text(node) == "once":
        return
    if directive == "#undef":
        preproc.undef(node, ctx)
        return
    fail(f"{directive} {preproc.pragma_text(node)}".strip(), node)


def _top_declaration(node: Node) -> None:
    """Prototypes are fine (definitions carry the signature); variables are not."""
    decls = node.children_by_field_name("declarator")
    if decls and all(d.type == "function_declarator" for d in decls):
        return
    quals = {text(c) for c in node.children if c.type in ("type_qualifier", "storage_class_specifier")}
    what = "__constant__ variable" if "__constant__" in quals else "global variable"
    fail(what, node, text(node)[:40])
