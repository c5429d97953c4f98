"""Numeric and character literals -> ``ir.Const`` with the dtype C gives them.

Why: the dtype of a literal decides the arithmetic around it (``1.0`` is double, ``1.0f`` float,
``0xffffffff`` unsigned int, ``3000000000`` long), so the C rules are applied exactly here.
"""

from __future__ import annotations

from tree_sitter import Node

from passes import ir
from passes.frontend.cst import fail, text

_I32_MAX = 2**31 - 1
_U32_MAX = 2**32 - 1
_I64_MAX = 2**63 - 1

_ESCAPES = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, "'": 39, '"': 34, "a": 7, "b": 8,
            "f": 12, "v": 11}


def number(node: Node) -> ir.Const:
    """A ``number_literal`` node."""
    raw = text(node).replace("'", "")
    low = raw.lower()
    is_hex = low.startswith("0x")
    if ("." in low or "p" in low if is_hex else "." in low or "e" in low):
        return _float(raw, node)
    body = low.rstrip("ul")
    suffix = low[len(body):]
    if suffix.count("u") > 1 or suffix.replace("u", "") not in ("", "l", "ll"):
        fail(f"literal '{raw}'", node, "unknown suffix")
    try:
        if is_hex:
            value = int(body[2:], 16)
        elif low.startswith("0b"):
            value = int(body[2:], 2)
        elif len(body) > 1 and body.startswith("0"):
            value = int(body[1:], 8)
        else:
            value = int(body, 10)
    except ValueError:
        fail(f"literal '{raw}'", node)
    return ir.Const(value, _int_dtype(value, "u" in suffix, "l" in suffix, not is_hex and
                                      not (len(body) > 1 and body.startswith("0")), node, raw))


def _int_dtype(value: int, unsigned: bool, long: bool, decimal: bool, node: Node, raw: str) -> str:
    """C11 6.4.4.1: the first type of the suffix's list that can represent the value."""
    if unsigned:
        candidates = ["u64"] if long else ["u32", "u64"]
    elif decimal:
        candidates = ["i64"] if long else ["i32", "i64"]
    else:
        candidates = ["i64", "u64"] if long else ["i32", "u32", "i64", "u64"]
    limits = {"i32": _I32_MAX, "u32": _U32_MAX, "i64": _I64_MAX, "u64": 2**64 - 1}
    for dtype in candidates:
        if value <= limits[dtype]:
            return dtype
    fail(f"literal '{raw}'", node, "too large")


def _float(raw: str, node: Node) -> ir.Const:
    low = raw.lower()
    is_hex = low.startswith("0x")
    dtype = "f64"
    if low.endswith("f") and not (is_hex and "p" not in low):
        dtype, low = "f32", low[:-1]
    elif low.endswith("l"):
        fail(f"literal '{raw}'", node, "long double")
    try:
        value = float.fromhex(low) if is_hex else float(low)
    except ValueError:
        fail(f"literal '{raw}'", node)
    return ir.Const(value, dtype)


def char(node: Node) -> ir.Const:
    """A ``char_literal`` such as ``'a'`` or ``'\\n'`` (dtype i8, as in C++)."""
    raw = text(node)
    if raw[:1] != "'" or raw[-1:] != "'":
        fail(f"character literal {raw}", node)
    body = raw[1:-1]
    if len(body) == 1:
        return ir.Const(ord(body), "i8")
    if body.startswith("\\x"):
        return ir.Const(int(body[2:], 16), "i8")
    if body.startswith("\\") and body[1:].isdigit():
        return ir.Const(int(body[1:], 8), "i8")
    if body.startswith("\\") and body[1:] in _ESCAPES:
        return ir.Const(_ESCAPES[body[1:]], "i8")
    fail(f"character literal {raw}", node)
