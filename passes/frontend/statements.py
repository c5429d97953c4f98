"""Statements: CST statements -> IR statements (declarations, assignments, control flow).

Why: the IR's statements are fewer and more regular than C's: compound assignments and ``i++``
are desugared, nested blocks are flattened (names are made unique instead), pragmas become loop
kinds, barriers become ``Sync``. Anything that has no faithful IR form raises with its line.
"""

from __future__ import annotations

from tree_sitter import Node

from passes import ir
from passes.frontend import preproc, wmma
from passes.frontend.context import ModuleContext, Signature
from passes.frontend.cst import fail, field, line, named, need_field, text
from passes.frontend.declarations import declaration
from passes.frontend.expressions import ExprBuilder
from passes.frontend.scope import BUFFER, DIM3, POINTER, SCALAR, Scopes

COMPOUND_OPS = {"+=": "+", "-=": "-", "*=": "*", "/=": "/", "%=": "%", "<<=": "<<", ">>=": ">>",
                "&=": "&", "|=": "|", "^=": "^"}

_REJECTED = {
    "do_statement": "do-while loop", "switch_statement": "switch", "goto_statement": "goto",
    "labeled_statement": "label", "type_definition": "typedef", "try_statement": "try",
    "throw_statement": "throw", "preproc_if": "conditional compilation (#if)",
    "preproc_ifdef": "conditional compilation (#ifdef)", "preproc_function_def": "function-like macro",
    "struct_specifier": "struct", "class_specifier": "class", "union_specifier": "union",
    "alias_declaration": "using", "using_declaration": "using", "template_declaration": "template",
    "gnu_asm_expression": "inline assembly", "static_assert_declaration": "static_assert",
}


class StmtBuilder(ExprBuilder):
    """Translates the body of one function."""

    def __init__(self, ctx: ModuleContext, fn: Signature, scopes: Scopes):
        super().__init__(ctx, fn, scopes)
        self.loop_vars: set[str] = set()  # IR names of the loops being translated

    # -------------------------------------------------------------- blocks

    def block(self, node: Node) -> list[ir.Stmt]:
        """A statement or a ``{...}`` block, in a scope of its own."""
        self.scopes.push()
        try:
            if node.type == "compound_statement":
                return self.statements(named(node))
            return self.statements([node])
        finally:
            self.scopes.pop()

    def statements(self, nodes: list[Node]) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        pragma: Node | None = None
        for node in nodes:
            if node.type == "preproc_call" and preproc.directive(node) == "#pragma":
                if pragma is not None:
                    fail(f"#pragma {preproc.pragma_text(pragma)}", pragma, "two pragmas before one statement")
                pragma = node
                continue
            if pragma is not None:
                if node.type != "for_statement":
                    fail(f"#pragma {preproc.pragma_text(pragma)}", pragma, "not followed by a for loop")
                out.extend(self.for_loop(node, pragma))
                pragma = None
                continue
            out.extend(self.statement(node))
        if pragma is not None:
            fail(f"#pragma {preproc.pragma_text(pragma)}", pragma, "not followed by a for loop")
        return out

    def statement(self, node: Node) -> list[ir.Stmt]:
        kind = node.type
        if kind == "compound_statement":
            return self.block(node)
        if kind == "declaration":
            return declaration(self, node)
        if kind == "expression_statement":
            inner = named(node)
            return self.expression_statement(inner[0]) if inner else []
        if kind == "if_statement":
            return [self.if_statement(node)]
        if kind == "for_statement":
            return self.for_loop(node, None)
        if kind == "while_statement":
            cond = self.condition(need_field(node, "condition"))
            return [ir.While(cond, tuple(self.block(need_field(node, "body"))), line=line(node))]
        if kind == "return_statement":
            values = named(node)
            return [ir.Return(self.expr(values[0]) if values else None)]
        if kind == "break_statement":
            return [ir.Break()]
        if kind == "continue_statement":
            return [ir.Continue()]
        if kind == "comment":
            return []
        if kind == "preproc_def":
            preproc.define(node, self.ctx)
            return []
        if kind == "using_declaration":
            wmma.using(node, self.ctx.platform, self.wmma_namespaces)
            return []
        if kind == "preproc_call" and preproc.directive(node) == "#undef":
            preproc.undef(node, self.ctx)
            return []
        fail(_REJECTED.get(kind, f"statement '{kind}'"), node, text(node)[:40])

    def condition(self, node: Node) -> ir.Expr:
        if node.type == "condition_clause":
            if field(node, "initializer") is not None:
                fail("declaration in a condition", node)
            value = need_field(node, "value")
            if value.type == "declaration":
                fail("declaration in a condition", node)
            return self.expr(value)
        return self.expr(node)

    def if_statement(self, node: Node) -> ir.If:
        if any(c.type == "constexpr" for c in node.children):
            fail("if constexpr", node)
        cond = self.condition(need_field(node, "condition"))
        then = tuple(self.block(need_field(node, "consequence")))
        alt = field(node, "alternative")
        orelse: tuple[ir.Stmt, ...] = ()
        if alt is not None:
            body = named(alt)[0] if alt.type == "else_clause" else alt
            orelse = tuple(self.block(body))
        return ir.If(cond, then, orelse, line=line(node))

    # -------------------------------------------------------------- assignments and calls

    def expression_statement(self, node: Node) -> list[ir.Stmt]:
        if node.type == "assignment_expression":
            op = text(need_field(node, "operator"))
            if op != "=" and op not in COMPOUND_OPS:
                fail(f"operator '{op}'", node)
            return [self.assign(need_field(node, "left"), op, need_field(node, "right"), node)]
        if node.type == "update_expression":
            op = text(need_field(node, "operator"))
            return [self.assign(need_field(node, "argument"), "+=" if op == "++" else "-=", None, node)]
        if node.type == "call_expression":
            return self.call_statement(node)
        if node.type == "comma_expression":
            fail("comma expression", node)
        fail("expression statement without effect", node, text(node)[:40])

    def assign(self, target: Node, op: str, value_node: Node | None, node: Node) -> ir.Stmt:
        """``target op value`` (``value_node`` None: increment/decrement by one)."""
        while target.type == "parenthesized_expression":
            target = named(target)[0]
        if target.type == "identifier":
            return self._assign_name(target, op, value_node, node)
        value = self.expr(value_node) if value_node is not None else ir.Const(1)
        ptr = self.element(target)
        if self.kind == "host":
            fail("buffer access in a host function", node)
        if op != "=":
            value = ir.BinOp(COMPOUND_OPS[op], ir.Load(ptr.buffer, ptr.indices, ptr.view), value)
        return ir.Store(ptr.buffer, ptr.indices, value, ptr.view)

    def _assign_name(self, target: Node, op: str, value_node: Node | None, node: Node) -> ir.Stmt:
        name = text(target)
        sym = self.scopes.lookup(name)
        if sym is None or name in self.ctx.defines:
            fail(f"assignment to '{name}'", target, "not a variable of this function")
        if sym.kind == POINTER:
            fail(f"pointer arithmetic on local pointer '{name}'", node)
        if sym.kind == BUFFER:
            fail(f"pointer arithmetic on parameter '{name}'", node)
        if sym.kind == DIM3:
            fail(f"assignment to dim3 variable '{name}'", node)
        if sym.kind != SCALAR:
            fail(f"assignment to array '{name}'", node)
        if sym.name in self.loop_vars:
            fail(f"assignment to loop variable '{name}' inside its loop", node)
        self.scopes.check_assign(sym.name, line(node))
        value = self.expr(value_node) if value_node is not None else ir.Const(1)
        if op != "=":
            value = ir.BinOp(COMPOUND_OPS[op], ir.Var(sym.name, sym.dtype), value)
        return ir.Assign(sym.name, value)

    def call_statement(self, node: Node) -> list[ir.Stmt]:
        from passes.frontend.launch import is_launch, launch_statement

        if is_launch(node):
            return [launch_statement(self, node)]
        fn = need_field(node, "function")
        args = named(need_field(node, "arguments"))
        name = text(fn) if fn.type == "identifier" else ""
        if name in ("__syncthreads", "__syncwarp") and self.ctx.platform in ("cuda", "hip"):
            if self.kind not in ("kernel", "device"):
                fail(f"{name} outside device code", node)
            if name == "__syncthreads" and not args:
                return [ir.Sync("block", line=line(node))]
            if name == "__syncwarp" and (not args or text(args[0]).lower().rstrip("u") == "0xffffffff"):
                return [ir.Sync("warp", line=line(node))]
            fail(f"{name} with arguments", node)
        return [ir.ExprStmt(self.expr(node))]

    # -------------------------------------------------------------- loops

    def for_loop(self, node: Node, pragma: Node | None) -> list[ir.Stmt]:
        from passes.frontend.loops import for_statement

        return for_statement(self, node, pragma)
