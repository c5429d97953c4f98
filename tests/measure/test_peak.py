"""Peak microbenchmarks (built and run for real, with a short budget), the cache and the roofline."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest

from autotune.cli import main as cli_main
from measure import peak
from measure.peak import (
    PeakError,
    Peaks,
    build,
    build_flags,
    cache_path,
    compute_peak,
    load_cached,
    machine_peaks,
    roofline_bound,
    roofline_fraction,
    roofline_seconds,
    run_bench,
    save_cached,
)
from measure.sandbox import RunResult
from measure.toolchain import CpuInfo, cpu_info, find_gcc

needs_gcc = pytest.mark.skipif(find_gcc() is None, reason="gcc not found")
CPU = cpu_info()
HAS_AMX = {"amx_tile", "amx_int8"} <= CPU.features


def fake_peaks(**kw: object) -> Peaks:
    base = Peaks(fp32_gflops=100.0, int8_vnni_gops=400.0, amx_int8_tops=None, amx_bf16_tflops=None,
                 bw_l2_gbs=50.0, bw_l3_gbs=25.0, bw_dram_gbs=10.0, threads=1, cpu_model="Test CPU",
                 date="2026-11-24T00:00:00+00:00", cores=[1], isa={"fp32": "avx512"},
                 medians={"fp32": 90.0}, notes={"amx_int8": "not present: test",
                                                  "amx_bf16": "not present: test"})
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peaks]:
    """One real measurement, short budget, into a private cache directory."""
    if find_gcc() is None:
        pytest.skip("gcc not found")
    cache = tmp_path_factory.mktemp("peak-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUTOTUNE_CACHE_DIR", str(cache))
        yield machine_peaks(1, refresh=True, budget_s=0.25, repeats=3)


def test_microbenchmarks_report_plausible_single_core_numbers(measured: Peaks) -> None:
    p = measured
    assert p.threads == 1 and p.cores == [sorted(os.sched_getaffinity(0))[-1]]
    assert p.cpu_model == CPU.model
    assert 10 < p.fp32_gflops < 1000, p
    assert p.isa["fp32"] == ("avx512" if "avx512f" in CPU.features else "avx2")
    if "avx512_vnni" in CPU.features or "avx_vnni" in CPU.features:
        assert p.int8_vnni_gops is not None and 10 < p.int8_vnni_gops < 5000, p
    else:
        assert p.int8_vnni_gops is None and "int8" in p.notes
    for bw in (p.bw_l2_gbs, p.bw_l3_gbs, p.bw_dram_gbs):
        assert 1 < bw < 2000, p
    assert p.bw_dram_gbs < 200, p
    # loose physics only (the VM is shared): a 256 KiB working set streams faster than 512 MiB
    assert p.bw_l2_gbs > p.bw_dram_gbs, p
    for key, med in p.medians.items():
        assert 0 < med, key
    assert p.medians["fp32"] <= p.fp32_gflops * (1 + 1e-4)
    assert p.medians["bw_dram"] <= p.bw_dram_gbs * (1 + 1e-4)


def test_amx_reported_absent_without_the_cpu_flags(measured: Peaks) -> None:
    if HAS_AMX:
        pytest.skip("this CPU has AMX")
    assert measured.amx_int8_tops is None and measured.amx_bf16_tflops is None
    assert "not present" in measured.notes["amx_int8"]
    assert "not present" in measured.notes["amx_bf16"]
    with pytest.raises(ValueError, match="no amx_int8 peak"):
        compute_peak(measured, "amx_int8")


def test_amx_absent_from_cpuinfo_flags() -> None:
    plain = CpuInfo("x", frozenset({"avx512f", "avx512_vnni"}))
    amx = CpuInfo("x", frozenset({"avx512f", "amx_tile", "amx_int8", "amx_bf16"}))
    assert "amx_tile amx_int8" in (peak._amx_absent(plain, "amx_int8") or "")
    assert peak._amx_absent(amx, "amx_int8") is None and peak._amx_absent(amx, "amx_bf16") is None
    assert "-mamx-int8" not in build_flags(plain) and "-march=native" not in build_flags(plain)
    assert {"-mamx-tile", "-mamx-int8", "-mamx-bf16"} <= set(build_flags(amx))


def test_cache_file_is_reused_and_holds_the_measurement(measured: Peaks, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTUNE_CACHE_DIR", str(tmp_path))
    path = save_cached(measured)
    assert path == cache_path(1) and path.parent == tmp_path and path.name.endswith("-t1.json")
    assert json.loads(path.read_text())["fp32_gflops"] == measured.fp32_gflops

    def no_measuring(*a: object, **k: object) -> Peaks:
        raise AssertionError("measured although a cached result exists")

    monkeypatch.setattr(peak, "measure_peaks", no_measuring)
    assert machine_peaks(1) == measured


def test_cache_round_trip_refresh_and_corruption(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTUNE_CACHE_DIR", str(tmp_path))
    calls: list[int] = []

    def fake_measure(threads: int = 1, **kw: object) -> Peaks:
        calls.append(threads)
        return fake_peaks(threads=threads, fp32_gflops=100.0 + len(calls))

    monkeypatch.setattr(peak, "measure_peaks", fake_measure)
    assert load_cached(2) is None
    first = machine_peaks(2)
    assert calls == [2] and first.fp32_gflops == 101.0
    assert cache_path(2).name.endswith("-t2.json") and cache_path(2).exists()
    assert machine_peaks(2) == first and calls == [2]           # from the cache
    assert load_cached(1) is None                               # per thread count
    assert machine_peaks(2, refresh=True).fp32_gflops == 102.0   # measured again, re-cached
    assert load_cached(2) == machine_peaks(2)
    cache_path(2).write_text("{ not json")
    assert load_cached(2) is None
    assert machine_peaks(2).fp32_gflops == 103.0 and len(calls) == 3
    old = json.loads(cache_path(2).read_text())
    cache_path(2).write_text(json.dumps({**old, "schema": 0}))
    assert load_cached(2) is None
    other = CpuInfo("Other CPU", frozenset({"avx2"}))
    assert cache_path(2, other) != cache_path(2)


def test_roofline_math_on_hand_made_numbers() -> None:
    p = fake_peaks()  # 100 GFLOP/s fp32, 400 GOP/s int8, 10 GB/s DRAM, 50 GB/s L2
    # compute bound: 2 GFLOP take 20 ms, 100 MB take 10 ms
    assert roofline_seconds(2e9, 1e8, p) == pytest.approx(0.02)
    assert roofline_bound(2e9, 1e8, p) == "compute"
    assert roofline_fraction(0.04, 2e9, 1e8, p) == pytest.approx(0.5)
    # memory bound: 1 GB takes 100 ms
    assert roofline_seconds(1e9, 1e9, p) == pytest.approx(0.1)
    assert roofline_bound(1e9, 1e9, p) == "memory"
    assert roofline_fraction(0.1, 1e9, 1e9, p) == pytest.approx(1.0)
    assert roofline_seconds(1e9, 1e9, p, memory="l2") == pytest.approx(0.02)
    assert roofline_seconds(4e9, 0, p, kind="int8") == pytest.approx(0.01)
    # int8 takes the faster of VNNI and AMX; bf16 without AMX falls back to the fp32 peak
    amx = fake_peaks(amx_int8_tops=4.0, amx_bf16_tflops=2.0)
    assert compute_peak(amx, "int8") == pytest.approx(4e12)
    assert compute_peak(amx, "int8_vnni") == pytest.approx(4e11)
    assert compute_peak(amx, "bf16") == pytest.approx(2e12)
    assert compute_peak(p, "bf16") == pytest.approx(1e11)
    with pytest.raises(ValueError):
        compute_peak(p, "amx_bf16")
    with pytest.raises(ValueError):
        compute_peak(p, "fp64")
    with pytest.raises(ValueError):
        roofline_seconds(1, 1, p, memory="l1")
    with pytest.raises(ValueError):
        roofline_fraction(0.0, 1, 1, p)
    with pytest.raises(ValueError):
        roofline_seconds(-1, 1, p)


def test_failed_benchmark_is_a_peak_error() -> None:
    crash = RunResult("crash", -11, "SIGSEGV", "", "boom", 0.1, "killed by SIGSEGV")
    with pytest.raises(PeakError, match="SIGSEGV"):
        peak.parse_output("fp32", crash)
    junk = RunResult("ok", 0, None, "hello\n", "", 0.1, "exited normally")
    with pytest.raises(PeakError):
        peak.parse_output("fp32", junk)
    skip = RunResult("ok", 0, None, "SKIP int8 not present: x\n", "", 0.1, "exited normally")
    assert peak.parse_output("int8", skip).note == "not present: x"


@needs_gcc
@pytest.mark.skipif(not {"avx2", "fma"} <= CPU.features, reason="needs AVX2+FMA")
def test_avx2_fallback_build_runs(tmp_path: Path) -> None:
    exe = build(tmp_path, ["-O2", "-fopenmp", "-mavx2", "-mfma"])
    core = (sorted(os.sched_getaffinity(0))[-1],)
    r = run_bench(exe, "fp32", [], core, budget_s=0.1, repeats=3)
    assert r.isa == "avx2" and r.best is not None and 5 < r.best < 1000
    assert run_bench(exe, "int8", [], core, budget_s=0.1, repeats=3).best is None  # no VNNI flag
    t = run_bench(exe, "triad", [str(1 << 20)], core, budget_s=0.1, repeats=3)
    assert t.best is not None and t.best > 1


@needs_gcc
def test_amx_source_compiles_and_asks_the_kernel_first(tmp_path: Path) -> None:
    """The AMX path builds with the AMX flags; on a CPU without AMX, the arch_prctl permission
    request fails and the benchmark says so (no SIGILL); with AMX it measures."""
    flags = [*build_flags(), "-mamx-tile", "-mamx-int8", "-mamx-bf16"]
    exe = build(tmp_path, flags)
    core = (sorted(os.sched_getaffinity(0))[-1],)
    for name in ("amx_int8", "amx_bf16"):
        r = run_bench(exe, name, [], core, budget_s=0.1, repeats=3)
        if HAS_AMX:
            assert r.best is not None and r.best > 0.1
        else:
            assert r.best is None and "refused" in r.note, r


def test_cli_platforms_peak_prints_the_cached_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AUTOTUNE_CACHE_DIR", str(tmp_path))
    save_cached(fake_peaks(fp32_gflops=123.5, bw_dram_gbs=12.25))
    assert cli_main(["platforms", "--peak"]) == 0
    out = capsys.readouterr().out
    assert "cpu   :" in out and "peak  :" in out
    assert "123.5 GFLOP/s" in out and "12.25 GB/s" in out and "not present: test" in out
    assert str(cache_path(1)) in out
    assert cli_main(["platforms", "--peak", "--threads", "100000"]) == 2
    assert "cores are available" in capsys.readouterr().err
