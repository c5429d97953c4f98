"""The measuring process of a baseline: ``python -m measure.baselines.runner`` reads one JSON
request on stdin and prints one ``AUTOTUNE_BASELINE {json}`` line on stdout.

The parent (``measure.baselines``) starts it already pinned to the cores of the native protocol
and with every thread-count variable (OMP, MKL, OpenBLAS...) set, so that no library sees another
value when it loads. This process then imports numpy (and torch, only for ``kind = "torch"``),
sets ``torch.set_num_threads``, builds the inputs with ``make_inputs`` and converts them outside
the timed region, verifies one call against the numpy reference (as ``measure.timing`` verifies
before it times), and times under the device's measurement lock with the protocol of
``measure.driver.TimingLoop``: warm-up calls, an inner count grown until ``inner`` calls last
``min_repeat_ms``, ``repeats`` samples (each the mean of ``inner`` calls, a cache flush before
each when asked), median and IQR spread, the whole repeated up to ``attempts`` times while the
spread is above ``max_spread`` (the attempt with the smallest spread is kept).

The timed loop is a Python ``for`` around the call: that dispatch overhead (about a microsecond
per call) is what a PyTorch user pays too. On CUDA each sample is timed with CUDA events.

Request keys: ``kind`` (``torch`` | ``numpy``), ``op``, ``spec`` (``spec_to_dict``), ``device``
(``cpu`` | ``cuda``), ``threads``, ``options`` (``TimingOptions`` fields), ``verify``.
Reply keys: ``ok``; when false ``reason``; when true ``samples_s``, ``inner``, ``spread``,
``noisy``, ``attempts``, ``library``, ``torch_threads`` (torch only), ``cores``, ``env_threads``,
``verified``, ``max_abs_error``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from typing import Any, Callable, Union

from measure.stats import relative_spread

PREFIX = "AUTOTUNE_BASELINE "
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "GOTO_NUM_THREADS")

Sample = Callable[[int], float]  # runs ``inner`` calls, returns their total seconds


def adaptive_samples(call: Callable[[], Any], sample: Sample, sync: Callable[[], None], warmup: int,
                     min_repeat_ms: float, repeats: int,
                     flush: Callable[[int], None]) -> tuple[int, list[float]]:
    """The protocol of ``measure.driver._timing_block``: (inner, per-call seconds of each
    sample). ``sample(inner)`` times ``inner`` calls (host clock or device events); ``sync``
    waits for a device after the warm-up."""
    for _ in range(warmup):
        call()
    sync()
    min_s = min_repeat_ms / 1000.0
    inner = 1
    while True:
        dt = sample(inner)
        if dt >= min_s or inner >= (1 << 30):
            break
        nxt = int(inner * min_s / dt * 1.25) + 1 if dt > 0 else inner * 10
        inner = min(max(nxt, 2 * inner), 100 * inner)
    samples = []
    for r in range(repeats):
        flush(r)
        samples.append(sample(inner) / inner)
    return inner, samples



def torch_library(device: str) -> str:
    import torch

    if device == "cuda":
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        return (f"torch {torch.__version__} (CUDA {torch.version.cuda}, cuBLAS, "
                f"cuDNN {cudnn if cudnn is not None else 'n/a'})")
    cfg = torch.__config__.show()
    parts = []
    m = re.search(r"MKL-DNN v([\d.]+)", cfg) or re.search(r"oneDNN v?([\d.]+)", cfg)
    if m or torch.backends.mkldnn.is_available():
        parts.append(f"oneDNN {m.group(1) if m else '?'}")
    m = re.search(r"Math Kernel Library Version ([\d.]+)", cfg)
    if m or torch.backends.mkl.is_available():
        parts.append(f"MKL {m.group(1) if m else '?'}")
    return f"torch {torch.__version__}" + (f" ({', '.join(parts)})" if parts else "")


def numpy_library() -> str:
    import numpy as np

    blas = ""
    try:
        cfg = np.show_config(mode="dicts")  # type: ignore[call-arg]
        blas = str(cfg["Build Dependencies"]["blas"]["name"])
    except Exception:  # older numpy, or another config layout: the version is enough
        pass
    return f"numpy {np.__version__}" + (f" ({blas}; float64 reference)" if blas
                                        else " (float64 reference)")


def _measure(request: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    from measure.compare import compare
    from measure.devicelock import exclusive
    from measure.inputs import make_inputs
    from measure.operators import OPERATORS
    from measure.spec import parse_spec

    kind, op, device = request["kind"], request["op"], request.get("device", "cpu")
    threads = int(request.get("threads", 1))
    opt = request["options"]
    spec = parse_spec(request["spec"])
    flat = make_inputs(spec, seed=int(opt.get("seed", 0)))
    reference = OPERATORS.get(op)
    if reference is None:
        return {"ok": False, "reason": f"unknown operator {op!r} (no numpy reference)"}
    shaped = _shaped_inputs(spec, flat)
    dims, params = dict(spec.dims), dict(spec.operator_params)
    reply: dict[str, Any] = {"cores": sorted(os.sched_getaffinity(0)),
                             "env_threads": {v: os.environ.get(v, "") for v in THREAD_VARS}}
    sync: Callable[[], None] = _nothing
    events: Union[Callable[[int], float], None] = None
    call: Callable[[], Any]
    if kind == "numpy":
        reply["library"] = numpy_library()

        def call() -> Any:
            return reference(shaped, dims, params)

        outputs: Union[dict[str, np.ndarray], None] = None
    else:
        try:
            import torch
        except ImportError as exc:
            return {"ok": False, "reason": f"torch is not installed ({exc}); pip install torch==2.13.0"}
        torch.set_num_threads(threads)
        reply["torch_threads"] = torch.get_num_threads()
        if device == "cuda" and not torch.cuda.is_available():
            return {"ok": False, "reason": "no CUDA device"}
        from measure.baselines.torch_ops import setup_op, to_numpy

        reply["library"] = torch_library(device)
        torch.set_grad_enabled(False)  # as in inference; the inputs do not require grad anyway
        run = setup_op(op, spec, flat, "cuda" if device == "cuda" else "cpu")
        if isinstance(run, str):
            return {"ok": False, "reason": run}
        call = run

        if request.get("verify", True):
            outputs = to_numpy(spec, call())
        else:
            outputs = None
        if device == "cuda":
            sync = torch.cuda.synchronize
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

            def events(inner: int) -> float:
                start.record()
                for _ in range(inner):
                    call()
                end.record()
                end.synchronize()
                return float(start.elapsed_time(end)) / 1000.0

    reply["verified"] = False
    if request.get("verify", True):
        expected = {k: np.ravel(np.asarray(v)) for k, v in reference(shaped, dims, params).items()}
        if kind == "numpy":
            outputs = dict(expected)
        assert outputs is not None
        cmp = compare(spec, outputs, expected)
        if not cmp.ok:
            return {"ok": False, "reason": f"wrong results: {cmp.reason}", **reply}
        reply["verified"] = True
        reply["max_abs_error"] = cmp.max_abs_error

    def host_sample(inner: int) -> float:
        t0 = time.perf_counter()
        for _ in range(inner):
            call()
        sync()
        return time.perf_counter() - t0

    flush = _flusher(bool(opt.get("flush", False)), device)
    best: Union[dict[str, Any], None] = None
    max_spread = float(opt.get("max_spread", 0.05))
    done = 0
    with exclusive("cuda" if device == "cuda" else "cpu"):
        while done < max(1, int(opt.get("attempts", 3))):
            done += 1
            inner, samples = adaptive_samples(
                call, events or host_sample, sync, int(opt.get("warmup", 2)),
                float(opt.get("min_repeat_ms", 20.0)), int(opt.get("repeats", 7)), flush)
            spread = relative_spread(samples)
            if best is None or spread < best["spread"]:
                best = {"samples_s": samples, "inner": inner, "spread": spread}
            if spread <= max_spread:
                break
    assert best is not None
    best["noisy"] = best["spread"] > max_spread
    best["attempts"] = done
    return {"ok": True, **reply, **best}


def _nothing() -> None:
    return None


def _flusher(flush: bool, device: str) -> Callable[[int], None]:
    """Writes a buffer past the last-level cache before a sample (host or device memory)."""
    if not flush:
        return lambda r: None
    from measure.timing import FLUSH_BYTES

    if device == "cuda":
        import torch

        dbuf = torch.empty(FLUSH_BYTES, dtype=torch.uint8, device="cuda")

        def dev_flush(r: int) -> None:
            dbuf.fill_(r & 0xFF)

        return dev_flush
    import numpy as np

    hbuf = np.zeros(FLUSH_BYTES, dtype=np.uint8)

    def host_flush(r: int) -> None:
        hbuf[::64] = r & 0xFF  # one write per cache line

    return host_flush


def _shaped_inputs(spec: Any, flat: dict[str, Any]) -> dict[str, Any]:
    """Inputs as the numpy references take them (as ``measure.platforms`` passes them)."""
    import numpy as np

    from measure.inputs import as_float, scalar_inputs

    out: dict[str, Any] = dict(scalar_inputs(spec))
    for a in spec.args:
        if a.name in flat:
            arr = flat[a.name]
            arr = arr.astype(np.bool_) if a.dtype == "bool" else as_float(arr, a.dtype)
            out[a.name] = arr.reshape(spec.shape_of(a))
    return out


def main() -> int:
    request = json.loads(sys.stdin.read())
    threads = str(int(request.get("threads", 1)))
    for var in THREAD_VARS:  # normally set by the parent already; never changed after this
        os.environ.setdefault(var, threads)
    cores = request.get("cores")
    if cores:
        os.sched_setaffinity(0, set(int(c) for c in cores))
    try:
        reply = _measure(request)
    except Exception as exc:  # report, never a traceback as the only output
        reply = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(PREFIX + json.dumps(reply) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
