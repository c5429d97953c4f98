// emu_device.h - what device code sees: qualifiers, built-in variables, barriers, warp intrinsics,
// atomics, math and integer intrinsics.
#pragma once
#include <math.h>  // the C++ <math.h> also puts the float overloads (sqrt(float), ...) in ::
#include <stdlib.h>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "emu_runtime.h"

// ---- qualifiers ---------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __inline_hint__
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __constant__
#define __managed__
#define __grid_constant__
#define __align__(n) __attribute__((aligned(n)))
// One block runs at a time, so one static array per declaration is correct per-block storage.
// The source rewrite registers each one (EMU_NOTE_SHARED) to poison it per block and count it.
#define __shared__ static

#define EMU_NOTE_SHARED(x)                                               \
  do {                                                                   \
    static unsigned long long emu_gen_ = 0;                              \
    if (emu_gen_ != ::emu::g.launch_id) {                                \
      emu_gen_ = ::emu::g.launch_id;                                     \
      ::emu::note_shared((void*)&(x), sizeof(x));                        \
    }                                                                    \
  } while (0)
#define EMU_LAUNCH_BOUNDS(max_threads, ...) ::emu::check_launch_bounds(static_cast<unsigned>(max_threads))

// ---- built-in variables -------------------------------------------------------------------------
#define threadIdx (static_cast<const uint3&>(::emu::g.cur->tid))
#define blockIdx (static_cast<const uint3&>(::emu::g.block_idx))
#define blockDim (static_cast<const dim3&>(::emu::g.block_dim))
#define gridDim (static_cast<const dim3&>(::emu::g.grid_dim))
/// A constant, not a macro, so that cudaDeviceProp::warpSize stays a usable member name.
constexpr int warpSize = ::emu::kWarpSize;

// ---- barriers -----------------------------------------------------------------------------------
#define __syncthreads() ((void)::emu::sync_block(__LINE__, 0, 0))
#define __syncthreads_count(p) ::emu::sync_block(__LINE__, 1, (p))
#define __syncthreads_and(p) ::emu::sync_block(__LINE__, 2, (p))
#define __syncthreads_or(p) ::emu::sync_block(__LINE__, 3, (p))
inline void __threadfence() {}
inline void __threadfence_block() {}
inline void __threadfence_system() {}
inline void __nanosleep(unsigned) {}

namespace emu {
using WarpMask = std::conditional_t<kWarpSize == 64, unsigned long long, unsigned>;

/// Optional width / mask arguments of the warp intrinsic macros.
inline int pick_width(int, int w = kWarpSize) { return w; }
inline uint64_t pick_mask(int, uint64_t m = ~0ull) { return m; }
template <class T>
inline T shfl(int line, Op op, uint64_t mask, T v, int arg, int width) {
  return bits_as<T>(warp_collective(line, op, mask, v, arg, width));
}
inline uint64_t live_lanes() {
  const Fiber& f = current("__activemask");
  return g.warp_exist[f.warp] & ~g.warp_exited[f.warp];
}
template <class T>
inline unsigned reduce(int line, Op op, unsigned mask, T v) {
  return static_cast<unsigned>(warp_collective(line, op, mask, static_cast<uint32_t>(v)));
}
}  // namespace emu

// ---- warp intrinsics (CUDA, with mask) --------------------------------------------------------
#define __shfl_sync(m, v, l, ...) ::emu::shfl(__LINE__, ::emu::Op::ShflIdx, (m), (v), (int)(l), \
    ::emu::pick_width(0 __VA_OPT__(, (__VA_ARGS__))))
#define __shfl_up_sync(m, v, d, ...) ::emu::shfl(__LINE__, ::emu::Op::ShflUp, (m), (v), (int)(d), \
    ::emu::pick_width(0 __VA_OPT__(, (__VA_ARGS__))))
#define __shfl_down_sync(m, v, d, ...) ::emu::shfl(__LINE__, ::emu::Op::ShflDown, (m), (v), (int)(d), \
    ::emu::pick_width(0 __VA_OPT__(, (__VA_ARGS__))))
#define __shfl_xor_sync(m, v, x, ...) ::emu::shfl(__LINE__, ::emu::Op::ShflXor, (m), (v), (int)(x), \
    ::emu::pick_width(0 __VA_OPT__(, (__VA_ARGS__))))
#define __ballot_sync(m, p) \
  static_cast<::emu::WarpMask>(::emu::warp_collective(__LINE__, ::emu::Op::Ballot, (m), (int)((p) != 0)))
#define __any_sync(m, p) static_cast<int>(::emu::warp_collective(__LINE__, ::emu::Op::Any, (m), (int)((p) != 0)))
#define __all_sync(m, p) static_cast<int>(::emu::warp_collective(__LINE__, ::emu::Op::All, (m), (int)((p) != 0)))
#define __syncwarp(...) ((void)::emu::warp_collective(__LINE__, ::emu::Op::SyncWarp, \
    ::emu::pick_mask(0 __VA_OPT__(, (__VA_ARGS__))), 0))
#define __activemask() static_cast<::emu::WarpMask>(::emu::live_lanes())
#define __match_any_sync(m, v) \
  static_cast<::emu::WarpMask>(::emu::warp_collective(__LINE__, ::emu::Op::MatchAny, (m), (v)))
#define __reduce_add_sync(m, v) ::emu::reduce(__LINE__, ::emu::Op::RedAdd, (m), (v))
#define __reduce_min_sync(m, v) ::emu::reduce(__LINE__, \
    std::is_signed<decltype(v)>::value ? ::emu::Op::RedMinI : ::emu::Op::RedMinU, (m), (v))
#define __reduce_max_sync(m, v) ::emu::reduce(__LINE__, \
    std::is_signed<decltype(v)>::value ? ::emu::Op::RedMaxI : ::emu::Op::RedMaxU, (m), (v))
#define __reduce_and_sync(m, v) ::emu::reduce(__LINE__, ::emu::Op::RedAnd, (m), (v))
#define __reduce_or_sync(m, v) ::emu::reduce(__LINE__, ::emu::Op::RedOr, (m), (v))
#define __reduce_xor_sync(m, v) ::emu::reduce(__LINE__, ::emu::Op::RedXor, (m), (v))

// ---- HIP spellings (no mask; all live lanes of the 64-wide wavefront take part) -----------------
#ifdef EMU_PLATFORM_HIP
#define __shfl(v, l, ...) __shfl_sync(~0ull, v, l __VA_OPT__(, ) __VA_ARGS__)
#define __shfl_up(v, d, ...) __shfl_up_sync(~0ull, v, d __VA_OPT__(, ) __VA_ARGS__)
#define __shfl_down(v, d, ...) __shfl_down_sync(~0ull, v, d __VA_OPT__(, ) __VA_ARGS__)
#define __shfl_xor(v, x, ...) __shfl_xor_sync(~0ull, v, x __VA_OPT__(, ) __VA_ARGS__)
#define __ballot(p) static_cast<unsigned long long>(__ballot_sync(~0ull, p))
#define __any(p) __any_sync(~0ull, p)
#define __all(p) __all_sync(~0ull, p)
// the wavefront barrier amdgcn exposes as a builtin: a warp-level meeting point
#define __builtin_amdgcn_wave_barrier() __syncwarp()
#define __lane_id() (::emu::g.cur->lane)
#define hipThreadIdx_x (threadIdx.x)
#define hipThreadIdx_y (threadIdx.y)
#define hipThreadIdx_z (threadIdx.z)
#define hipBlockIdx_x (blockIdx.x)
#define hipBlockIdx_y (blockIdx.y)
#define hipBlockIdx_z (blockIdx.z)
#define hipBlockDim_x (blockDim.x)
#define hipBlockDim_y (blockDim.y)
#define hipBlockDim_z (blockDim.z)
#define hipGridDim_x (gridDim.x)
#define hipGridDim_y (gridDim.y)
#define hipGridDim_z (gridDim.z)
#endif

// ---- atomics (fibers switch only at barriers, so a plain read-modify-write is atomic) -----------
namespace emu {
template <class T>
struct nodeduce {
  using type = T;
};
template <class T>
using nodeduce_t = typename nodeduce<T>::type;
}  // namespace emu

#define EMU_ATOMIC(name, expr)                                             \
  template <class T>                                                       \
  inline T name(T* p, ::emu::nodeduce_t<T> v) {                            \
    T old = *p;                                                            \
    *p = (expr);                                                           \
    return old;                                                            \
  }                                                                        \
  template <class T>                                                       \
  inline T name##_block(T* p, ::emu::nodeduce_t<T> v) { return name(p, v); } \
  template <class T>                                                       \
  inline T name##_system(T* p, ::emu::nodeduce_t<T> v) { return name(p, v); }
EMU_ATOMIC(atomicAdd, static_cast<T>(old + v))
EMU_ATOMIC(atomicSub, static_cast<T>(old - v))
EMU_ATOMIC(atomicExch, v)
EMU_ATOMIC(atomicMax, (v > old ? v : old))
EMU_ATOMIC(atomicMin, (v < old ? v : old))
EMU_ATOMIC(atomicAnd, static_cast<T>(old & v))
EMU_ATOMIC(atomicOr, static_cast<T>(old | v))
EMU_ATOMIC(atomicXor, static_cast<T>(old ^ v))
#undef EMU_ATOMIC
template <class T>
inline T atomicCAS(T* p, ::emu::nodeduce_t<T> compare, ::emu::nodeduce_t<T> v) {
  T old = *p;
  if (old == compare) *p = v;
  return old;
}
inline unsigned atomicInc(unsigned* p, unsigned v) {
  unsigned old = *p;
  *p = old >= v ? 0u : old + 1u;
  return old;
}
inline unsigned atomicDec(unsigned* p, unsigned v) {
  unsigned old = *p;
  *p = (old == 0u || old > v) ? v : old - 1u;
  return old;
}

// ---- min / max as CUDA overloads them ------------------------------------------------------------
#define EMU_MINMAX(T)                                  \
  inline T min(T a, T b) { return b < a ? b : a; }     \
  inline T max(T a, T b) { return a < b ? b : a; }
EMU_MINMAX(int)
EMU_MINMAX(unsigned)
EMU_MINMAX(long)
EMU_MINMAX(unsigned long)
EMU_MINMAX(long long)
EMU_MINMAX(unsigned long long)
#undef EMU_MINMAX
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
/// Mixed operand types: the usual arithmetic conversions, as CUDA's mixed overloads do.
template <class A, class B,
          class = std::enable_if_t<!std::is_same<A, B>::value && std::is_arithmetic<A>::value &&
                                   std::is_arithmetic<B>::value>>
inline std::common_type_t<A, B> min(A a, B b) {
  return min(static_cast<std::common_type_t<A, B>>(a), static_cast<std::common_type_t<A, B>>(b));
}
template <class A, class B,
          class = std::enable_if_t<!std::is_same<A, B>::value && std::is_arithmetic<A>::value &&
                                   std::is_arithmetic<B>::value>>
inline std::common_type_t<A, B> max(A a, B b) {
  return max(static_cast<std::common_type_t<A, B>>(a), static_cast<std::common_type_t<A, B>>(b));
}

// ---- float / double intrinsics ----------------------------------------------------------------
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return powf(10.0f, x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float* s, float* c) { *s = sinf(x); *c = cosf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float a, float b) { return a / b; }
inline float fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x != x ? 0.0f : (x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x)); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }
inline float exp10f(float x) { return powf(10.0f, x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline unsigned __float_as_uint(float x) { unsigned i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline float __uint_as_float(unsigned i) { float x; std::memcpy(&x, &i, 4); return x; }
inline long long __double_as_longlong(double x) { long long i; std::memcpy(&i, &x, 8); return i; }
inline double __longlong_as_double(long long i) { double x; std::memcpy(&x, &i, 8); return x; }
inline int __float2int_rn(float x) { return static_cast<int>(nearbyintf(x)); }
inline int __float2int_rz(float x) { return static_cast<int>(x); }
inline int __float2int_rd(float x) { return static_cast<int>(floorf(x)); }
inline int __float2int_ru(float x) { return static_cast<int>(ceilf(x)); }
inline unsigned __float2uint_rn(float x) { return static_cast<unsigned>(nearbyintf(x)); }
inline long long __float2ll_rn(float x) { return static_cast<long long>(nearbyintf(x)); }
inline int __double2int_rn(double x) { return static_cast<int>(nearbyint(x)); }
inline float __int2float_rn(int i) { return static_cast<float>(i); }
inline float __uint2float_rn(unsigned i) { return static_cast<float>(i); }
inline float __double2float_rn(double x) { return static_cast<float>(x); }

// ---- integer intrinsics -------------------------------------------------------------------------
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
inline int __mulhi(int a, int b) { return static_cast<int>((static_cast<long long>(a) * b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<unsigned long long>(a) * b) >> 32);
}
inline long long __mul64hi(long long a, long long b) {
  return static_cast<long long>((static_cast<__int128>(a) * b) >> 64);
}
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64);
}
/// __mul24: product of the low 24 bits, sign-extended operands.
inline int __mul24(int a, int b) {
  long long x = static_cast<long long>(a << 8 >> 8), y = static_cast<long long>(b << 8 >> 8);
  return static_cast<int>(static_cast<unsigned>(x * y));
}
inline unsigned __umul24(unsigned a, unsigned b) { return (a & 0xffffffu) * (b & 0xffffffu); }
inline unsigned __sad(int a, int b, unsigned c) { return c + static_cast<unsigned>(a > b ? a - b : b - a); }
inline unsigned __usad(unsigned a, unsigned b, unsigned c) { return c + (a > b ? a - b : b - a); }
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
  unsigned long long v = (static_cast<unsigned long long>(y) << 32) | x;
  unsigned r = 0;
  for (int i = 0; i < 4; ++i) r |= static_cast<unsigned>((v >> (((s >> (4 * i)) & 7u) * 8)) & 0xffu) << (8 * i);
  return r;
}
inline unsigned __funnelshift_l(unsigned lo, unsigned hi, unsigned s) {
  unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
  return static_cast<unsigned>((v << (s & 31u)) >> 32);
}
inline unsigned __funnelshift_r(unsigned lo, unsigned hi, unsigned s) {
  unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
  return static_cast<unsigned>(v >> (s & 31u));
}

/// __dp4a: four 8-bit products summed into c; (int,int,int) uses signed bytes, (unsigned,...)
/// unsigned bytes; the sum wraps modulo 2^32 as the hardware does.
inline int __dp4a(int a, int b, int c) {
  uint32_t acc = static_cast<uint32_t>(c);
  for (int i = 0; i < 4; ++i) {
    int x = static_cast<int8_t>(static_cast<uint32_t>(a) >> (8 * i));
    int y = static_cast<int8_t>(static_cast<uint32_t>(b) >> (8 * i));
    acc += static_cast<uint32_t>(x * y);
  }
  return static_cast<int>(acc);
}
inline unsigned __dp4a(unsigned a, unsigned b, unsigned c) {
  uint32_t acc = c;
  for (int i = 0; i < 4; ++i) acc += ((a >> (8 * i)) & 0xffu) * ((b >> (8 * i)) & 0xffu);
  return acc;
}
inline int __dp4a(char4 a, char4 b, int c) {
  return c + a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
}
inline unsigned __dp4a(uchar4 a, uchar4 b, unsigned c) {
  return c + static_cast<unsigned>(a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w);
}

// ---- loads with cache hints: plain loads here ----------------------------------------------------
template <class T>
inline T __ldg(const T* p) { return *p; }
template <class T>
inline T __ldcg(const T* p) { return *p; }
template <class T>
inline T __ldca(const T* p) { return *p; }
template <class T>
inline T __ldcs(const T* p) { return *p; }
template <class T>
inline void __stcg(T* p, T v) { *p = v; }
template <class T>
inline void __stcs(T* p, T v) { *p = v; }
template <class T>
inline void __stwb(T* p, T v) { *p = v; }

inline long long clock64() {
  return static_cast<long long>(std::chrono::steady_clock::now().time_since_epoch().count());
}
