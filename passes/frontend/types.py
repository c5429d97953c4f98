"""C/CUDA/HIP type spellings -> IR dtypes, and declarator shapes (pointer, array, qualifiers).

Why: the IR names types by short dtype strings (``f32``, ``m512i``...). Every declaration,
parameter, cast and ``sizeof`` goes through ``dtype_of_spelling`` so that one table decides which
types exist; anything outside it (``float4``, structs, templates) is rejected with its line.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from passes import ir
from passes.frontend.cst import fail, field, text

_WORDS: dict[tuple[str, ...], str] = {
    ("float",): "f32", ("double",): "f64", ("int",): "i32", ("signed",): "i32",
    ("signed", "int"): "i32", ("unsigned",): "u32", ("unsigned", "int"): "u32",
    ("long",): "i64", ("long", "int"): "i64", ("signed", "long"): "i64",
    ("unsigned", "long"): "u64", ("unsigned", "long", "int"): "u64",
    ("long", "long"): "i64", ("long", "long", "int"): "i64", ("signed", "long", "long"): "i64",
    ("unsigned", "long", "long"): "u64", ("unsigned", "long", "long", "int"): "u64",
    ("short",): "i16", ("short", "int"): "i16", ("signed", "short"): "i16",
    ("unsigned", "short"): "u16", ("unsigned", "short", "int"): "u16",
    ("char",): "i8", ("signed", "char"): "i8", ("unsigned", "char"): "u8",
    ("bool",): "bool", ("_Bool",): "bool",
}

_NAMES: dict[str, str] = {
    "size_t": "u64", "ssize_t": "i64", "ptrdiff_t": "i64", "uintptr_t": "u64", "intptr_t": "i64",
    "int8_t": "i8", "uint8_t": "u8", "int16_t": "i16", "uint16_t": "u16",
    "int32_t": "i32", "uint32_t": "u32", "int64_t": "i64", "uint64_t": "u64",
    "half": "f16", "__half": "f16", "_Float16": "f16",
    "__nv_bfloat16": "bf16", "hip_bfloat16": "bf16", "__bf16": "bf16",
    "__m512": "m512", "__m512i": "m512i", "__m512d": "m512d", "__m256": "m256",
    "__m256i": "m256i", "__m256d": "m256d", "__m128": "m128", "__m128i": "m128i", "__m128d": "m128d",
    "__mmask8": "mask8", "__mmask16": "mask16", "__mmask32": "mask32", "__mmask64": "mask64",
}

_VECTOR_STRUCTS = tuple(
    f"{base}{n}" for base in ("float", "double", "int", "uint", "char", "uchar", "short", "ushort",
                              "long", "ulong", "longlong", "ulonglong", "half", "__half", "bfloat16",
                              "__nv_bfloat16")
    for n in (1, 2, 3, 4)
)

_REJECTED_KINDS = {
    "struct_specifier": "struct", "union_specifier": "union", "enum_specifier": "enum",
    "class_specifier": "class", "template_type": "template type", "qualified_identifier":
    "qualified type name", "placeholder_type_specifier": "auto", "decltype": "decltype",
}


def is_type_name(spelling: str) -> bool:
    """Whether ``spelling`` names a type the IR knows (``__mmask16``, ``uint8_t``, ``half``...)."""
    words = tuple(spelling.split())
    return words in _WORDS or (len(words) == 1 and words[0] in _NAMES)


def dtype_of_spelling(spelling: str, node: Node) -> str:
    """dtype of a type name such as ``unsigned long long`` or ``__m512i`` (``void`` allowed)."""
    words = tuple(spelling.split())
    if words == ("void",):
        return "void"
    if words in _WORDS:
        return _WORDS[words]
    if len(words) == 1 and words[0] in _NAMES:
        return _NAMES[words[0]]
    if len(words) == 1 and words[0] in _VECTOR_STRUCTS:
        fail(f"vector type '{spelling}'", node, "CUDA vector structs are not in the IR")
    if words == ("long", "double"):
        fail("type 'long double'", node)
    fail(f"type '{spelling}'", node)


def base_dtype(type_node: Node) -> str:
    """dtype of the ``type`` field of a declaration, parameter or type descriptor."""
    if type_node.type in _REJECTED_KINDS:
        fail(_REJECTED_KINDS[type_node.type], type_node, text(type_node)[:40])
    if type_node.type in ("primitive_type", "type_identifier", "sized_type_specifier"):
        return dtype_of_spelling(text(type_node), type_node)
    fail(f"type '{text(type_node)[:40]}'", type_node)


def dtype_size(dtype: str) -> int:
    """Size in bytes (what ``sizeof`` returns)."""
    return ir.DTYPE_BITS[dtype] // 8


@dataclass(frozen=True)
class Declarator:
    """What a declarator adds to a base type: the name, pointer-ness, array sizes (CST nodes,
    evaluated by the caller since they may use ``#define`` constants), qualifiers."""

    name: str
    name_node: Node
    pointer: bool = False
    pointer_const: bool = False
    restrict: bool = False
    sizes: tuple[Node | None, ...] = ()


def unwrap_declarator(node: Node) -> Declarator:
    """Walk pointer/array/parenthesised declarators down to the identifier."""
    pointer = restrict = pointer_const = False
    sizes: list[Node | None] = []
    cur: Node | None = node
    while cur is not None:
        if cur.type == "identifier":
            return Declarator(text(cur), cur, pointer, pointer_const, restrict, tuple(reversed(sizes)))
        if cur.type == "pointer_declarator":
            if pointer:
                fail("pointer to pointer", cur)
            if sizes:
                fail("array of pointers", cur)
            pointer = True
            for child in cur.children:
                if child.type == "type_qualifier":
                    q = text(child)
                    if q in ("__restrict__", "restrict", "__restrict"):
                        restrict = True
                    elif q == "const":
                        pointer_const = True
                    else:
                        fail(f"qualifier '{q}'", child)
            cur = field(cur, "declarator")
        elif cur.type == "array_declarator":
            if pointer:
                fail("pointer to array", cur)
            sizes.append(field(cur, "size"))
            cur = field(cur, "declarator")
        elif cur.type == "reference_declarator":
            fail("reference", cur)
        elif cur.type == "function_declarator":
            fail("function pointer or nested function declarator", cur)
        elif cur.type == "parenthesized_declarator":
            fail("parenthesised declarator", cur)
        else:
            fail(f"declarator '{cur.type}'", cur)
    raise AssertionError("declarator without identifier")


def abstract_pointer(descriptor: Node) -> bool:
    """True when a type descriptor (in a cast) is a pointer type such as ``const int*``."""
    decl = field(descriptor, "declarator")
    if decl is None:
        return False
    if decl.type != "abstract_pointer_declarator":
        fail(f"type '{text(descriptor)}'", descriptor)
    if field(decl, "declarator") is not None:
        fail("pointer to pointer", descriptor)
    return True
