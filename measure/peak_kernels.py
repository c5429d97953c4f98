"""C source of the peak microbenchmarks that ``measure.peak`` builds and runs.

One program, one benchmark per invocation: ``peak BENCH BUDGET_S REPEATS [BYTES]``. The benchmark
is chosen by name (``fp32``, ``int8``, ``amx_int8``, ``amx_bf16``, ``triad``); which instruction set
each uses is fixed at compile time from the ``-m`` flags (``__AVX512F__``, ``__AVX512VNNI__``...),
so the same source builds on a machine with AVX2 only. It prints one line:

    RESULT <bench> best=<rate> median=<rate> unit=<unit> isa=<isa> iters=<n> repeats=<r> threads=<t>

or ``SKIP <bench> <reason>`` when the unit is absent (exit 0), or an error on stderr (exit 1).

Timing: an OpenMP parallel region (one thread per pinned core; ``OMP_NUM_THREADS`` sets how many),
timed with ``CLOCK_MONOTONIC`` around the region. An inner iteration count is calibrated until one
sample lasts ``BUDGET_S / (REPEATS + 1)``, then ``REPEATS`` samples are taken; best and median are
reported. Work counted:

- fp32: 2 flops per lane per FMA (16 lanes for zmm, 8 for ymm), 16 (zmm) or 12 (ymm) independent
  accumulator chains, enough to hide a 4-5 cycle latency on two FMA ports.
- int8: ``vpdpbusd`` multiplies and adds 64 (zmm) / 32 (ymm) u8*s8 byte pairs: 2 ops per pair.
- amx_int8: ``tdpbssd`` on 16x64-byte tiles: M=16, N=16, K=64, 2*M*N*K = 32768 ops per instruction,
  four independent accumulator tiles (tmm0-3) fed by two A tiles (tmm4-5) and two B tiles (tmm6-7).
- amx_bf16: ``tdpbf16ps``: M=16, N=16, K=32, 16384 flops per instruction, same tile layout.
- triad: ``a[i] = b[i] + s * c[i]`` on float arrays of BYTES in total; each element counts
  3 x 4 bytes (two read, one written; the write-allocate read of ``a`` is NOT counted, as in
  STREAM and in DESIGN.md section 9). Arrays are split between threads (first touch by the thread
  that uses them) and staggered so that a, b and c do not alias modulo 4 KiB.
"""

from __future__ import annotations

PEAK_C = r"""
#define _GNU_SOURCE
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <omp.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A kernel runs `iters` inner iterations on thread `tid` of `nt` and returns a checksum (so that
   nothing is optimised away). */
typedef double (*kernel_fn)(long iters, int tid, int nt, void *ctx);

static volatile double g_sink;

static double run_once(kernel_fn fn, long iters, void *ctx) {
  double sink = 0.0;
  double t0 = now_s();
#pragma omp parallel reduction(+ : sink)
  sink += fn(iters, omp_get_thread_num(), omp_get_num_threads(), ctx);
  double t = now_s() - t0;
  g_sink += sink;
  return t;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* work_per_iter: units of work (flops, ops or bytes) done by ALL threads per inner iteration. */
static void measure(const char *name, const char *isa, const char *unit, double unit_scale,
                    kernel_fn fn, void *ctx, double work_per_iter, double budget, int repeats) {
  double target = budget / (repeats + 1);
  long iters = 1;
  double t = run_once(fn, iters, ctx); /* warm-up: threads, pages, caches, clocks */
  for (;;) {
    t = run_once(fn, iters, ctx);
    if (t >= target * 0.5 || iters > (1L << 40)) break;
    double grow = t > 0 ? target / t : 1024.0;
    if (grow > 1024.0) grow = 1024.0;
    if (grow < 2.0) grow = 2.0;
    iters = (long)(iters * grow);
  }
  if (t < target && t > 0) {
    long want = (long)(iters * (target / t));
    if (want > iters) iters = want;
  }
  double *rates = malloc(sizeof(double) * (size_t)repeats);
  if (!rates) { fprintf(stderr, "out of memory\n"); exit(1); }
  for (int r = 0; r < repeats; r++) {
    t = run_once(fn, iters, ctx);
    rates[r] = work_per_iter * (double)iters / t / unit_scale;
  }
  qsort(rates, (size_t)repeats, sizeof(double), cmp_double);
  double median = repeats % 2 ? rates[repeats / 2]
                              : 0.5 * (rates[repeats / 2 - 1] + rates[repeats / 2]);
  printf("RESULT %s best=%.6g median=%.6g unit=%s isa=%s iters=%ld repeats=%d threads=%d\n", name,
         rates[repeats - 1], median, unit, isa, iters, repeats, omp_get_max_threads());
  free(rates);
}

/* ---------------- fp32 FMA ---------------- */
#define REP16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define REP12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

#if defined(__AVX512F__)
#define FP32_ISA "avx512"
#define FP32_FLOPS_PER_ITER (2.0 * 16 * 16 * 2)
static double fp32_kernel(long iters, int tid, int nt, void *ctx) {
  (void)nt; (void)ctx;
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-6f);
#define DECL(i) __m512 c##i = _mm512_set1_ps((float)(tid + i) * 1e-3f);
#define STEP(i) c##i = _mm512_fmadd_ps(c##i, a, b);
#define SUM(i) s = _mm512_add_ps(s, c##i);
  REP16(DECL)
  for (long it = 0; it < iters; it++) { REP16(STEP) REP16(STEP) }
  __m512 s = _mm512_setzero_ps();
  REP16(SUM)
#undef DECL
#undef STEP
#undef SUM
  return (double)_mm512_reduce_add_ps(s);
}
#elif defined(__AVX2__) && defined(__FMA__)
#define FP32_ISA "avx2"
#define FP32_FLOPS_PER_ITER (2.0 * 8 * 12 * 2)
static double fp32_kernel(long iters, int tid, int nt, void *ctx) {
  (void)nt; (void)ctx;
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-6f);
#define DECL(i) __m256 c##i = _mm256_set1_ps((float)(tid + i) * 1e-3f);
#define STEP(i) c##i = _mm256_fmadd_ps(c##i, a, b);
#define SUM(i) s = _mm256_add_ps(s, c##i);
  REP12(DECL)
  for (long it = 0; it < iters; it++) { REP12(STEP) REP12(STEP) }
  __m256 s = _mm256_setzero_ps();
  REP12(SUM)
#undef DECL
#undef STEP
#undef SUM
  float v[8];
  _mm256_storeu_ps(v, s);
  return (double)(v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7]);
}
#else
#define FP32_ISA "none"
#endif

/* ---------------- int8 VNNI ---------------- */
#if defined(__AVX512VNNI__) && defined(__AVX512F__)
#define INT8_ISA "avx512_vnni"
#define INT8_OPS_PER_ITER (2.0 * 64 * 16 * 2)
static double int8_kernel(long iters, int tid, int nt, void *ctx) {
  (void)nt; (void)ctx;
  const __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(-2);
#define DECL(i) __m512i c##i = _mm512_set1_epi32(tid + i);
#define STEP(i) c##i = _mm512_dpbusd_epi32(c##i, x, y);
#define SUM(i) s = _mm512_add_epi32(s, c##i);
  REP16(DECL)
  for (long it = 0; it < iters; it++) { REP16(STEP) REP16(STEP) }
  __m512i s = _mm512_setzero_si512();
  REP16(SUM)
#undef DECL
#undef STEP
#undef SUM
  return (double)_mm512_reduce_add_epi32(s);
}
#elif defined(__AVXVNNI__)
#define INT8_ISA "avx_vnni"
#define INT8_OPS_PER_ITER (2.0 * 32 * 12 * 2)
static double int8_kernel(long iters, int tid, int nt, void *ctx) {
  (void)nt; (void)ctx;
  const __m256i x = _mm256_set1_epi8(3), y = _mm256_set1_epi8(-2);
#define DECL(i) __m256i c##i = _mm256_set1_epi32(tid + i);
#define STEP(i) c##i = _mm256_dpbusd_avx_epi32(c##i, x, y);
#define SUM(i) s = _mm256_add_epi32(s, c##i);
  REP12(DECL)
  for (long it = 0; it < iters; it++) { REP12(STEP) REP12(STEP) }
  __m256i s = _mm256_setzero_si256();
  REP12(SUM)
#undef DECL
#undef STEP
#undef SUM
  int v[8];
  _mm256_storeu_si256((__m256i *)v, s);
  return (double)v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}
#else
#define INT8_ISA "none"
#endif

/* ---------------- AMX ---------------- */
#if defined(__AMX_TILE__) && (defined(__AMX_INT8__) || defined(__AMX_BF16__))
#define HAVE_AMX 1
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

typedef struct {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
} __attribute__((packed)) tile_config;

/* All eight tiles 16 rows x 64 bytes: C (int32 or fp32) 16x16, A 16x64 int8 or 16x32 bf16,
   B (K/4 rows of 16 int8 quads, or K/2 rows of 16 bf16 pairs) 16x64 bytes. */
static void amx_configure(void) {
  tile_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.palette_id = 1;
  for (int t = 0; t < 8; t++) { cfg.colsb[t] = 64; cfg.rows[t] = 16; }
  _tile_loadconfig(&cfg);
}

static int amx_permission(void) {
  return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

static _Alignas(64) uint8_t g_tile_src[4][16 * 64];

static void amx_load_sources(void) {
  _tile_loadd(4, g_tile_src[0], 64);
  _tile_loadd(5, g_tile_src[1], 64);
  _tile_loadd(6, g_tile_src[2], 64);
  _tile_loadd(7, g_tile_src[3], 64);
}

static double amx_sum_accumulators(void) {
  _Alignas(64) float out[4][16 * 16];
  _tile_stored(0, out[0], 64);
  _tile_stored(1, out[1], 64);
  _tile_stored(2, out[2], 64);
  _tile_stored(3, out[3], 64);
  _tile_release();
  double s = 0.0;
  const unsigned char *p = (const unsigned char *)out;
  for (size_t i = 0; i < sizeof out; i++) s += p[i];
  return s;
}
#endif

#if defined(HAVE_AMX) && defined(__AMX_INT8__)
#define AMX_INT8_OPS_PER_ITER (4.0 * 2 * 16 * 16 * 64)
static double amx_int8_kernel(long iters, int tid, int nt, void *ctx) {
  (void)tid; (void)nt; (void)ctx;
  amx_configure();
  _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
  amx_load_sources();
  for (long it = 0; it < iters; it++) {
    _tile_dpbssd(0, 4, 6);
    _tile_dpbssd(1, 4, 7);
    _tile_dpbssd(2, 5, 6);
    _tile_dpbssd(3, 5, 7);
  }
  return amx_sum_accumulators();
}
#endif

#if defined(HAVE_AMX) && defined(__AMX_BF16__)
#define AMX_BF16_FLOPS_PER_ITER (4.0 * 2 * 16 * 16 * 32)
static double amx_bf16_kernel(long iters, int tid, int nt, void *ctx) {
  (void)tid; (void)nt; (void)ctx;
  amx_configure();
  _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
  amx_load_sources();
  for (long it = 0; it < iters; it++) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  return amx_sum_accumulators();
}
#endif

/* ---------------- STREAM-like triad ---------------- */
typedef struct { float *a, *b, *c; long n; float s; } triad_ctx;

static void triad_range(long n, int tid, int nt, long *lo, long *hi) {
  long blocks = n / 16, per = blocks / nt, extra = blocks % nt;
  long start = tid * per + (tid < extra ? tid : extra);
  *lo = 16 * start;
  *hi = 16 * (start + per + (tid < extra ? 1 : 0));
}

static double triad_kernel(long iters, int tid, int nt, void *vctx) {
  triad_ctx *t = vctx;
  long lo, hi;
  triad_range(t->n, tid, nt, &lo, &hi);
  float *restrict a = t->a;
  const float *restrict b = t->b, *restrict c = t->c;
  for (long it = 0; it < iters; it++) {
#if defined(__AVX512F__)
    const __m512 s = _mm512_set1_ps(t->s);
    for (long i = lo; i < hi; i += 16)
      _mm512_store_ps(a + i, _mm512_fmadd_ps(s, _mm512_load_ps(c + i), _mm512_load_ps(b + i)));
#elif defined(__AVX__)
    const __m256 s = _mm256_set1_ps(t->s);
    for (long i = lo; i < hi; i += 8)
      _mm256_store_ps(a + i, _mm256_add_ps(_mm256_load_ps(b + i),
                                           _mm256_mul_ps(s, _mm256_load_ps(c + i))));
#else
    for (long i = lo; i < hi; i++) a[i] = b[i] + t->s * c[i];
#endif
    __asm__ volatile("" ::: "memory");
  }
  return hi > lo ? (double)a[lo] : 0.0;
}

static void triad_init(triad_ctx *t) {
#pragma omp parallel
  {
    long lo, hi;
    triad_range(t->n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
    for (long i = lo; i < hi; i++) { t->a[i] = 0.0f; t->b[i] = 1.0f; t->c[i] = 2.0f; }
  }
}

static int run_triad(double budget, int repeats, long bytes) {
  long n = bytes / 12 / 16 * 16;
  if (n < 16 * omp_get_max_threads()) { fprintf(stderr, "triad: %ld bytes is too small\n", bytes); return 1; }
  long stride = (n + 1023) / 1024 * 1024 + 64; /* staggered by 256 bytes modulo 4 KiB */
  size_t total = sizeof(float) * (size_t)stride * 3;
  size_t align = 2u << 20;
  float *base = NULL;
  if (posix_memalign((void **)&base, align, (total + align - 1) / align * align) != 0) {
    fprintf(stderr, "AUTOTUNE_OOM: triad could not allocate %zu bytes\n", total);
    return 1;
  }
#ifdef MADV_HUGEPAGE
  madvise(base, (total + align - 1) / align * align, MADV_HUGEPAGE);
#endif
  triad_ctx t = {base, base + stride, base + 2 * stride, n, 3.0f};
  triad_init(&t);
  measure("triad", "triad", "GB/s", 1e9, triad_kernel, &t, 12.0 * (double)n, budget, repeats);
  if (t.a[0] != 7.0f || t.a[n - 1] != 7.0f) { fprintf(stderr, "triad: wrong result\n"); return 1; }
  free(base);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s fp32|int8|amx_int8|amx_bf16|triad BUDGET_S REPEATS [BYTES]\n", argv[0]);
    return 2;
  }
  const char *bench = argv[1];
  double budget = atof(argv[2]);
  int repeats = atoi(argv[3]);
  if (budget <= 0 || repeats < 1) { fprintf(stderr, "bad budget or repeats\n"); return 2; }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (!strcmp(bench, "fp32")) {
#ifdef FP32_FLOPS_PER_ITER
    measure("fp32", FP32_ISA, "GFLOP/s", 1e9, fp32_kernel, NULL,
            FP32_FLOPS_PER_ITER * omp_get_max_threads(), budget, repeats);
#else
    printf("SKIP fp32 not present: built without AVX2+FMA or AVX-512\n");
#endif
    return 0;
  }
  if (!strcmp(bench, "int8")) {
#ifdef INT8_OPS_PER_ITER
    measure("int8", INT8_ISA, "GOP/s", 1e9, int8_kernel, NULL,
            INT8_OPS_PER_ITER * omp_get_max_threads(), budget, repeats);
#else
    printf("SKIP int8 not present: built without AVX512-VNNI or AVX-VNNI\n");
#endif
    return 0;
  }
  if (!strcmp(bench, "amx_int8") || !strcmp(bench, "amx_bf16")) {
#ifdef HAVE_AMX
    if (!amx_permission()) {
      printf("SKIP %s not present: the kernel refused AMX tile data (arch_prctl "
             "ARCH_REQ_XCOMP_PERM failed)\n", bench);
      return 0;
    }
#endif
    if (!strcmp(bench, "amx_int8")) {
#if defined(HAVE_AMX) && defined(__AMX_INT8__)
      memset(g_tile_src, 1, sizeof g_tile_src);
      measure("amx_int8", "amx_int8", "TOP/s", 1e12, amx_int8_kernel, NULL,
              AMX_INT8_OPS_PER_ITER * omp_get_max_threads(), budget, repeats);
#else
      printf("SKIP amx_int8 not present: built without -mamx-tile -mamx-int8\n");
#endif
    } else {
#if defined(HAVE_AMX) && defined(__AMX_BF16__)
      for (size_t i = 0; i < sizeof g_tile_src / 2; i++)
        ((uint16_t *)g_tile_src)[i] = 0x3c00; /* bf16 1/128 */
      measure("amx_bf16", "amx_bf16", "TFLOP/s", 1e12, amx_bf16_kernel, NULL,
              AMX_BF16_FLOPS_PER_ITER * omp_get_max_threads(), budget, repeats);
#else
      printf("SKIP amx_bf16 not present: built without -mamx-tile -mamx-bf16\n");
#endif
    }
    return 0;
  }
  if (!strcmp(bench, "triad")) {
    if (argc < 5) { fprintf(stderr, "triad needs BYTES\n"); return 2; }
    return run_triad(budget, repeats, atol(argv[4]));
  }
  fprintf(stderr, "unknown benchmark %s\n", bench);
  return 2;
}
"""
