// emu_runtime.h - launches, the block scheduler, barriers and warp collectives.
//
// Execution model (summary of the semantics in cuda_emu.h):
// * blocks of a grid run one after another, in blockIdx order (x fastest);
// * the threads of a block are fibers on the one OS thread; the scheduler runs each ready fiber
//   until it blocks at a barrier / warp collective or returns;
// * __syncthreads() completes when every thread of the block has either arrived or returned. All
//   waiting threads must wait at the SAME __syncthreads (same source line): divergent barriers are
//   undefined behaviour in CUDA and are reported as a deadlock (compile with
//   -DEMU_LENIENT_BARRIERS to only count arrivals, like bar.sync on recent GPUs);
// * a warp collective completes when every lane named in its mask that exists and has not returned
//   waits at a warp collective; all of them must be the same intrinsic with the same mask;
// * when nothing can run and nothing can complete, the emulator prints "emulator: deadlock ..." and
//   exits with status 3 instead of hanging.
#pragma once
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "emu_fiber.h"
#include "emu_types.h"

#ifndef EMU_WARP_SIZE
#ifdef EMU_PLATFORM_HIP
#define EMU_WARP_SIZE 64
#else
#define EMU_WARP_SIZE 32
#endif
#endif

/// Error codes: the numeric values of the CUDA runtime (HIP uses the same numbers for these).
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidSymbol = 13,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInvalidDeviceFunction = 98,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorLaunchFailure = 719,
  cudaErrorUnknown = 999,
};
typedef cudaError_t cudaError;

namespace emu {

constexpr int kWarpSize = EMU_WARP_SIZE;
static_assert(kWarpSize == 32 || kWarpSize == 64, "EMU_WARP_SIZE must be 32 or 64");

#ifdef EMU_PLATFORM_HIP
constexpr unsigned kMaxBlockDim[3] = {1024, 1024, 1024};
constexpr size_t kDefaultSharedLimit = 64 * 1024;
constexpr size_t kMaxSharedOptIn = 64 * 1024;
#else
constexpr unsigned kMaxBlockDim[3] = {1024, 1024, 64};
constexpr size_t kDefaultSharedLimit = 48 * 1024;
constexpr size_t kMaxSharedOptIn = 227 * 1024;
#endif
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxGridDim[3] = {2147483647u, 65535u, 65535u};
constexpr int kDeadlockExit = 3;

enum class State : uint8_t { Ready, Barrier, Warp, Done };
enum class Op : uint8_t {
  SyncWarp, ShflIdx, ShflUp, ShflDown, ShflXor, Ballot, Any, All, MatchAny,
  RedAdd, RedMinU, RedMaxU, RedMinI, RedMaxI, RedAnd, RedOr, RedXor,
};

inline const char* op_name(Op op) {
  static const char* const names[] = {"__syncwarp", "__shfl_sync", "__shfl_up_sync", "__shfl_down_sync",
                                      "__shfl_xor_sync", "__ballot_sync", "__any_sync", "__all_sync",
                                      "__match_any_sync", "__reduce_add_sync", "__reduce_min_sync",
                                      "__reduce_max_sync", "__reduce_min_sync", "__reduce_max_sync",
                                      "__reduce_and_sync", "__reduce_or_sync", "__reduce_xor_sync"};
  return names[static_cast<int>(op)];
}

/// One GPU thread of the running block.
struct Fiber {
  Context ctx;
  uint3 tid;
  unsigned lane = 0, warp = 0;
  State state = State::Done;
  int line = 0;          // source line of the barrier / collective it waits at
  int pred = 0;          // barrier predicate (__syncthreads_count/and/or)
  int bar_kind = 0;      // 0 plain, 1 count, 2 and, 3 or
  Op op = Op::SyncWarp;  // warp collective it waits at
  uint64_t mask = 0;     // mask argument of that collective
  uint64_t value = 0;    // raw bits of the value it contributes
  unsigned vsize = 0;    // sizeof the value type
  int arg = 0;           // srcLane / delta / laneMask
  int width = 0;         // shuffle width
  uint64_t result = 0;   // raw bits of the collective's / barrier's result
};

/// Static shared arrays seen in this launch (address, size); poisoned again for every block.
struct SharedNote {
  void* addr;
  size_t size;
};

/// Global state of the emulator. One instance; the program is single threaded.
struct Runtime {
  Fiber* cur = nullptr;
  uint3 block_idx{0, 0, 0};
  dim3 block_dim, grid_dim;
  std::vector<Fiber> fibers;
  std::vector<unsigned> ready;
  size_t ready_head = 0;
  std::vector<uint64_t> warp_exist, warp_exited;
  unsigned n_threads = 0, n_done = 0, n_barrier = 0;
  Context sched;
  StackPool stacks;
  void (*body)(void*) = nullptr;
  void* body_ctx = nullptr;
  const char* kernel = "";
  const char* launch_file = "";
  int launch_line = 0;
  unsigned long long launch_id = 0;
  bool aborted = false;
  cudaError_t abort_error = cudaSuccess;
  char abort_msg[256] = {0};
  cudaError_t last_error = cudaSuccess;
  std::vector<SharedNote> shared_notes;
  size_t static_shared = 0;
  size_t dyn_shared_size = 0;
  size_t shared_limit = kDefaultSharedLimit;
  std::vector<unsigned char> dyn_shared;
  bool poison_shared = true;
};
inline Runtime g;

[[noreturn]] inline void fatal(int code, const char* fmt, ...) {
  std::fflush(stdout);
  std::va_list ap;
  va_start(ap, fmt);
  std::fputs("emulator: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
  std::fflush(stderr);
  std::_Exit(code);
}

inline Fiber& current(const char* what) {
  if (!g.cur) fatal(kDeadlockExit, "%s called outside a kernel", what);
  return *g.cur;
}

inline void push_ready(unsigned i) {
  g.fibers[i].state = State::Ready;
  g.ready.push_back(i);
}

/// Give control back to the scheduler; returns when the scheduler resumes this fiber.
inline void yield(Fiber& f) { ctx_switch(f.ctx, g.sched); }

/// Stop the whole launch from inside a kernel (launch-bounds or shared-memory violation found
/// while running); the launch then reports `err` like a failed launch.
[[noreturn]] inline void abort_launch(cudaError_t err, const char* msg) {
  Fiber& f = current("abort_launch");
  g.aborted = true;
  g.abort_error = err;
  std::snprintf(g.abort_msg, sizeof g.abort_msg, "%s", msg);
  ctx_switch(f.ctx, g.sched);
  std::abort();  // never resumed
}

// ---- barriers ---------------------------------------------------------------------------------

inline int sync_block(int line, int kind, int pred) {
  Fiber& f = current("__syncthreads");
  f.state = State::Barrier;
  f.line = line;
  f.bar_kind = kind;
  f.pred = pred != 0;
  ++g.n_barrier;
  yield(f);
  return static_cast<int>(f.result);
}

[[noreturn]] inline void report_deadlock(const char* why) {
  std::fflush(stdout);
  std::fprintf(stderr, "emulator: deadlock in kernel %s (launched at %s:%d), block (%u,%u,%u): %s\n", g.kernel,
               g.launch_file, g.launch_line, g.block_idx.x, g.block_idx.y, g.block_idx.z, why);
  // Summarise where the threads are: one line per distinct wait.
  struct Site { State s; Op op; int line; unsigned count; unsigned first; };
  std::vector<Site> sites;
  unsigned exited = 0;
  for (unsigned i = 0; i < g.n_threads; ++i) {
    const Fiber& f = g.fibers[i];
    if (f.state == State::Done) { ++exited; continue; }
    bool found = false;
    for (Site& s : sites) {
      if (s.s == f.state && s.line == f.line && (f.state != State::Warp || s.op == f.op)) { ++s.count; found = true; break; }
    }
    if (!found) sites.push_back(Site{f.state, f.op, f.line, 1, i});
  }
  for (const Site& s : sites) {
    const Fiber& f = g.fibers[s.first];
    std::fprintf(stderr, "emulator:   %u thread(s) wait at %s (line %d), first thread (%u,%u,%u)\n", s.count,
                 s.s == State::Barrier ? "__syncthreads" : op_name(s.op), s.line, f.tid.x, f.tid.y, f.tid.z);
  }
  std::fprintf(stderr, "emulator:   %u thread(s) have returned\n", exited);
  std::fflush(stderr);
  std::_Exit(kDeadlockExit);
}

/// Called by the scheduler when every live thread waits at a barrier.
inline void release_barrier() {
  int line = -1;
  unsigned count = 0, live = 0;
  for (unsigned i = 0; i < g.n_threads; ++i) {
    const Fiber& f = g.fibers[i];
    if (f.state != State::Barrier) continue;
    ++live;
    count += static_cast<unsigned>(f.pred);
#ifndef EMU_LENIENT_BARRIERS
    if (line >= 0 && f.line != line) report_deadlock("threads wait at different __syncthreads() calls");
#endif
    line = f.line;
  }
  for (unsigned i = 0; i < g.n_threads; ++i) {
    Fiber& f = g.fibers[i];
    if (f.state != State::Barrier) continue;
    switch (f.bar_kind) {
      case 1: f.result = count; break;
      case 2: f.result = count == live; break;
      case 3: f.result = count > 0; break;
      default: f.result = 0;
    }
    push_ready(i);
  }
  g.n_barrier = 0;
}

// ---- warp collectives -------------------------------------------------------------------------

inline uint64_t lane_bit(unsigned lane) { return uint64_t{1} << lane; }

inline uint64_t group_of(const Fiber& f) {
  return (f.mask & g.warp_exist[f.warp] & ~g.warp_exited[f.warp]) | lane_bit(f.lane);
}

/// Source lane of a shuffle by the PTX shfl.sync rules; returns -1 where the lane keeps its own value.
inline int shuffle_source(const Fiber& f) {
  int w = f.width;
  if (w <= 0 || w > kWarpSize || (w & (w - 1)) != 0) w = kWarpSize;
  int lane = static_cast<int>(f.lane);
  int seg = lane & ~(w - 1);
  int last = seg + w - 1;
  int j = 0;
  switch (f.op) {
    case Op::ShflIdx: j = seg + (f.arg & (w - 1)); break;
    case Op::ShflUp: j = lane - f.arg; return j < seg ? -1 : j;
    case Op::ShflDown: j = lane + f.arg; break;
    case Op::ShflXor: j = lane ^ f.arg; break;
    default: return -1;
  }
  return (j > last || j < 0) ? -1 : j;
}

template <class T>
inline T bits_as(uint64_t bits) {
  T v;
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}

inline uint64_t reduce_value(Op op, uint64_t group, const Fiber* base) {
  uint64_t acc = 0;
  bool first = true;
  for (unsigned l = 0; l < static_cast<unsigned>(kWarpSize); ++l) {
    if (!(group & lane_bit(l))) continue;
    uint32_t v = static_cast<uint32_t>(base[l].value);
    uint32_t a = static_cast<uint32_t>(acc);
    if (first) { acc = v; first = false; continue; }
    switch (op) {
      case Op::RedAdd: a += v; break;
      case Op::RedMinU: a = v < a ? v : a; break;
      case Op::RedMaxU: a = v > a ? v : a; break;
      case Op::RedMinI: a = static_cast<int32_t>(v) < static_cast<int32_t>(a) ? v : a; break;
      case Op::RedMaxI: a = static_cast<int32_t>(v) > static_cast<int32_t>(a) ? v : a; break;
      case Op::RedAnd: a &= v; break;
      case Op::RedOr: a |= v; break;
      case Op::RedXor: a ^= v; break;
      default: break;
    }
    acc = a;
  }
  return acc;
}

/// If every lane of `f`'s group waits at a warp collective, compute all results and make the other
/// lanes ready (the caller continues `f` itself when `f_running`). Returns whether it completed.
inline bool try_complete_warp(Fiber& f, bool f_running, uint64_t partial = 0) {
  const uint64_t group = partial ? partial : group_of(f);
  Fiber* base = &g.fibers[static_cast<size_t>(f.warp) * kWarpSize];
  for (unsigned l = 0; l < static_cast<unsigned>(kWarpSize); ++l) {
    if ((group & lane_bit(l)) && base[l].state != State::Warp) return false;
  }
  for (unsigned l = 0; l < static_cast<unsigned>(kWarpSize); ++l) {
    if (!(group & lane_bit(l))) continue;
    const Fiber& o = base[l];
    if (o.op != f.op || (!partial && group_of(o) != group)) {
      char msg[256];
      std::snprintf(msg, sizeof msg,
                    "warp %u: lane %u is at %s (line %d) with mask 0x%llx but lane %u is at %s (line %d) "
                    "with mask 0x%llx",
                    f.warp, f.lane, op_name(f.op), f.line, static_cast<unsigned long long>(f.mask), l,
                    op_name(o.op), o.line, static_cast<unsigned long long>(o.mask));
      report_deadlock(msg);
    }
  }
  uint64_t ballot = 0;
  for (unsigned l = 0; l < static_cast<unsigned>(kWarpSize); ++l) {
    if ((group & lane_bit(l)) && base[l].value != 0) ballot |= lane_bit(l);
  }
  const uint64_t reduced = f.op >= Op::RedAdd ? reduce_value(f.op, group, base) : 0;
  for (unsigned l = 0; l < static_cast<unsigned>(kWarpSize); ++l) {
    if (!(group & lane_bit(l))) continue;
    Fiber& o = base[l];
    switch (o.op) {
      case Op::SyncWarp: o.result = 0; break;
      case Op::ShflIdx: case Op::ShflUp: case Op::ShflDown: case Op::ShflXor: {
        int src = shuffle_source(o);
        o.result = (src >= 0 && (group & lane_bit(static_cast<unsigned>(src)))) ? base[src].value : o.value;
        break;
      }
      case Op::Ballot: o.result = ballot; break;
      case Op::Any: o.result = ballot != 0; break;
      case Op::All: o.result = ballot == group; break;
      case Op::MatchAny: {
        uint64_t m = 0;
        for (unsigned k = 0; k < static_cast<unsigned>(kWarpSize); ++k) {
          if ((group & lane_bit(k)) && base[k].value == o.value) m |= lane_bit(k);
        }
        o.result = m;
        break;
      }
      default: o.result = reduced;
    }
    if (&o == &f && f_running) {
      o.state = State::Ready;
    } else {
      push_ready(static_cast<unsigned>(&o - g.fibers.data()));
    }
  }
  return true;
}

/// Arrive at a warp collective with `value`; returns this lane's raw result bits.
template <class T>
inline uint64_t warp_collective(int line, Op op, uint64_t mask, T value, int arg = 0, int width = kWarpSize) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8, "warp collective on a type over 8 bytes");
  Fiber& f = current(op_name(op));
  f.state = State::Warp;
  f.line = line;
  f.op = op;
  f.mask = mask;
  f.value = 0;
  std::memcpy(&f.value, &value, sizeof(T));
  f.vsize = sizeof(T);
  f.arg = arg;
  f.width = width;
  if (!try_complete_warp(f, true)) yield(f);
  return f.result;
}

/// The scheduler found nothing ready: retry groups that may have completed because lanes returned.
/// On HIP (no masks: a collective involves the lanes that are active) a collective whose missing
/// lanes are all blocked elsewhere - at a barrier, or done - completes with the lanes present at
/// the same call: those are the active lanes of a diverged wavefront, as on AMD hardware.
inline bool resolve_warp_groups() {
  for (unsigned i = 0; i < g.n_threads; ++i) {
    Fiber& f = g.fibers[i];
    if (f.state == State::Warp && try_complete_warp(f, false)) return true;
  }
#if EMU_PLATFORM_HIP
  for (unsigned i = 0; i < g.n_threads; ++i) {
    Fiber& f = g.fibers[i];
    if (f.state != State::Warp) continue;
    Fiber* base = &g.fibers[static_cast<size_t>(f.warp) * kWarpSize];
    uint64_t present = 0;
    for (unsigned l = 0; l < static_cast<unsigned>(kWarpSize); ++l) {
      const unsigned idx = f.warp * kWarpSize + l;
      if (idx >= g.n_threads) break;
      if (base[l].state == State::Warp && base[l].op == f.op && base[l].line == f.line) present |= lane_bit(l);
    }
    if (try_complete_warp(f, false, present)) return true;
  }
#endif
  return false;
}

// ---- the block scheduler ------------------------------------------------------------------------

inline void run_block() {
  const dim3 b = g.block_dim;
  g.ready.clear();
  g.ready_head = 0;
  g.n_done = 0;
  g.n_barrier = 0;
  for (unsigned i = 0; i < g.warp_exited.size(); ++i) g.warp_exited[i] = 0;
  for (unsigned i = 0; i < g.n_threads; ++i) {
    Fiber& f = g.fibers[i];
    f.tid = uint3{i % b.x, (i / b.x) % b.y, i / (b.x * b.y)};
    f.lane = i % kWarpSize;
    f.warp = i / kWarpSize;
    ctx_init(f.ctx, g.stacks.stack(i), StackPool::size(), &f);
    g.ready.push_back(i);
    f.state = State::Ready;
  }
  while (g.n_done < g.n_threads) {
    while (g.ready_head < g.ready.size()) {
      unsigned i = g.ready[g.ready_head++];
      g.cur = &g.fibers[i];
      ctx_switch(g.sched, g.fibers[i].ctx);
      g.cur = nullptr;
      if (g.aborted) return;
    }
    g.ready.clear();
    g.ready_head = 0;
    if (g.n_done == g.n_threads) break;
    if (g.n_barrier > 0 && g.n_barrier + g.n_done == g.n_threads) {
      release_barrier();
      continue;
    }
    if (resolve_warp_groups()) continue;
    report_deadlock(g.n_barrier > 0 ? "threads wait at __syncthreads() while others wait in a warp collective"
                                    : "warp collective can never complete");
  }
}

inline void poison_block_shared() {
  if (!g.poison_shared) return;
  for (const SharedNote& n : g.shared_notes) std::memset(n.addr, 0xff, n.size);
  if (!g.dyn_shared.empty()) std::memset(g.dyn_shared.data(), 0xff, g.dyn_shared.size());
}

}  // namespace emu

extern "C" __attribute__((weak, used)) void emu_fiber_main(void* arg) {
  auto* f = static_cast<emu::Fiber*>(arg);
  emu::g.body(emu::g.body_ctx);
  f->state = emu::State::Done;
  emu::g.warp_exited[f->warp] |= emu::lane_bit(f->lane);
  ++emu::g.n_done;
  // Lanes waiting in a collective with this lane may now complete; the scheduler retries them.
  emu::ctx_switch(f->ctx, emu::g.sched);
  std::abort();
}

namespace emu {

/// Register a static __shared__ array the first time a launch executes its declaration
/// (inserted by the source rewrite); checks the block's shared memory against the limit.
inline void note_shared(void* addr, size_t size) {
  g.shared_notes.push_back(SharedNote{addr, size});
  g.static_shared += size;
  if (g.poison_shared) std::memset(addr, 0xff, size);
  if (g.static_shared + g.dyn_shared_size > g.shared_limit) {
    char msg[200];
    std::snprintf(msg, sizeof msg, "kernel %s uses %zu bytes of static + %zu bytes of dynamic shared memory (limit %zu)",
                  g.kernel, g.static_shared, g.dyn_shared_size, g.shared_limit);
    abort_launch(cudaErrorInvalidValue, msg);
  }
}

inline void check_launch_bounds(unsigned max_threads) {
  unsigned n = g.block_dim.x * g.block_dim.y * g.block_dim.z;
  if (n > max_threads) {
    char msg[200];
    std::snprintf(msg, sizeof msg, "kernel %s launched with %u threads per block but __launch_bounds__(%u)",
                  g.kernel, n, max_threads);
    abort_launch(cudaErrorLaunchOutOfResources, msg);
  }
}

inline void* dyn_shared_ptr() { return g.dyn_shared.empty() ? nullptr : g.dyn_shared.data(); }

/// Wraps a file-scope `extern __shared__ T name[];`, which must follow the running launch.
template <class T>
struct DynShared {
  operator T*() const { return static_cast<T*>(dyn_shared_ptr()); }
  T& operator[](size_t i) const { return static_cast<T*>(dyn_shared_ptr())[i]; }
};

/// Launch configuration as written between <<< >>>, plus where the launch is (for messages).
struct LaunchCfg {
  const char* file;
  int line;
  const char* name;
  dim3 grid, block;
  size_t shmem = 0;
  LaunchCfg(const char* f, int l, const char* n, dim3 gr, dim3 bl) : file(f), line(l), name(n), grid(gr), block(bl) {}
  LaunchCfg(const char* f, int l, const char* n, dim3 gr, dim3 bl, size_t sh)
      : file(f), line(l), name(n), grid(gr), block(bl), shmem(sh) {}
  template <class S>
  LaunchCfg(const char* f, int l, const char* n, dim3 gr, dim3 bl, size_t sh, S)
      : file(f), line(l), name(n), grid(gr), block(bl), shmem(sh) {}
};

inline void set_error(cudaError_t e, const char* fmt, ...) {
  g.last_error = e;
  if (std::getenv("EMU_QUIET")) return;
  std::va_list ap;
  va_start(ap, fmt);
  std::fputs("emulator: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
}

inline bool check_config(const LaunchCfg& c) {
  const unsigned b[3] = {c.block.x, c.block.y, c.block.z};
  const unsigned gr[3] = {c.grid.x, c.grid.y, c.grid.z};
  for (int d = 0; d < 3; ++d) {
    if (b[d] == 0 || b[d] > kMaxBlockDim[d] || gr[d] == 0 || gr[d] > kMaxGridDim[d]) {
      set_error(cudaErrorInvalidConfiguration, "launch of %s at %s:%d: invalid configuration grid (%u,%u,%u) block (%u,%u,%u)",
                c.name, c.file, c.line, gr[0], gr[1], gr[2], b[0], b[1], b[2]);
      return false;
    }
  }
  unsigned long long threads = 1ull * b[0] * b[1] * b[2];
  if (threads > kMaxThreadsPerBlock) {
    set_error(cudaErrorInvalidConfiguration, "launch of %s at %s:%d: %llu threads per block (limit %u)", c.name, c.file,
              c.line, threads, kMaxThreadsPerBlock);
    return false;
  }
  if (c.shmem > g.shared_limit) {
    set_error(cudaErrorInvalidValue, "launch of %s at %s:%d: %zu bytes of dynamic shared memory (limit %zu)", c.name,
              c.file, c.line, c.shmem, g.shared_limit);
    return false;
  }
  return true;
}

/// Run a whole grid synchronously. `body(ctx)` executes the kernel for the current fiber.
inline void run_grid(const LaunchCfg& c, void (*body)(void*), void* ctx) {
  if (g.cur) fatal(kDeadlockExit, "kernel launch from device code (dynamic parallelism) is not supported");
  if (!check_config(c)) return;
  g.kernel = c.name;
  g.launch_file = c.file;
  g.launch_line = c.line;
  ++g.launch_id;
  g.body = body;
  g.body_ctx = ctx;
  g.grid_dim = c.grid;
  g.block_dim = c.block;
  g.n_threads = c.block.x * c.block.y * c.block.z;
  g.fibers.resize(g.n_threads);
  g.stacks.reserve(g.n_threads);
  const size_t warps = (g.n_threads + kWarpSize - 1) / kWarpSize;
  g.warp_exist.assign(warps, 0);
  g.warp_exited.assign(warps, 0);
  for (unsigned i = 0; i < g.n_threads; ++i) g.warp_exist[i / kWarpSize] |= lane_bit(i % kWarpSize);
  g.shared_notes.clear();
  g.static_shared = 0;
  g.dyn_shared_size = c.shmem;
  g.dyn_shared.assign(c.shmem ? (c.shmem + 15) / 16 * 16 : 0, 0xff);
  g.aborted = false;
  for (unsigned z = 0; z < c.grid.z && !g.aborted; ++z) {
    for (unsigned y = 0; y < c.grid.y && !g.aborted; ++y) {
      for (unsigned x = 0; x < c.grid.x && !g.aborted; ++x) {
        g.block_idx = uint3{x, y, z};
        if (x + y + z != 0) poison_block_shared();
        run_block();
      }
    }
  }
  if (g.aborted) set_error(g.abort_error, "launch of %s at %s:%d failed: %s", c.name, c.file, c.line, g.abort_msg);
  g.cur = nullptr;
}

template <class Body>
void invoke_body(void* p) {
  (*static_cast<Body*>(p))();
}

/// Entry point of a rewritten `k<<<grid, block, shmem, stream>>>(args...)`: the arguments are
/// evaluated once here on the host, decayed and copied (as CUDA copies kernel parameters), and
/// every GPU thread calls `call(copies...)`, a lambda that calls the kernel.
template <class F, class... A>
void launch(const LaunchCfg& c, F&& call, A&&... args) {
  std::tuple<std::decay_t<A>...> params(std::forward<A>(args)...);
  auto body = [&]() { std::apply(call, params); };
  run_grid(c, &invoke_body<decltype(body)>, &body);
}

}  // namespace emu
