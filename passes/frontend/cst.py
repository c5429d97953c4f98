"""Tree-sitter helpers: one shared parser, node text and lines, and syntax-error detection.

Why a module of its own: every other front-end module needs the same three facts about a
concrete-syntax node (its text, its 1-based line, its named children), and the error policy
(``UnsupportedConstruct`` naming the construct and the line) must be the same everywhere.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NoReturn

import tree_sitter_cuda
from tree_sitter import Language, Node, Parser, Tree

from passes import ir


@lru_cache(maxsize=1)
def _parser() -> Parser:
    return Parser(Language(tree_sitter_cuda.language()))


def parse_tree(text: str) -> Tree:
    """Parse ``text`` (C, CUDA or HIP: one grammar covers the three).

    The grammar is C++'s, so ``a < b && c >= d`` can be read as the template ``a<b && c>``
    followed by ``= d``. Kernels use no templates (the front end rejects them), so every
    template call whose name is a plain identifier is such a misreading: the name is put in
    parentheses, which cannot start a template, and the text is parsed again (same lines)."""
    data = text.encode("utf-8")
    for _ in range(64):
        tree = _parser().parse(data)
        name = _misread_comparison(tree.root_node)
        if name is None:
            return tree
        data = data[:name.start_byte] + b"(" + data[name.start_byte:name.end_byte] + b")" + \
            data[name.end_byte:]
    return tree


_TEMPLATE_NAMES = frozenset({"static_cast", "reinterpret_cast", "const_cast", "dynamic_cast"})


def _misread_comparison(root: Node) -> Node | None:
    """The name node of the first ``template_function`` inside a function body, if any."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "template_function":
            name = node.child_by_field_name("name")
            if (name is not None and name.type == "identifier" and name.text is not None
                    and name.text.decode() not in _TEMPLATE_NAMES and _inside_body(node)):
                return name
        stack.extend(reversed(node.children))
    return None


def _inside_body(node: Node) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.type == "compound_statement":
            return True
        parent = parent.parent
    return False


def text(node: Node) -> str:
    raw = node.text
    return raw.decode("utf-8") if raw is not None else ""


def line(node: Node) -> int:
    """1-based line of the first character of ``node``."""
    return node.start_point[0] + 1


def field(node: Node, name: str) -> Node | None:
    return node.child_by_field_name(name)


def need_field(node: Node, name: str) -> Node:
    child = node.child_by_field_name(name)
    if child is None:
        fail(node.type, node, f"missing {name}")
    return child


def named(node: Node) -> list[Node]:
    """Named children without comments (comments can sit anywhere in the tree)."""
    return [c for c in node.named_children if c.type != "comment"]


def fail(construct: str, node: Node | None, detail: str = "") -> NoReturn:
    """Raise the front end's one error type, located at ``node``."""
    raise ir.UnsupportedConstruct(construct, line(node) if node is not None else 0, detail)


def check_syntax(root: Node) -> None:
    """Raise on the first ERROR or MISSING node: tree-sitter recovers from syntax errors by
    inventing nodes, and translating a recovered tree would silently change the program."""
    if not root.has_error:
        return
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "ERROR":
            fail("syntax error", node, f"cannot parse {text(node)[:40]!r}")
        if node.is_missing:
            where = node.prev_sibling or node  # a missing token sits where the next one starts
            raise ir.UnsupportedConstruct("syntax error", where.end_point[0] + 1, f"missing {node.type!r}")
        if node.has_error:
            stack.extend(reversed(node.children))
    fail("syntax error", root)


def parse_expression(source: str) -> Node | None:
    """Parse ``source`` alone as an expression (a ``#define`` value, a pragma argument, the
    arguments of ``dim3 g(A, B)`` that the grammar took for parameter types). None if it is not
    one."""
    tree = parse_tree(f"int __expression_probe = ({source});\n")
    if tree.root_node.has_error:
        return None
    decl = tree.root_node.named_children[0]
    init_decl = decl.child_by_field_name("declarator")
    value = init_decl.child_by_field_name("value") if init_decl is not None else None
    return value
