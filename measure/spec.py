"""Kernel specs: the TOML sidecar that says how to call a kernel and what it must compute.

A kernel source cannot tell us the sizes of its buffers, which arguments it writes, or what the
right answer is; the spec does. It sits beside the kernel as ``KERNEL.toml`` (for example
``relu.cu.toml``) or ``STEM.toml``. Example::

    entry = "relu"                 # the __global__ kernel, or the C function
    [dims]
    N = 1000
    [[args]]
    name = "x"
    dtype = "f32"
    shape = ["N"]
    role = "input"                 # input | output | inout | scalar
    range = [-4.0, 4.0]            # optional: where random inputs are drawn
    [[args]]
    name = "n"
    dtype = "i32"
    role = "scalar"
    value = "N"
    [launch]                       # GPU kernels whose file has no host launcher
    grid = ["(N + 255) / 256", 1, 1]
    block = [256, 1, 1]
    [reference]
    operator = "relu"              # a corpus operator with a numpy reference ...
    # source = "relu.c"            # ... or another kernel (with its own spec) taken as the truth
    [tolerance]                    # optional, floats only (integers compare exactly)
    rtol = 1e-4
    atol = 1e-5
    [shapes.large]                 # optional: more shapes, each overriding some dims
    N = 4000000

``[dims]`` is the shape called ``default`` (the one ``verify`` uses unless told otherwise); a
shape called ``large`` is the one benchmarks time.

The ``[[args]]`` tables list the entry function's parameters in order. Every mistake gets a
``SpecError`` that says what to write.
"""

from __future__ import annotations

import ast
import operator
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Union

from passes.ir import FLOAT_DTYPES, INT_DTYPES
from passes.simplify import c_div

ROLES = ("input", "output", "inout", "scalar")
ARG_DTYPES = ("bool",) + INT_DTYPES + FLOAT_DTYPES
PLATFORM_OF_SUFFIX = {".c": "cpu", ".cc": "cpu", ".cpp": "cpu", ".cu": "cuda", ".hip": "hip"}


class SpecError(ValueError):
    """A missing or inconsistent spec; the message says what to write."""


@dataclass(frozen=True)
class ArgSpec:
    name: str
    dtype: str
    role: str
    shape: tuple[str, ...] = ()
    value: Union[str, None] = None  # scalars: an expression over dims
    range: Union[tuple[float, float], None] = None

    @property
    def is_buffer(self) -> bool:
        return self.role != "scalar"

    @property
    def is_output(self) -> bool:
        return self.role in ("output", "inout")

    @property
    def is_input(self) -> bool:
        return self.role in ("input", "inout")


@dataclass(frozen=True)
class LaunchSpec:
    grid: tuple[str, str, str]
    block: tuple[str, str, str]


@dataclass(frozen=True)
class KernelSpec:
    """A parsed spec. ``path`` is where it was read from (``None`` when built in memory)."""

    entry: str
    args: tuple[ArgSpec, ...]
    dims: Mapping[str, int] = field(default_factory=dict)
    launch: Union[LaunchSpec, None] = None
    operator: Union[str, None] = None
    operator_params: Mapping[str, Any] = field(default_factory=dict)
    reference_source: Union[str, None] = None
    rtol: Union[float, None] = None
    atol: Union[float, None] = None
    path: Union[Path, None] = None
    shapes: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def arg(self, name: str) -> ArgSpec:
        for a in self.args:
            if a.name == name:
                return a
        raise SpecError(f"the spec has no argument named {name!r}")

    def shape_of(self, arg: ArgSpec) -> tuple[int, ...]:
        """Concrete shape of a buffer argument under this spec's dims."""
        return tuple(int(eval_dim_expr(s, self.dims)) for s in arg.shape)

    def size_of(self, arg: ArgSpec) -> int:
        n = 1
        for s in self.shape_of(arg):
            n *= s
        return n

    def scalar_values(self) -> dict[str, Union[int, float]]:
        """Values of the scalar arguments, evaluated from their expressions over dims."""
        out: dict[str, Union[int, float]] = {}
        for a in self.args:
            if a.role == "scalar":
                assert a.value is not None
                v = eval_dim_expr(a.value, self.dims)
                out[a.name] = float(v) if a.dtype in FLOAT_DTYPES else int(v)
        return out

    def launch_geometry(self) -> Union[tuple[tuple[int, int, int], tuple[int, int, int]], None]:
        """Concrete (grid, block) from ``[launch]``, or ``None`` when the spec has none."""
        if self.launch is None:
            return None
        env = {**self.dims, **self.scalar_values()}
        grid = tuple(int(eval_dim_expr(g, env)) for g in self.launch.grid)
        block = tuple(int(eval_dim_expr(b, env)) for b in self.launch.block)
        return (grid[0], grid[1], grid[2]), (block[0], block[1], block[2])

    def with_dims(self, **dims: int) -> KernelSpec:
        return replace(self, dims={**self.dims, **dims})

    def shape_names(self) -> list[str]:
        """``default`` (the ``[dims]`` table) followed by the ``[shapes.*]`` names."""
        return ["default", *self.shapes]

    def with_shape(self, name: str) -> KernelSpec:
        """This spec at shape ``name`` (``default`` is ``[dims]`` itself)."""
        if name == "default":
            return self
        if name not in self.shapes:
            raise SpecError(f"the spec has no shape {name!r} (shapes: {', '.join(self.shape_names())})")
        return replace(self, dims={**self.dims, **self.shapes[name]})


# --------------------------------------------------------------------------------------------
# dimension expressions: + - * / % // min max ceil_div over integers and dims

_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_FUNCS: dict[str, Callable[..., Union[int, float]]] = {
    "min": min, "max": max, "ceil_div": lambda a, b: -(-a // b)}


def eval_dim_expr(text: Union[str, int, float], env: Mapping[str, Union[int, float]]) -> Union[int, float]:
    """Evaluate a small arithmetic expression over named dims. ``/`` on integers is C division
    (truncating), so that launch geometry written as in CUDA (``(N + 255) / 256``) means the same."""
    if isinstance(text, (int, float)):
        return text
    try:
        tree = ast.parse(str(text), mode="eval")
    except SyntaxError as exc:
        raise SpecError(f"cannot read the expression {text!r}: {exc.msg}") from None

    def ev(node: ast.AST) -> Union[int, float]:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in env:
                known = ", ".join(sorted(env)) or "none"
                raise SpecError(f"the expression {text!r} uses {node.id!r}, which is not a dim "
                                f"(known: {known}); add it under [dims]")
            return env[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            a, b = ev(node.left), ev(node.right)
            if isinstance(a, int) and isinstance(b, int):
                return c_div(a, b)
            return a / b
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS:
            return _FUNCS[node.func.id](*[ev(a) for a in node.args])
        raise SpecError(f"the expression {text!r} may only use numbers, dims, + - * / % and "
                        f"min/max/ceil_div")

    return ev(tree)


# --------------------------------------------------------------------------------------------
# reading


def spec_path_for(kernel: Path) -> Path:
    """Where the spec of ``kernel`` lives: ``KERNEL.toml`` first, then ``STEM.toml``."""
    for candidate in (kernel.with_name(kernel.name + ".toml"), kernel.with_suffix(".toml")):
        if candidate.exists():
            return candidate
    raise SpecError(
        f"no spec found for {kernel}: write {kernel.name}.toml beside it (entry, [dims], "
        f"[[args]] with name/dtype/shape/role, and [reference]); see docs/spec.md")


def platform_of(kernel: Path) -> str:
    try:
        return PLATFORM_OF_SUFFIX[kernel.suffix]
    except KeyError:
        raise SpecError(f"cannot tell the platform of {kernel.name} from its suffix; use one of "
                        f"{', '.join(PLATFORM_OF_SUFFIX)}") from None


def load_spec(path: Path) -> KernelSpec:
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SpecError(f"spec file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path} is not valid TOML: {exc}") from None
    return parse_spec(data, path=Path(path))


def _require(data: Mapping[str, Any], key: str, where: str, hint: str) -> Any:
    if key not in data:
        raise SpecError(f"{where}: missing {key!r}; {hint}")
    return data[key]


def parse_spec(data: Mapping[str, Any], path: Union[Path, None] = None) -> KernelSpec:
    where = str(path) if path else "spec"
    entry = _require(data, "entry", where, 'write entry = "NAME" (the kernel function to call)')
    dims_raw = data.get("dims", {})
    if not isinstance(dims_raw, dict) or not all(isinstance(v, int) for v in dims_raw.values()):
        raise SpecError(f"{where}: [dims] must map names to integers, e.g. N = 1024")
    dims = dict(dims_raw)
    raw_args = _require(data, "args", where, "add one [[args]] table per kernel parameter")
    args = []
    seen = set()
    for i, a in enumerate(raw_args):
        awhere = f"{where}: [[args]] #{i + 1}"
        name = _require(a, "name", awhere, 'write name = "PARAM"')
        if name in seen:
            raise SpecError(f"{awhere}: argument {name!r} appears twice")
        seen.add(name)
        dtype = _require(a, "dtype", awhere, f"write dtype = one of {', '.join(ARG_DTYPES)}")
        if dtype not in ARG_DTYPES:
            raise SpecError(f"{awhere}: dtype {dtype!r} is not one of {', '.join(ARG_DTYPES)}")
        role = _require(a, "role", awhere, f"write role = one of {', '.join(ROLES)}")
        if role not in ROLES:
            raise SpecError(f"{awhere}: role {role!r} is not one of {', '.join(ROLES)}")
        shape: tuple[str, ...] = ()
        value = None
        if role == "scalar":
            if "value" not in a:
                raise SpecError(f"{awhere}: scalar {name!r} needs value = \"EXPR\" over dims")
            value = str(a["value"])
            eval_dim_expr(value, dims)
        else:
            shape_raw = _require(a, "shape", awhere, 'write shape = ["N", ...] over dims')
            shape = tuple(str(s) for s in shape_raw)
            for s in shape:
                if eval_dim_expr(s, dims) <= 0:
                    raise SpecError(f"{awhere}: shape entry {s!r} is not positive")
        rng = a.get("range")
        if rng is not None and (len(rng) != 2 or rng[0] >= rng[1]):
            raise SpecError(f"{awhere}: range must be [low, high] with low < high")
        args.append(ArgSpec(name, dtype, role, shape, value, tuple(rng) if rng else None))
    if not any(a.is_output for a in args):
        raise SpecError(f"{where}: no argument has role \"output\" or \"inout\"; mark what the "
                        "kernel writes")
    launch = None
    if "launch" in data:
        l = data["launch"]
        grid = [str(x) for x in _require(l, "grid", f"{where}: [launch]", "write grid = [gx, gy, gz]")]
        block = [str(x) for x in _require(l, "block", f"{where}: [launch]", "write block = [bx, by, bz]")]
        grid += ["1"] * (3 - len(grid))
        block += ["1"] * (3 - len(block))
        if len(grid) != 3 or len(block) != 3:
            raise SpecError(f"{where}: [launch] grid and block take at most 3 entries")
        launch = LaunchSpec((grid[0], grid[1], grid[2]), (block[0], block[1], block[2]))
    ref = data.get("reference", {})
    op = ref.get("operator")
    src = ref.get("source")
    if op is None and src is None:
        raise SpecError(f"{where}: [reference] needs operator = \"NAME\" (a corpus operator) or "
                        "source = \"FILE\" (a kernel whose results are the truth)")
    tol = data.get("tolerance", {})
    shapes: dict[str, dict[str, int]] = {}
    for sname, table in data.get("shapes", {}).items():
        if not isinstance(table, dict) or not all(isinstance(v, int) for v in table.values()):
            raise SpecError(f"{where}: [shapes.{sname}] must map dims to integers")
        unknown = set(table) - set(dims)
        if unknown:
            raise SpecError(f"{where}: [shapes.{sname}] sets {', '.join(sorted(unknown))}, which "
                            "is not in [dims]; declare every dim in [dims] first")
        shapes[str(sname)] = dict(table)
    spec = KernelSpec(
        entry=str(entry), args=tuple(args), dims=dims, launch=launch, operator=op,
        operator_params=dict(ref.get("params", {})), reference_source=src,
        rtol=tol.get("rtol"), atol=tol.get("atol"), path=path, shapes=shapes,
    )
    for sname in shapes:
        shaped = spec.with_shape(sname)
        for a in shaped.args:
            if a.is_buffer and any(d <= 0 for d in shaped.shape_of(a)):
                raise SpecError(f"{where}: shape {sname!r} gives {a.name!r} a non-positive extent")
    if launch is not None:
        spec.launch_geometry()  # evaluates, raising SpecError on unknown names
    return spec


def spec_to_dict(spec: KernelSpec) -> dict[str, Any]:
    """The TOML-ready form of a spec (used to write the spec of a translated kernel)."""
    out: dict[str, Any] = {"entry": spec.entry, "dims": dict(spec.dims), "args": []}
    for a in spec.args:
        d: dict[str, Any] = {"name": a.name, "dtype": a.dtype, "role": a.role}
        if a.shape:
            d["shape"] = list(a.shape)
        if a.value is not None:
            d["value"] = a.value
        if a.range is not None:
            d["range"] = list(a.range)
        out["args"].append(d)
    if spec.launch is not None:
        out["launch"] = {"grid": list(spec.launch.grid), "block": list(spec.launch.block)}
    ref: dict[str, Any] = {}
    if spec.operator:
        ref["operator"] = spec.operator
        if spec.operator_params:
            ref["params"] = dict(spec.operator_params)
    if spec.reference_source:
        ref["source"] = spec.reference_source
    out["reference"] = ref
    if spec.shapes:
        out["shapes"] = {k: dict(v) for k, v in spec.shapes.items()}
    tol = {k: v for k, v in (("rtol", spec.rtol), ("atol", spec.atol)) if v is not None}
    if tol:
        out["tolerance"] = tol
    return out
