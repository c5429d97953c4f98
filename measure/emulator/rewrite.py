"""Source rewriting that turns a CUDA/HIP translation unit into C++ for the CPU emulator.

Only the constructs that macros in ``cuda_emu.h`` cannot express are rewritten; everything else is
kept byte for byte, so g++ messages and ``__LINE__`` still point at the user's lines:

* CUDA/HIP runtime includes -> a comment (the prologue includes ``cuda_emu.h`` instead);
* ``k<<<grid, block[, shmem[, stream]]>>>(args)`` and ``hipLaunchKernelGGL(k, grid, block, shmem,
  stream, args)`` -> ``::emu::launch(cfg, [&](auto&&... a) { k(a...); }, args)``. The lambda lets
  template kernels deduce their arguments exactly as a launch does;
* ``__launch_bounds__(n)`` on a kernel definition -> a check of blockDim at the top of its body,
  so an oversized launch fails like on the GPU;
* ``extern __shared__ T s[];`` -> a pointer to the launch's dynamic shared buffer;
* static ``__shared__`` declarations -> followed by ``EMU_NOTE_SHARED(name);`` so the runtime can
  count them against the shared-memory limit and poison them for every block.

The tree-sitter-cuda grammar is used directly: this emulator is the independent check on the
project's translation passes and must not reuse them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter_cuda
from tree_sitter import Language, Node, Parser

PLATFORMS = ("cuda", "hip")

#: Headers of the CUDA / HIP toolkits that the emulator header replaces.
RUNTIME_HEADERS = frozenset(
    {
        "cuda_runtime.h",
        "cuda_runtime_api.h",
        "cuda.h",
        "cuda_fp16.h",
        "cuda_bf16.h",
        "mma.h",
        "device_launch_parameters.h",
        "device_functions.h",
        "vector_types.h",
        "sm_61_intrinsics.h",
        "sm_60_atomic_functions.h",
        "cuda_profiler_api.h",
        "math_constants.h",
    }
)

# tree-sitter-cuda does not know __align__(n); blank it out (same length) before parsing.
_PARSE_MASKS = re.compile(rb"__align__\s*\([^()]*\)")


@dataclass(frozen=True)
class Edit:
    """Replace source bytes [start, end) by ``text`` (start == end inserts)."""

    start: int
    end: int
    text: bytes


@lru_cache(maxsize=1)
def _parser() -> Parser:
    return Parser(Language(tree_sitter_cuda.language()))


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def _text(src: bytes, node: Node) -> bytes:
    return src[node.start_byte : node.end_byte]


def _named(node: Node) -> list[Node]:
    return [c for c in node.named_children if c.type != "comment"]


def _is_runtime_header(path: str) -> bool:
    path = path.strip("<>\"")
    return path in RUNTIME_HEADERS or path.startswith("hip/") or path.startswith("crt/")


def _include_edit(src: bytes, node: Node) -> Edit | None:
    path_node = node.child_by_field_name("path")
    if path_node is None or not _is_runtime_header(_text(src, path_node).decode()):
        return None
    text = _text(src, node)
    newlines = text.count(b"\n")
    comment = b"// emulator: " + text.strip().replace(b"\n", b" ")
    return Edit(node.start_byte, node.end_byte, comment + b"\n" * max(newlines, 1))


def _c_string(text: bytes) -> bytes:
    flat = b" ".join(text.split())
    return b'"' + flat.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _launch_text(src: bytes, kernel: bytes, config: list[bytes], args: bytes) -> bytes:
    cfg = b", ".join([b"__FILE__", b"__LINE__", _c_string(kernel), *config])
    call = b"[&](auto&&... emu_a_) { " + kernel + b"(emu_a_...); }"
    tail = b", " + args if args.strip() else b""
    return b"::emu::launch(::emu::LaunchCfg(" + cfg + b"), " + call + tail + b")"


def _args_text(src: bytes, arg_list: Node, skip: int = 0) -> bytes:
    """Text of the arguments after the first ``skip`` ones, exactly as written."""
    args = _named(arg_list)
    if len(args) <= skip:
        return b""
    return src[args[skip].start_byte : arg_list.end_byte - 1]


def _kernel_call_edit(src: bytes, call: Node) -> Edit | None:
    syntax = next((c for c in call.children if c.type == "kernel_call_syntax"), None)
    callee = call.child_by_field_name("function")
    arg_list = call.child_by_field_name("arguments")
    if syntax is None or callee is None or arg_list is None:
        return None
    config = [_text(src, n) for n in _named(syntax)]
    if not 2 <= len(config) <= 4:
        return None
    text = _launch_text(src, _text(src, callee), config, _args_text(src, arg_list))
    return Edit(call.start_byte, call.end_byte, text)


def _hip_launch_edit(src: bytes, call: Node) -> Edit | None:
    callee = call.child_by_field_name("function")
    arg_list = call.child_by_field_name("arguments")
    if callee is None or arg_list is None or _text(src, callee) != b"hipLaunchKernelGGL":
        return None
    args = _named(arg_list)
    if len(args) < 5:
        return None
    config = [_text(src, n) for n in args[1:5]]
    text = _launch_text(src, _text(src, args[0]), config, _args_text(src, arg_list, skip=5))
    return Edit(call.start_byte, call.end_byte, text)


def _launch_bounds_edit(src: bytes, func: Node) -> Edit | None:
    bounds = next((c for c in func.children if c.type == "launch_bounds"), None)
    body = func.child_by_field_name("body")
    if bounds is None or body is None:
        return None
    params = _text(src, bounds)[len(b"__launch_bounds__") :].strip()
    at = body.start_byte + 1
    return Edit(at, at, b" EMU_LAUNCH_BOUNDS" + params + b";")


def _declared_name(declarator: Node) -> Node | None:
    """Innermost identifier of a (possibly array / pointer / init) declarator."""
    node: Node | None = declarator
    while node is not None and node.type != "identifier":
        node = node.child_by_field_name("declarator")
    return node


def _in_function(node: Node) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.type == "compound_statement":
            return True
        parent = parent.parent
    return False


def _extern_shared_text(src: bytes, decl: Node, in_function: bool) -> bytes | None:
    """``extern __shared__ T name[][N];`` -> pointer to the dynamic shared buffer."""
    type_node = decl.child_by_field_name("type")
    if type_node is None:
        return None
    quals = [
        _text(src, c)
        for c in decl.children
        if c.type == "type_qualifier" and _text(src, c) != b"__shared__"
    ]
    base = b" ".join([*quals, _text(src, type_node)])
    out = []
    for declarator in decl.children_by_field_name("declarator"):
        name = _declared_name(declarator)
        dtext = _text(src, declarator)
        if name is None or declarator.type != "array_declarator":
            return None
        rel = name.start_byte - declarator.start_byte
        rest = dtext[rel + len(_text(src, name)) :].lstrip()
        first = re.match(rb"\[\s*\]", rest)
        if first is None:
            return None
        dims = rest[first.end() :]
        if not in_function:
            if dims.strip():
                return None
            out.append(b"static ::emu::DynShared<" + base + b"> " + _text(src, name) + b";")
            continue
        ptr_type = base + b" (*)" + dims
        out.append(
            base + b" (*const " + _text(src, name) + b")" + dims
            + b" = static_cast<" + ptr_type + b">(::emu::dyn_shared_ptr());"
        )
    return b" ".join(out)


def _shared_edits(src: bytes, decl: Node) -> list[Edit]:
    shared = [c for c in decl.children if c.type == "type_qualifier" and _text(src, c) == b"__shared__"]
    if not shared:
        return []
    storage = [_text(src, c) for c in decl.children if c.type == "storage_class_specifier"]
    in_function = _in_function(decl)
    if b"extern" in storage:
        text = _extern_shared_text(src, decl, in_function)
        return [] if text is None else [Edit(decl.start_byte, decl.end_byte, text)]
    edits = []
    if b"static" in storage:  # `static __shared__`: the macro would say static twice
        q = shared[0]
        edits.append(Edit(q.start_byte, q.end_byte, b" " * (q.end_byte - q.start_byte)))
    if in_function:
        notes = []
        for declarator in decl.children_by_field_name("declarator"):
            name = _declared_name(declarator)
            if name is not None:
                notes.append(b" EMU_NOTE_SHARED(" + _text(src, name) + b");")
        if notes:
            edits.append(Edit(decl.end_byte, decl.end_byte, b"".join(notes)))
    return edits


def collect_edits(src: bytes) -> list[Edit]:
    """All edits for one translation unit, sorted by position, overlapping ones dropped."""
    masked = _PARSE_MASKS.sub(lambda m: b" " * len(m.group(0)), src)
    tree = _parser().parse(masked)
    edits: list[Edit] = []
    for node in _walk(tree.root_node):
        edit: Edit | None = None
        if node.type == "preproc_include":
            edit = _include_edit(src, node)
        elif node.type == "call_expression":
            edit = _kernel_call_edit(src, node) or _hip_launch_edit(src, node)
        elif node.type == "function_definition":
            edit = _launch_bounds_edit(src, node)
        elif node.type == "declaration":
            edits.extend(_shared_edits(src, node))
        if edit is not None:
            edits.append(edit)
    edits.sort(key=lambda e: (e.start, e.end))
    kept: list[Edit] = []
    for e in edits:
        if kept and e.start < kept[-1].end:
            continue  # nested in an edit already made (e.g. a launch inside launch arguments)
        kept.append(e)
    return kept


def apply_edits(src: bytes, edits: list[Edit]) -> bytes:
    out = []
    pos = 0
    for e in edits:
        out.append(src[pos : e.start])
        out.append(e.text)
        pos = e.end
    out.append(src[pos:])
    return b"".join(out)


def prologue(platform: str) -> str:
    """Lines put before the user's source: platform macro, the runtime header, line reset."""
    lines = []
    if platform == "hip":
        lines.append("#ifndef EMU_PLATFORM_HIP\n#define EMU_PLATFORM_HIP 1\n#endif")
    lines.append('#include "cuda_emu.h"')
    lines.append("#line 1")
    return "\n".join(lines) + "\n"


def prepare_source(text: str, platform: str) -> str:
    """C++ source that g++ compiles against ``cuda_emu.h`` (see ``compile_command``)."""
    if platform not in PLATFORMS:
        raise ValueError(f"emulator platform must be one of {PLATFORMS}, not {platform!r}")
    src = text.encode()
    body = apply_edits(src, collect_edits(src)).decode()
    return prologue(platform) + body
