"""The search space: the grammar's sequences apply to the corpus GEMM, sampling is sequential and
deterministic and yields verified programs, mutation and crossover change what they say they
change, and the canonical hash identifies programs up to names and routes."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from measure.platforms import get_platform
from measure.spec import KernelSpec, load_spec
from passes import ir
from passes.frontend import parse_module
from passes.printer import print_module
from passes.schedule import PASSES, apply_sequence
from search_space import (
    Candidate,
    Deduplicator,
    Failure,
    canonical_text,
    crossover,
    decode,
    encode,
    enumerate_sequences,
    grammar,
    mutate,
    program_hash,
    replay,
    sample,
    sample_or_failure,
    sequence_choices,
    viable_sequences,
)

ROOT = Path(__file__).resolve().parents[2]
GEMM_SRC = (ROOT / "kernels/gemm/gemm.c").read_text()

NAIVE_GEMM = """
void gemm(const float* A, const float* B, float* C, int M, int N, int K) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            C[i * N + j] = 0.0f;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            for (int k = 0; k < K; k++)
                C[i * N + j] += A[i * K + k] * B[k * N + j];
}
"""


@pytest.fixture(scope="module")
def gemm() -> tuple[ir.Module, ir.Function, KernelSpec]:
    module = parse_module(GEMM_SRC, "cpu")
    spec = load_spec(ROOT / "kernels/gemm/gemm.c.toml")
    return module, module.function(spec.entry), spec


def naive() -> tuple[ir.Module, ir.Function]:
    module = parse_module(NAIVE_GEMM, "cpu")
    return module, module.function("gemm")


def verify(module: ir.Module, cand: Candidate, spec: KernelSpec) -> None:
    text = print_module(module.with_function(cand.fn), "cpu")
    verdict = get_platform("cpu").verify(text, spec)
    assert verdict.ok and verdict.mode == "device", f"{cand.describe()}: {verdict.reason}\n{text}"


# ------------------------------------------------------------------------------------ grammar


def test_grammar_sequences_are_distinct_stable_and_accepted() -> None:
    seqs = enumerate_sequences("cpu", max_len=6)
    assert len(seqs) == len(set(seqs)) == 95  # 2*3*2*2*2*2 = 96 combinations, 1 longer than 6
    assert seqs[0] == () and seqs == enumerate_sequences("cpu", max_len=6)
    assert all(grammar("cpu").accepts(q) for q in seqs)
    assert [len(q) for q in seqs] == sorted(len(q) for q in seqs)
    assert all(len(q) <= 3 for q in enumerate_sequences("cpu", max_len=3))
    assert ("split", "reorder") in seqs and ("reorder", "split") not in seqs  # tiling order
    assert all(q[-1] == "parallel" for q in seqs if "parallel" in q)
    assert not grammar("cpu").accepts(("split", "split", "split"))
    assert not grammar("cpu").accepts(("vectorize", "split"))
    # Optuna categorical: strings, round-trip, empty sequence first
    choices = sequence_choices("cpu", max_len=4)
    assert choices[0] == "none" and len(choices) == len(set(choices))
    assert [decode(c) for c in choices] == enumerate_sequences("cpu", max_len=4)
    assert encode(("split", "vectorize")) == "split>vectorize"
    with pytest.raises(ValueError, match="unknown pass"):
        decode("split>tile")
    assert enumerate_sequences("cuda") == [()] and sequence_choices("cuda", source="cpu") == ["none"]


def test_every_viable_sequence_applies_to_the_corpus_gemm(gemm: tuple[ir.Module, ir.Function, KernelSpec]) -> None:
    _, fn, _ = gemm
    seqs = enumerate_sequences("cpu", max_len=6)
    viable = viable_sequences(fn, seqs)
    # the corpus GEMM has no two neighbouring loops with one header: fuse has no site there
    assert [q for q in seqs if q not in viable] == [q for q in seqs if q and q[0] == "fuse"]
    for n, q in enumerate(viable):
        got = sample_or_failure(fn, q, random.Random(n))
        assert isinstance(got, Candidate), f"{encode(q)}: {got}"
        assert apply_sequence(got.programs[0], got.steps) == got.fn
        if q:
            assert got.fn != got.programs[0]
    # the fuse sequences apply where fuse has a site (two nests over i)
    _, nfn = naive()
    fuse_seqs = [q for q in seqs if q and q[0] == "fuse"]
    assert viable_sequences(nfn, fuse_seqs) == fuse_seqs
    ok = [q for q in fuse_seqs if sample(nfn, q, random.Random(7)) is not None]
    assert len(ok) >= len(fuse_seqs) // 2, [encode(q) for q in fuse_seqs if q not in ok]


# ----------------------------------------------------------------------------------- sampling


def test_sampling_is_sequential_and_deterministic(gemm: tuple[ir.Module, ir.Function, KernelSpec]) -> None:
    _, fn, _ = gemm
    seq = ("split", "split", "reorder", "vectorize", "parallel")
    a = [sample(fn, seq, random.Random(s)) for s in range(6)]
    b = [sample(fn, seq, random.Random(s)) for s in range(6)]
    assert all(x is not None for x in a)
    assert [x.params for x in a if x] == [y.params for y in b if y]
    assert len({program_hash(x.fn) for x in a if x}) > 1  # the seed matters
    for cand in a:
        assert cand is not None and len(cand.programs) == len(seq) + 1
        # each step's params were listed by the space of the program *before* that step
        for n, (name, params) in enumerate(cand.steps):
            sites = {s.loop: s for s in PASSES[name].space(cand.programs[n])}
            assert params["loop"] in sites
            assert PASSES[name].apply(cand.programs[n], params) == cand.programs[n + 1]


def test_sampling_gives_up_with_the_reason() -> None:
    module = parse_module("void f(float* x) { x[0] = 1.0f; }", "cpu")
    fn = module.function("f")
    assert sample(fn, ("split",), random.Random(0)) is None
    got = sample_or_failure(fn, ("split",), random.Random(0))
    assert isinstance(got, Failure) and got.step == 0 and "no site" in got.reason
    # a step whose every configuration is refused: reorder of a nest with a reversed dependence
    module = parse_module("""
void g(float* a, int n) {
    for (int i = 1; i < n; i++)
        for (int j = 0; j < n - 1; j++)
            a[i * n + j] = a[(i - 1) * n + j + 1] + 1.0f;
}""", "cpu")
    got = sample_or_failure(module.function("g"), ("reorder",), random.Random(0))
    assert isinstance(got, Failure) and got.refusals and "reorder" in got.reason, got


def test_sampled_candidates_verify(gemm: tuple[ir.Module, ir.Function, KernelSpec]) -> None:
    module, fn, spec = gemm
    rng = random.Random(2026)
    seqs = [("split", "split", "reorder", "vectorize", "unroll"), ("split", "vectorize", "parallel"),
            ("split", "reorder", "unroll", "parallel"), ("split", "split", "reorder", "vectorize", "parallel")]
    dedup = Deduplicator("cpu")
    verified = 0
    for q in seqs:
        cand = sample(fn, q, rng)
        assert cand is not None, q
        if dedup.add(module.with_function(cand.fn)):
            verify(module, cand, spec)
            verified += 1
    assert verified >= 3


# ---------------------------------------------------------------------------- mutation, crossover


def test_mutation_changes_one_step_or_says_why(gemm: tuple[ir.Module, ir.Function, KernelSpec]) -> None:
    module, fn, spec = gemm
    seq = ("split", "split", "reorder", "vectorize", "parallel")
    rng = random.Random(11)
    mutated = 0
    for s in range(8):
        parent = sample(fn, seq, random.Random(100 + s))
        assert parent is not None
        child = mutate(fn, parent, rng)
        assert isinstance(child, Candidate), child
        changed = [n for n in range(len(seq)) if child.params[n] != parent.params[n]]
        assert child.mutated in changed
        assert set(changed) <= {child.mutated, *child.resampled}
        assert all(n > child.mutated for n in child.resampled)
        for n in child.resampled:  # a later step is re-drawn only with the reason
            assert any(r.startswith(f"step {n} ") for r in child.refusals)
        assert apply_sequence(child.programs[0], child.steps) == child.fn
        mutated += not child.resampled
        if s == 0:
            verify(module, child, spec)
    assert mutated >= 2  # a mutated split often renames what the reorder after it used
    # nothing to mutate: the empty sequence, and a step with a single configuration
    empty = sample(fn, (), rng)
    assert empty is not None and isinstance(mutate(fn, empty, rng), Failure)
    only = sample(fn, ("reorder",), rng)  # the corpus GEMM has one band with one other order
    assert only is not None
    why = mutate(fn, only, rng)
    assert isinstance(why, Failure) and "no other configuration" in why.reason
    with pytest.raises(ValueError, match="not made from this program"):
        mutate(naive()[1], only, rng)


def test_crossover_takes_each_step_from_a_parent(gemm: tuple[ir.Module, ir.Function, KernelSpec]) -> None:
    _, fn, _ = gemm
    seq = ("split", "split", "vectorize", "unroll", "parallel")
    rng = random.Random(5)
    mixed = 0
    for s in range(6):
        a = sample(fn, seq, random.Random(200 + s))
        b = sample(fn, seq, random.Random(300 + s))
        assert a is not None and b is not None
        child = crossover(fn, a, b, rng)
        if isinstance(child, Failure):
            assert "neither parent" in child.reason
            continue
        for n, who in enumerate(child.origins):
            assert child.params[n] == (a if who == "a" else b).params[n]
        assert apply_sequence(child.programs[0], child.steps) == child.fn
        mixed += len(set(child.origins)) == 2
    assert mixed >= 2
    other = sample(fn, ("split",), rng)
    assert a is not None and other is not None
    with pytest.raises(ValueError, match="one sequence"):
        crossover(fn, a, other, rng)


# ---------------------------------------------------------------------------------- de-dup


def _renamed_source() -> str:
    # alpha-rename the locals of the corpus GEMM: a -> acc_in, k -> kk, j -> col
    out = GEMM_SRC.replace("float a = A", "float acc_in = A").replace("+= a *", "+= acc_in *")
    out = re.sub(r"\bk\b", "kk", out.split("void gemm", 1)[1])
    out = re.sub(r"\bj\b", "col", out)
    return "#include <omp.h>\nvoid gemm" + out


def test_renamed_variables_hash_equal(gemm: tuple[ir.Module, ir.Function, KernelSpec]) -> None:
    module, fn, _ = gemm
    other = parse_module(_renamed_source(), "cpu")
    assert print_module(other, "cpu") != print_module(module, "cpu")
    assert program_hash(other) == program_hash(module)
    # and after the same transformation, whose new loop is named after the old one (k_o, kk_o)
    a = replay(fn, ("split",), ({"loop": "k", "factor": 8},))
    b = replay(other.function("gemm"), ("split",), ({"loop": "kk", "factor": 8},))
    assert isinstance(a, Candidate) and isinstance(b, Candidate)
    assert "kk_o" in print_module(other.with_function(b.fn), "cpu")
    assert program_hash(module.with_function(a.fn)) == program_hash(other.with_function(b.fn))


def test_two_routes_to_one_program_hash_equal(gemm: tuple[ir.Module, ir.Function, KernelSpec]) -> None:
    module, fn, _ = gemm
    i4 = {"loop": "i", "factor": 4}
    j8 = {"loop": "j_1", "factor": 8}
    a = replay(fn, ("split", "split"), (i4, j8))
    b = replay(fn, ("split", "split"), (j8, i4))
    assert isinstance(a, Candidate) and isinstance(b, Candidate) and a.params != b.params
    assert program_hash(module.with_function(a.fn)) == program_hash(module.with_function(b.fn))
    # and through different *sequences*: fuse then split, versus the same split on a source
    # written fused with other names
    nmod, nfn = naive()
    fused = replay(nfn, ("fuse", "split"), ({"loop": "i"}, {"loop": "i", "factor": 4}))
    assert isinstance(fused, Candidate)
    by_hand = parse_module("""
void gemm(const float* A, const float* B, float* C, int M, int N, int K) {
    for (int r = 0; r < M; r++) {
        for (int c = 0; c < N; c++)
            C[r * N + c] = 0.0f;
        for (int c2 = 0; c2 < N; c2++)
            for (int t = 0; t < K; t++)
                C[r * N + c2] += A[r * K + t] * B[t * N + c2];
    }
}""", "cpu")
    split = replay(by_hand.function("gemm"), ("split",), ({"loop": "r", "factor": 4},))
    assert isinstance(split, Candidate)
    assert canonical_text(nmod.with_function(fused.fn)) == canonical_text(by_hand.with_function(split.fn))
    assert program_hash(nmod.with_function(fused.fn)) == program_hash(by_hand.with_function(split.fn))


def test_different_programs_hash_different(gemm: tuple[ir.Module, ir.Function, KernelSpec]) -> None:
    module, fn, _ = gemm
    variants = [fn] + [PASSES["split"].apply(fn, {"loop": "k", "factor": f}) for f in (2, 4)] + [
        PASSES["unroll"].apply(fn, {"loop": "k", "factor": 4, "mode": "pragma"}),
        PASSES["reorder"].apply(fn, {"loop": "k", "order": ("j_1", "k")})]
    hashes = [program_hash(module.with_function(v)) for v in variants]
    assert len(set(hashes)) == len(hashes)
    nmod = naive()[0]  # serial: printable for both targets
    assert program_hash(nmod, "cpu") != program_hash(nmod, "cuda")
    # swapping two *parameters* is a different program: parameters are not renamed
    swapped = parse_module(GEMM_SRC.replace("int M, int N, int K", "int N, int M, int K"), "cpu")
    assert program_hash(swapped) != program_hash(module)
    dedup = Deduplicator("cpu", known=[hashes[0]])
    assert module in dedup or dedup.seen(module)
    assert not dedup.add(module) and dedup.add(module.with_function(variants[1]))
    assert not dedup.add(module.with_function(variants[1])) and len(dedup) == 2
