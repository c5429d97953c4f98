"""A canonical hash of the program a candidate produces, and a de-duplicator built on it.

Why hash the *result* and not the (sequence, params): many routes reach one program (two splits
in either order, a mutation that re-draws an equivalent configuration, a source that names its
loop variables differently), and each measurement costs a compile and a timing run. The hash is
taken on what the compiler will see: the text that ``passes.printer.print_module`` writes for
the target, after

- ``names.uniquify`` of each function (so that sibling scopes reusing a name, and the same nest
  with distinct names, print alike before renaming);
- alpha-renaming, in the module's own functions (not the printer's helper prelude), of every
  *local* name (loop variables, declared scalars and arrays) to
  ``_v0, _v1, ...`` in order of first occurrence in the text. Parameters, function names and
  helpers are the interface and keep their names. Renaming works on the printed tokens, so
  names inside pragmas (``reduction(+:s)``) follow;
- whitespace normalisation (each line stripped, runs of blanks collapsed, empty lines dropped).

The target is part of the hash: one IR printed for two platforms is two programs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Iterable, Union

from passes import ir
from passes.names import uniquify
from passes.printer import print_module

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BLANKS = re.compile(r"[ \t]+")


def canonical_text(program: Union[ir.Module, ir.Function], target: str = "cpu") -> str:
    """The normalised, alpha-renamed text that ``program_hash`` hashes (useful to see why two
    programs hash alike or not)."""
    if isinstance(program, ir.Function):
        module = ir.Module((program,), target)
    else:
        module = program
    module = replace(module, functions=tuple(uniquify(f) for f in module.functions))
    interface = {f.name for f in module.functions} | {
        p.name for f in module.functions for p in f.params}
    local = set().union(*(ir.declared_names(f) for f in module.functions)) - interface
    text = print_module(module, target)
    mapping: dict[str, str] = {}

    def rename(m: re.Match[str]) -> str:
        word = m.group(0)
        if word not in local:
            return word
        if word not in mapping:
            mapping[word] = f"_v{len(mapping)}"
        return mapping[word]

    raw = text.splitlines()
    first = _first_definition(raw, [f.name for f in module.functions])
    lines = [_BLANKS.sub(" ", line if n < first else _IDENT.sub(rename, line)).strip()
             for n, line in enumerate(raw)]
    return "\n".join(line for line in lines if line)


def _first_definition(lines: list[str], names: list[str]) -> int:
    """The line where the module's own code starts: the printer's prelude (includes, helpers
    such as ``min_i32(int a, int b)``) comes before it and uses names of its own, which must
    not be renamed with the locals (a local ``a`` would otherwise be renamed in the helper in
    one program and not in another)."""
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")\s*\(")
    for n, line in enumerate(lines):
        if not line.startswith((" ", "\t", "#")) and pattern.search(line):
            # back up over the pragmas/attributes that belong to the definition
            while n > 0 and lines[n - 1].startswith("#pragma"):
                n -= 1
            return n
    return 0


def program_hash(program: Union[ir.Module, ir.Function], target: str = "cpu") -> str:
    """SHA-256 (hex) of ``target`` and the canonical text of ``program``."""
    digest = hashlib.sha256(f"{target}\n".encode())
    digest.update(canonical_text(program, target).encode())
    return digest.hexdigest()


class Deduplicator:
    """Remembers the hashes of programs already seen (seed it with those already in the records
    when resuming, so that ``autotune resume`` never measures a program twice)."""

    def __init__(self, target: str = "cpu", known: Iterable[str] = ()) -> None:
        self.target = target
        self._seen: set[str] = set(known)

    def hash(self, program: Union[ir.Module, ir.Function]) -> str:
        return program_hash(program, self.target)

    def add(self, program: Union[ir.Module, ir.Function]) -> bool:
        """Record ``program``; ``True`` when it is new, ``False`` when an equal one was seen."""
        h = self.hash(program)
        if h in self._seen:
            return False
        self._seen.add(h)
        return True

    def seen(self, program: Union[ir.Module, ir.Function]) -> bool:
        return self.hash(program) in self._seen

    def __contains__(self, digest: object) -> bool:
        return digest in self._seen

    def __len__(self) -> int:
        return len(self._seen)
