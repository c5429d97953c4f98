"""Generated drivers: the ``main`` that feeds a kernel its inputs and writes its outputs.

Why a generated driver rather than calling the kernel from Python (ctypes): the kernel then runs in
a separate, sandboxed process, the same driver text serves a real GPU and the emulator, and later
the timing loop lives in native code. Protocol: the driver runs in a directory holding
``<arg>.bin`` for every input/inout buffer (raw little-endian, the spec's element type), calls the
kernel once, writes ``<arg>.out.bin`` for every output/inout buffer and exits 0.

Guard pages: in the C driver every buffer ends exactly against a ``PROT_NONE`` page, so a write (or
read) one element past the end faults with SIGSEGV instead of silently corrupting a neighbour. The
price is that buffers are aligned only to their element size, so a kernel that assumes 64-byte
aligned buffers (``_mm512_load_ps``) will fault too; generated kernels must use unaligned loads
on global buffers. Output-only buffers start filled with 0xFF bytes (NaN for every float type) so
that elements the kernel never writes are caught by the comparison.

Exit codes: 2 allocation failed (prints AUTOTUNE_OOM), 3 CUDA/HIP error, 4 input file problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from measure.spec import ArgSpec, KernelSpec

C_TYPES = {
    "f32": "float", "f64": "double", "i32": "int", "u32": "unsigned int", "i64": "long long",
    "u64": "unsigned long long", "i8": "int8_t", "u8": "uint8_t", "i16": "short",
    "u16": "unsigned short", "bool": "unsigned char", "f16": "_Float16", "bf16": "uint16_t",
}
GPU_TYPES = {**C_TYPES, "f16": "half", "bool": "bool"}
GPU_BF16 = {"cuda": "__nv_bfloat16", "hip": "hip_bfloat16"}

Geometry = tuple[tuple[int, int, int], tuple[int, int, int]]


@dataclass(frozen=True)
class TimingLoop:
    """The native timing protocol a driver runs after its verified first call.

    ``warmup`` untimed calls; then the inner count doubles (or scales) until ``inner`` calls last
    at least ``min_repeat_ms``; then ``repeats`` samples, each the mean time of ``inner`` calls.
    With ``flush_bytes`` a buffer of that size is written before every sample so the sample starts
    with cold caches (only the first call of a sample is cold when ``inner`` > 1). The driver
    prints ``AUTOTUNE_TIMING inner=N samples_ns=a,b,c``."""

    warmup: int = 2
    min_repeat_ms: float = 20.0
    repeats: int = 7
    flush_bytes: int = 0


class DriverError(ValueError):
    """The spec asks for something no driver can pass (for example a bf16 scalar)."""


def _elem_size(dtype: str) -> int:
    return {"f64": 8, "i64": 8, "u64": 8, "f32": 4, "i32": 4, "u32": 4,
            "f16": 2, "bf16": 2, "i16": 2, "u16": 2}.get(dtype, 1)


def scalar_literal(arg: ArgSpec, value: Union[int, float], ctype: str) -> str:
    """A C literal of exactly the scalar's type (hex floats keep every bit of the value)."""
    if arg.dtype == "bf16":
        raise DriverError(f"scalar {arg.name!r}: bf16 scalars are not supported; use f32")
    if arg.dtype in ("f32", "f64", "f16"):
        text = float(value).hex() if value == value and abs(value) != float("inf") else repr(value)
        return f"(({ctype}){text})"
    iv = int(value)
    suffix = "ULL" if arg.dtype == "u64" else "LL"
    return f"(({ctype}){iv}{suffix})"


_C_PRELUDE = r"""
/* ---------------- autotune C driver (generated) ---------------- */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sys/syscall.h>

/* A buffer whose last byte is followed by a PROT_NONE page: out-of-bounds accesses fault. */
static void *at_alloc(const char *name, size_t bytes, int poison) {
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t body = (bytes + pg - 1) / pg * pg;
    if (body == 0) body = pg;
    char *base = (char *)mmap(NULL, body + pg, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == (char *)MAP_FAILED) {
        fprintf(stderr, "AUTOTUNE_OOM: cannot map %zu bytes for %s\n", bytes, name);
        exit(2);
    }
    if (mprotect(base + body, pg, PROT_NONE) != 0) { perror("mprotect"); exit(2); }
    char *p = base + body - bytes;
    if (poison) memset(p, 0xFF, bytes);
    return p;
}

/* The kernel's own allocations are linked through these wrappers (-Wl,--wrap=...), so that an
   allocation the address-space limit refuses is reported as a memory failure, not a NULL crash. */
static void at_oom(const char *what, size_t bytes) {
    fprintf(stderr, "AUTOTUNE_OOM: %s(%zu) failed in the kernel\n", what, bytes);
    exit(2);
}
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
void *__wrap_malloc(size_t n) { void *p = __real_malloc(n); if (!p && n) at_oom("malloc", n); return p; }
void *__wrap_calloc(size_t n, size_t m) {
    void *p = __real_calloc(n, m); if (!p && n && m) at_oom("calloc", n * m); return p;
}
void *__wrap_realloc(void *q, size_t n) {
    void *p = __real_realloc(q, n); if (!p && n) at_oom("realloc", n); return p;
}
void *__wrap_aligned_alloc(size_t a, size_t n) {
    void *p = __real_aligned_alloc(a, n); if (!p && n) at_oom("aligned_alloc", n); return p;
}

static void at_read(const char *name, void *dst, size_t bytes) {
    char path[512];
    snprintf(path, sizeof path, "%s.bin", name);
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "AUTOTUNE_INPUT: cannot open %s\n", path); exit(4); }
    size_t got = fread(dst, 1, bytes, f);
    fclose(f);
    if (got != bytes) {
        fprintf(stderr, "AUTOTUNE_INPUT: %s holds %zu bytes, expected %zu\n", path, got, bytes);
        exit(4);
    }
}

static void at_write(const char *name, const void *src, size_t bytes) {
    char path[512];
    snprintf(path, sizeof path, "%s.out.bin", name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(src, 1, bytes, f) != bytes) {
        fprintf(stderr, "AUTOTUNE_OUTPUT: cannot write %s\n", path);
        exit(4);
    }
    fclose(f);
}
"""


C_LINK_FLAGS = ["-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc"]


_C_TIMING = r"""
#include <time.h>
static double at_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
static volatile char *at_flush_buf;
static void at_flush(size_t bytes) {
    if (!bytes) return;
    if (!at_flush_buf) at_flush_buf = (volatile char *)malloc(bytes);
    for (size_t i = 0; i < bytes; i += 64) at_flush_buf[i] = (char)i;
}
"""


def _timing_block(call: str, loop: TimingLoop, sync: str = "") -> list[str]:
    """C statements that run the timing protocol around ``call`` (``sync`` waits for a device)."""
    body = f"{call} {sync}".strip()
    return [
        "    {",
        f"        for (int w = 0; w < {loop.warmup}; w++) {{ {body} }}",
        f"        const double min_s = {loop.min_repeat_ms / 1000.0!r};",
        "        long inner = 1;",
        "        for (;;) {",
        "            double t0 = at_now();",
        f"            for (long i = 0; i < inner; i++) {{ {call} }}",
        f"            {sync}",
        "            double dt = at_now() - t0;",
        "            if (dt >= min_s || inner >= (1L << 30)) break;",
        "            long next = dt > 0 ? (long)(inner * min_s / dt * 1.25) + 1 : inner * 10;",
        "            if (next < 2 * inner) next = 2 * inner;",
        "            if (next > 100 * inner) next = 100 * inner;",
        "            inner = next;",
        "        }",
        '        printf("AUTOTUNE_TIMING inner=%ld samples_ns=", inner);',
        f"        for (int r = 0; r < {loop.repeats}; r++) {{",
        f"            at_flush({loop.flush_bytes}ULL);",
        "            double t0 = at_now();",
        f"            for (long i = 0; i < inner; i++) {{ {call} }}",
        f"            {sync}",
        "            double dt = at_now() - t0;",
        '            printf("%s%.3f", r ? "," : "", dt / (double)inner * 1e9);',
        "        }",
        '        printf("\\n");',
        "        fflush(stdout);",
        "    }",
    ]


def _gpu_timing_block(call: str, loop: TimingLoop, p: str) -> list[str]:
    """The timing protocol with device events (``p`` is ``cuda`` or ``hip``); a flush writes a
    device buffer of ``flush_bytes`` so that L2 starts cold."""
    chk = "at_check"
    return [
        "    {",
        f"        {p}Event_t e0, e1;",
        f'        {chk}({p}EventCreate(&e0), "event"); {chk}({p}EventCreate(&e1), "event");',
        "        void *flush = 0;",
        f"        if ({loop.flush_bytes}ULL)",
        f'            {chk}({p}Malloc(&flush, {loop.flush_bytes}ULL), "flush buffer");',
        f"        for (int w = 0; w < {loop.warmup}; w++) {{ {call} }}",
        f'        {chk}({p}DeviceSynchronize(), "warm-up");',
        f"        const float min_ms = {float(loop.min_repeat_ms)!r}f;",
        "        long inner = 1;",
        "        float ms = 0.0f;",
        "        for (;;) {",
        f"            {p}EventRecord(e0, 0);",
        f"            for (long i = 0; i < inner; i++) {{ {call} }}",
        f"            {p}EventRecord(e1, 0);",
        f'            {chk}({p}EventSynchronize(e1), "timed run");',
        f"            {p}EventElapsedTime(&ms, e0, e1);",
        "            if (ms >= min_ms || inner >= (1L << 30)) break;",
        "            long next = ms > 0 ? (long)(inner * min_ms / ms * 1.25f) + 1 : inner * 10;",
        "            if (next < 2 * inner) next = 2 * inner;",
        "            if (next > 100 * inner) next = 100 * inner;",
        "            inner = next;",
        "        }",
        '        printf("AUTOTUNE_TIMING inner=%ld samples_ns=", inner);',
        f"        for (int r = 0; r < {loop.repeats}; r++) {{",
        f"            if (flush) {p}Memset(flush, r, {loop.flush_bytes}ULL);",
        f"            {p}EventRecord(e0, 0);",
        f"            for (long i = 0; i < inner; i++) {{ {call} }}",
        f"            {p}EventRecord(e1, 0);",
        f'            {chk}({p}EventSynchronize(e1), "timed run");',
        f"            {p}EventElapsedTime(&ms, e0, e1);",
        '            printf("%s%.3f", r ? "," : "", (double)ms * 1e6 / (double)inner);',
        "        }",
        '        printf("\\n");',
        f'        {chk}({p}GetLastError(), "timed launches");',
        "    }",
    ]


def c_driver(spec: KernelSpec, timing: Union[TimingLoop, None] = None) -> str:
    """C ``main`` appended after the kernel source (one translation unit, compiled as C; link with
    ``C_LINK_FLAGS`` so that the kernel's failed allocations are reported as such). With
    ``timing`` the driver also times the kernel after writing the outputs of its first call."""
    lines = [_C_PRELUDE, _C_TIMING if timing else "", "int main(void) {"]
    lines.append("#ifdef __AMX_TILE__\n    syscall(SYS_arch_prctl, 0x1023, 18); /* XTILEDATA */\n#endif")
    scalars = spec.scalar_values()
    call_args = []
    for a in spec.args:
        if not a.is_buffer:
            call_args.append(scalar_literal(a, scalars[a.name], C_TYPES[a.dtype]))
            continue
        nbytes = spec.size_of(a) * _elem_size(a.dtype)
        poison = 0 if a.is_input else 1
        lines.append(f'    void *b_{a.name} = at_alloc("{a.name}", {nbytes}ULL, {poison});')
        if a.is_input:
            lines.append(f'    at_read("{a.name}", b_{a.name}, {nbytes}ULL);')
        call_args.append(f"b_{a.name}")  # void* converts to the kernel's own pointer type in C
    call = f"{spec.entry}({', '.join(call_args)});"
    lines.append(f"    {call}")
    for a in spec.args:
        if a.is_buffer and a.is_output:
            nbytes = spec.size_of(a) * _elem_size(a.dtype)
            lines.append(f'    at_write("{a.name}", b_{a.name}, {nbytes}ULL);')
    if timing is not None:
        lines += _timing_block(call, timing)
    lines += ["    return 0;", "}", ""]
    return "\n".join(lines)


def _gpu_names(platform: str) -> dict[str, str]:
    if platform == "hip":
        return {"p": "hip", "err": "hipError_t", "ok": "hipSuccess", "h2d": "hipMemcpyHostToDevice",
                "d2h": "hipMemcpyDeviceToHost", "oom": "hipErrorOutOfMemory",
                "inc": "#include <hip/hip_runtime.h>\n#include <hip/hip_fp16.h>\n"
                       "#include <hip/hip_bfloat16.h>"}
    if platform == "cuda":
        return {"p": "cuda", "err": "cudaError_t", "ok": "cudaSuccess",
                "h2d": "cudaMemcpyHostToDevice", "d2h": "cudaMemcpyDeviceToHost",
                "oom": "cudaErrorMemoryAllocation",
                "inc": "#include <cuda_runtime.h>\n#include <cuda_fp16.h>\n#include <cuda_bf16.h>"}
    raise DriverError(f"no GPU driver for platform {platform!r} (cuda or hip)")


def cuda_driver(spec: KernelSpec, grid: Union[tuple[int, int, int], None] = None,
                block: Union[tuple[int, int, int], None] = None, launcher: Union[str, None] = None,
                platform: str = "cuda", timing: Union[TimingLoop, None] = None) -> str:
    """CUDA (or HIP) host ``main`` appended after the kernel source.

    Launches ``entry<<<grid, block>>>(args)``, or calls the host function ``launcher`` with the
    same arguments when given. Any runtime error prints the runtime's message and exits 3 (an
    allocation failure also prints AUTOTUNE_OOM so that the sandbox calls it a memory failure).
    """
    if launcher is None and (grid is None or block is None):
        raise DriverError("no launch geometry: add [launch] to the spec or a host launcher")
    n = _gpu_names(platform)
    p = n["p"]
    out = [
        f"\n/* ---------------- autotune {platform} driver (generated) ---------------- */",
        "#include <cstdio>\n#include <cstdlib>\n#include <cstring>\n#include <cstdint>", n["inc"],
        f"static void at_check({n['err']} e, const char *what) {{",
        f"    if (e == {n['ok']}) return;",
        f'    fprintf(stderr, "AUTOTUNE_GPU_ERROR %s: %s\\n", what, {p}GetErrorString(e));',
        f'    if (e == {n["oom"]}) fprintf(stderr, "AUTOTUNE_OOM\\n");',
        "    exit(3);\n}",
        "static void *at_host(size_t bytes) {",
        "    void *p = malloc(bytes ? bytes : 1);",
        '    if (!p) { fprintf(stderr, "AUTOTUNE_OOM: host buffer of %zu bytes\\n", bytes); exit(2); }',
        "    return p;\n}",
        "static void at_read(const char *name, void *dst, size_t bytes) {",
        '    char path[512]; snprintf(path, sizeof path, "%s.bin", name);',
        '    FILE *f = fopen(path, "rb");',
        '    if (!f) { fprintf(stderr, "AUTOTUNE_INPUT: cannot open %s\\n", path); exit(4); }',
        "    size_t got = fread(dst, 1, bytes, f); fclose(f);",
        '    if (got != bytes) { fprintf(stderr, "AUTOTUNE_INPUT: %s is short\\n", path); exit(4); }\n}',
        "static void at_write(const char *name, const void *src, size_t bytes) {",
        '    char path[512]; snprintf(path, sizeof path, "%s.out.bin", name);',
        '    FILE *f = fopen(path, "wb");',
        "    if (!f || fwrite(src, 1, bytes, f) != bytes) {",
        '        fprintf(stderr, "AUTOTUNE_OUTPUT: cannot write %s\\n", path); exit(4); }',
        "    fclose(f);\n}",
        "int main() {",
    ]
    types = {**GPU_TYPES, "bf16": GPU_BF16[platform]}
    scalars = spec.scalar_values()
    call_args = []
    for a in spec.args:
        if not a.is_buffer:
            call_args.append(scalar_literal(a, scalars[a.name], types[a.dtype]))
            continue
        t = types[a.dtype]
        nb = f"{spec.size_of(a) * _elem_size(a.dtype)}ULL"
        out.append(f"    void *h_{a.name} = at_host({nb});")
        if a.is_input:
            out.append(f'    at_read("{a.name}", h_{a.name}, {nb});')
        else:
            out.append(f"    memset(h_{a.name}, 0xFF, {nb});")
        out.append(f"    {t} *d_{a.name} = 0;")
        out.append(f'    at_check({p}Malloc((void **)&d_{a.name}, {nb}), "{p}Malloc {a.name}");')
        out.append(f'    at_check({p}Memcpy(d_{a.name}, h_{a.name}, {nb}, {n["h2d"]}), '
                   f'"copy {a.name} to the device");')
        call_args.append(f"d_{a.name}")
    args_text = ", ".join(call_args)
    if launcher is not None:
        call = f"{launcher}({args_text});"
    else:
        assert grid is not None and block is not None
        g = ", ".join(str(int(v)) for v in grid)
        b = ", ".join(str(int(v)) for v in block)
        call = f"{spec.entry}<<<dim3({g}), dim3({b})>>>({args_text});"
    out.append(f"    {call}")
    out.append(f'    at_check({p}GetLastError(), "kernel launch");')
    out.append(f'    at_check({p}DeviceSynchronize(), "kernel execution");')
    for a in spec.args:
        if a.is_buffer and a.is_output:
            nb = f"{spec.size_of(a) * _elem_size(a.dtype)}ULL"
            out.append(f'    at_check({p}Memcpy(h_{a.name}, d_{a.name}, {nb}, {n["d2h"]}), '
                       f'"copy {a.name} to the host");')
            out.append(f'    at_write("{a.name}", h_{a.name}, {nb});')
    if timing is not None:
        out += _gpu_timing_block(call, timing, p)
    out += ["    return 0;", "}", ""]
    return "\n".join(out)
