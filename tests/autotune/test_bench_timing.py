"""``autotune bench`` (timing): cost formulas on hand-computed examples, the report arithmetic,
graceful degradation without the baselines, and a real end-to-end run on one tiny shape."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from autotune.bench import timing
from autotune.bench.timing import Machine, Result, Row
from measure.operators.costs import CostError, compute_kind, flops, minimal_bytes
from measure.spec import KernelSpec, load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[2]
KERNELS = ROOT / "kernels"


def _spec(op: str, dims: dict[str, int], args: list[dict[str, Any]],
          params: dict[str, Any] | None = None) -> KernelSpec:
    reference: dict[str, Any] = {"operator": op}
    if params:
        reference["params"] = params
    return parse_spec({"entry": op, "dims": dims, "args": args, "reference": reference})


def _buf(name: str, shape: list[str], role: str, dtype: str = "f32") -> dict[str, Any]:
    return {"name": name, "dtype": dtype, "shape": shape, "role": role}


# --------------------------------------------------------------------------------------------
# costs


def test_gemm_is_2mnk_and_bytes_count_each_buffer_once() -> None:
    spec = _spec("gemm", {"M": 3, "N": 4, "K": 5},
                 [_buf("A", ["M", "K"], "input"), _buf("B", ["K", "N"], "input"),
                  _buf("C", ["M", "N"], "output"),
                  {"name": "M", "dtype": "i32", "role": "scalar", "value": "M"}])
    assert flops(spec) == 2 * 3 * 4 * 5
    assert minimal_bytes(spec) == (15 + 20 + 12) * 4  # scalars cost nothing
    assert compute_kind(spec) == "fp32"


def test_gemm_u8s8_counts_int8_bytes_and_ops() -> None:
    spec = _spec("gemm_u8s8", {"M": 2, "N": 3, "K": 8},
                 [_buf("A", ["M", "K"], "input", "u8"), _buf("B", ["N", "K"], "input", "i8"),
                  _buf("C", ["M", "N"], "output", "i32")])
    assert flops(spec) == 2 * 2 * 3 * 8
    assert minimal_bytes(spec) == 16 + 24 + 6 * 4
    assert compute_kind(spec) == "int8"


def test_conv2d_nhwc_counts_output_times_reduction() -> None:
    # 1x5x5x2 input, 3x3x2x3 weight, stride 1, no padding -> 1x3x3x3 output
    spec = _spec("conv2d_nhwc", {"N": 1, "H": 5, "W": 5, "C": 2, "F": 3, "KH": 3, "KW": 3},
                 [_buf("input", ["N", "H", "W", "C"], "input"),
                  _buf("weight", ["KH", "KW", "C", "F"], "input"),
                  _buf("output", ["N", "H - KH + 1", "W - KW + 1", "F"], "output")])
    assert flops(spec) == 2 * (1 * 3 * 3 * 3) * (3 * 3 * 2)
    assert minimal_bytes(spec) == (50 + 54 + 27) * 4


def test_elementwise_rowwise_and_pool_formulas() -> None:
    relu = _spec("relu", {"N": 10}, [_buf("x", ["N"], "input"), _buf("y", ["N"], "output")])
    assert flops(relu) == 10 and minimal_bytes(relu) == 80
    softmax = _spec("softmax", {"R": 2, "C": 7}, [_buf("x", ["R", "C"], "input"),
                                                  _buf("y", ["R", "C"], "output")])
    assert flops(softmax) == 5 * 14
    layernorm = _spec("layernorm", {"R": 2, "C": 7},
                      [_buf("x", ["R", "C"], "input"), _buf("gamma", ["C"], "input"),
                       _buf("beta", ["C"], "input"), _buf("y", ["R", "C"], "output")])
    assert flops(layernorm) == 8 * 14
    assert minimal_bytes(layernorm) == (14 + 7 + 7 + 14) * 4
    # a 3x3 max window: 8 compares per output element; the window comes from the params
    pool = _spec("maxpool2d_nhwc", {"N": 1, "H": 7, "W": 7, "C": 2},
                 [_buf("input", ["N", "H", "W", "C"], "input"),
                  _buf("output", ["N", "(H - 3) / 2 + 1", "(W - 3) / 2 + 1", "C"], "output")],
                 {"window": 3, "stride": 2})
    assert flops(pool) == (1 * 3 * 3 * 2) * 8


def test_inout_buffers_are_read_and_written() -> None:
    spec = _spec("scatter", {"N": 4, "V": 3, "D": 5},
                 [_buf("src", ["N", "D"], "input"), _buf("indices", ["N"], "input", "i32"),
                  _buf("out", ["V", "D"], "inout")])
    assert flops(spec) == 4 * 5
    assert minimal_bytes(spec) == 20 * 4 + 4 * 4 + 2 * 15 * 4


def test_attention_counts_both_products_and_the_softmax() -> None:
    spec = _spec("mha", {"B": 1, "H": 2, "S": 3, "D": 4},
                 [_buf(n, ["B", "H", "S", "D"], "input") for n in ("q", "k", "v")]
                 + [_buf("o", ["B", "H", "S", "D"], "output")])
    scores = 1 * 2 * 3 * 3
    assert flops(spec) == 4 * scores * 4 + 5 * scores


def test_every_corpus_operator_has_a_cost_and_unknown_ones_say_so() -> None:
    for d in sorted(p for p in KERNELS.iterdir() if p.is_dir()):
        spec = load_spec(d / f"{d.name}.c.toml").with_shape("large")
        assert flops(spec) >= 0 and minimal_bytes(spec) > 0, d.name
    with pytest.raises(CostError, match="no FLOP formula"):
        flops(_spec("nonexistent", {"N": 1}, [_buf("y", ["N"], "output")]))
    f16 = load_spec(KERNELS / "gemm_f16" / "gemm_f16.c.toml")
    assert compute_kind(f16) == "fp32"  # converted to fp32 lanes on a CPU


# --------------------------------------------------------------------------------------------
# report arithmetic


def _row(**times: float | None) -> Row:
    row = Row("gemm", "large", 1, {"M": 2}, flops=1000, bytes=100)
    for impl in timing.IMPLS:
        t = times.get(impl)
        row.results[impl] = Result(t, 0.01, False, "verified (device)") if t else Result(note="no torch")
    return row


def test_speedups_and_roofline_fractions() -> None:
    row = _row(source=2e-3, autotune=1e-3, vendor=5e-4, numpy=4e-3)
    assert row.speedup("vendor") == (pytest.approx(0.5), "")
    assert row.speedup("source") == (pytest.approx(2.0), "")
    row.roofline_s = 2.5e-4
    assert row.roofline_fraction("autotune")[0] == pytest.approx(0.25)
    assert row.roofline_fraction("source")[0] == pytest.approx(0.125)
    missing = _row(source=2e-3, autotune=1e-3)
    assert missing.speedup("vendor") == (None, "no vendor time")


def test_failed_kernel_is_reported_not_dropped() -> None:
    ok = _row(source=2e-3, autotune=1e-3, vendor=5e-4)
    bad = _row(source=2e-3, vendor=5e-4)
    bad.op = "softmax"
    bad.results["autotune"] = Result(note="wrong results: max abs error 3", failed=True)
    assert not bad.kernels_ok and ok.kernels_ok
    machine = Machine("cpu", "avx512f", 2, "gcc 12", "2.13", "2.4", "3.11", peaks_note="no peaks")
    md = timing.to_markdown([ok, bad], machine, "autotune bench", "today", 1.0, "1 minute", 20.0)
    assert "| softmax | large |" in md and "**FAILED**" in md
    assert "softmax` large autotune: wrong results: max abs error 3" in md
    assert "n/a (no autotune time)" in md
    rows = list(csv.DictReader(io.StringIO(timing.to_csv([ok, bad]))))
    assert [r["operator"] for r in rows] == ["gemm", "softmax"]
    assert rows[1]["autotune_s"] == "" and rows[1]["autotune_status"].startswith("FAILED")
    assert rows[0]["speedup_vendor_over_autotune"] == "0.5"


def test_memory_level_is_the_smallest_cache_that_holds_the_buffers() -> None:
    caches = {"l2": 1 << 20, "l3": 32 << 20}
    assert timing.memory_level(512 << 10, 1, caches) == "l2"
    assert timing.memory_level(3 << 20, 1, caches) == "l3"
    assert timing.memory_level(3 << 19, 2, caches) == "l2"  # two cores, two L2s
    assert timing.memory_level(64 << 20, 1, caches) == "dram"
    assert timing.memory_level(10, 1, {}) == "dram"


def test_plot_writes_a_png_with_missing_values(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from autotune.bench.plot import plot_speedups

    path = tmp_path / "p.png"
    plot_speedups([("gemm", {"a": 0.5, "b": None}), ("relu", {"a": 2.0, "b": 0.01})],
                  [("a", "A"), ("b", "B")], path, "t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------------
# real runs


def test_missing_baselines_and_peaks_degrade_to_na(monkeypatch: pytest.MonkeyPatch) -> None:
    real = timing._optional

    def without(module: str) -> tuple[Any, str]:
        if module in ("measure.baselines", "measure.peak"):
            return None, f"{module} unavailable: not built yet"
        return real(module)

    monkeypatch.setattr(timing, "_optional", without)
    row = timing.run_row(KERNELS, "relu", "small", 1, 1.0)
    assert row.result("source").ok and row.result("autotune").ok
    assert not row.result("vendor").ok and "unavailable" in row.result("vendor").note
    machine, peaks = timing.describe_machine(1)
    assert peaks is None and "unavailable" in machine.peaks_note
    timing.add_roofline([row], peaks, machine.peaks_note)
    assert row.roofline_s is None and "unavailable" in row.roofline_note
    assert row.speedup("vendor")[0] is None


def _autotune(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autotune.cli", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=600)


def test_bench_end_to_end_writes_markdown_csv_and_png(tmp_path: Path) -> None:
    out = tmp_path / "res"
    r = _autotune("bench", "--ops", "relu", "--shape", "small", "--min-repeat-ms", "2",
                  "--kernels", str(KERNELS), "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[1/1] relu" in r.stdout
    md = (out / "bench.md").read_text()
    assert "Command: `autotune bench --ops relu --shape small" in md
    assert "| relu | small |" in md and "autotune (translated, untuned)" in md
    assert "Machine:" in md and "Peaks" in md
    with open(out / "bench.csv") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == timing.CSV_COLUMNS
        rows = list(reader)
    assert len(rows) == 1 and rows[0]["operator"] == "relu" and rows[0]["shape"] == "small"
    assert float(rows[0]["source_s"]) > 0 and float(rows[0]["autotune_s"]) > 0
    assert rows[0]["flops"] == "3" and rows[0]["bytes"] == "24"
    if rows[0]["vendor_s"]:  # torch present: the speedup is the ratio of the two times
        ratio = float(rows[0]["vendor_s"]) / float(rows[0]["autotune_s"])
        assert float(rows[0]["speedup_vendor_over_autotune"]) == pytest.approx(ratio, rel=1e-3)
    else:
        assert rows[0]["vendor_status"].startswith("n/a")
    assert (out / "bench.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_usage_errors(tmp_path: Path) -> None:
    both = _autotune("bench", "--ops", "relu", "--all", "--kernels", str(KERNELS), cwd=tmp_path)
    assert both.returncode == 2 and "not both" in both.stderr
    unknown = _autotune("bench", "--ops", "nope", "--kernels", str(KERNELS), cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown operators" in unknown.stderr
    help_text = _autotune("bench", "--help", cwd=tmp_path).stdout
    assert "quick" in help_text and "minutes" in help_text


def test_translate_mode_still_works(tmp_path: Path) -> None:
    out = tmp_path / "tr"
    r = _autotune("bench", "--translate", "--ops", "relu", "--directions", "cuda->cpu",
                  "--kernels", str(KERNELS), "--out", str(out), "--jobs", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (out / "translate.md").exists() and (out / "translate.csv").exists()
