// emu_types.h - value types of the CUDA/HIP CPU emulator: dim3/uint3, vector types, half, bfloat16.
//
// Vector types (float4, int2, ...) deliberately keep the alignment of their component type: the
// emulator's cudaMalloc places a buffer so that its END touches a guard page, so a float buffer of
// 37 elements starts only 4-byte aligned; giving float4 its CUDA alignment of 16 would let g++ emit
// aligned SSE moves that fault on such pointers although the same access is legal on a GPU.
#pragma once
#include <cstdint>
#include <cstring>
#include <cmath>

struct uint3 {
  unsigned x, y, z;
};

/// dim3 converts from integers (missing components are 1) and from uint3, as in CUDA.
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

#define EMU_VEC2(T, N) struct N { T x, y; }; \
  inline N make_##N(T a, T b) { return N{a, b}; }
#define EMU_VEC3(T, N) struct N { T x, y, z; }; \
  inline N make_##N(T a, T b, T c) { return N{a, b, c}; }
#define EMU_VEC4(T, N) struct N { T x, y, z, w; }; \
  inline N make_##N(T a, T b, T c, T d) { return N{a, b, c, d}; }
#define EMU_VECS(T, P) EMU_VEC2(T, P##2) EMU_VEC3(T, P##3) EMU_VEC4(T, P##4)
EMU_VECS(float, float)
EMU_VECS(double, double)
EMU_VECS(int, int)
EMU_VECS(signed char, char)
EMU_VECS(unsigned char, uchar)
EMU_VECS(short, short)
EMU_VECS(unsigned short, ushort)
EMU_VECS(long long, longlong)
EMU_VECS(unsigned long long, ulonglong)
EMU_VEC2(unsigned, uint2)
EMU_VEC4(unsigned, uint4)
inline uint3 make_uint3(unsigned a, unsigned b, unsigned c) { return uint3{a, b, c}; }
#undef EMU_VEC2
#undef EMU_VEC3
#undef EMU_VEC4
#undef EMU_VECS

namespace emu {

/// Round-to-nearest-even float -> IEEE binary16 bits, done by hand so the result does not depend on
/// the host compiler's _Float16 support or excess-precision settings.
inline uint16_t float_to_half_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t absu = u & 0x7fffffffu;
  if (absu >= 0x7f800000u) {  // inf or nan
    return static_cast<uint16_t>(sign | 0x7c00u | (absu > 0x7f800000u ? 0x200u | ((absu >> 13) & 0x3ffu) : 0));
  }
  if (absu >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (absu < 0x38800000u) {  // result is subnormal or zero: value = m * 2^-24
    if (absu < 0x33000000u) return static_cast<uint16_t>(sign);  // < 2^-25: rounds to zero
    uint32_t e = absu >> 23;
    uint32_t mant = (absu & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e;  // 14 + (113 - e) - 1 ... mant * 2^(e-150) / 2^-24
    uint32_t q = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t q = (absu - 0x38000000u) >> 13;  // rebias exponent 127 -> 15
  uint32_t rem = absu & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) ++q;
  return static_cast<uint16_t>(sign | q);
}

/// double -> half with ONE rounding: round to float with round-to-odd (sticky bit), which float's
/// 24-bit significand makes safe for the following round-to-nearest-even to 11 bits.
inline uint16_t double_to_half_bits(double d) {
  float f = static_cast<float>(d);
  if (std::isfinite(f) && static_cast<double>(f) != d) {
    if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u |= 1u;
    std::memcpy(&f, &u, 4);
  }
  return float_to_half_bits(f);
}

inline float half_bits_to_float(uint16_t h) {
  uint32_t sign = (static_cast<uint32_t>(h) & 0x8000u) << 16;
  uint32_t e = (h >> 10) & 0x1fu;
  uint32_t m = h & 0x3ffu;
  uint32_t u;
  if (e == 0x1f) {
    u = sign | 0x7f800000u | (m << 13);
  } else if (e == 0) {
    if (m == 0) {
      u = sign;
    } else {  // subnormal: normalise
      float f = static_cast<float>(m) * 5.9604644775390625e-08f;  // m * 2^-24, exact
      std::memcpy(&u, &f, 4);
      u |= sign;
    }
  } else {
    u = sign | ((e + 112u) << 23) | (m << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t float_to_bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet nan
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline float bf16_bits_to_float(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace emu

/// IEEE binary16. Every arithmetic operation is computed in float and rounded once to half, which
/// equals the correctly rounded half result for + - * / (float carries more than 2*11+2 bits).
struct __half {
  uint16_t bits_;
  __half() = default;
  __half(float f) : bits_(emu::float_to_half_bits(f)) {}
  __half(double d) : bits_(emu::double_to_half_bits(d)) {}
  __half(int i) : bits_(emu::float_to_half_bits(static_cast<float>(i))) {}
  __half(unsigned i) : bits_(emu::float_to_half_bits(static_cast<float>(i))) {}
  __half(long long i) : bits_(emu::float_to_half_bits(static_cast<float>(i))) {}
  __half(unsigned long long i) : bits_(emu::float_to_half_bits(static_cast<float>(i))) {}
  __half(long i) : bits_(emu::float_to_half_bits(static_cast<float>(i))) {}
  __half(unsigned long i) : bits_(emu::float_to_half_bits(static_cast<float>(i))) {}
  __half(short i) : bits_(emu::float_to_half_bits(static_cast<float>(i))) {}
  operator float() const { return emu::half_bits_to_float(bits_); }
  static __half from_bits(uint16_t b) { __half h; h.bits_ = b; return h; }
  __half& operator+=(__half o) { return *this = __half(float(*this) + float(o)); }
  __half& operator-=(__half o) { return *this = __half(float(*this) - float(o)); }
  __half& operator*=(__half o) { return *this = __half(float(*this) * float(o)); }
  __half& operator/=(__half o) { return *this = __half(float(*this) / float(o)); }
};
typedef __half half;
typedef uint16_t __half_raw_bits;

inline __half operator+(__half a, __half b) { return __half(float(a) + float(b)); }
inline __half operator-(__half a, __half b) { return __half(float(a) - float(b)); }
inline __half operator*(__half a, __half b) { return __half(float(a) * float(b)); }
inline __half operator/(__half a, __half b) { return __half(float(a) / float(b)); }
inline __half operator-(__half a) { return __half::from_bits(static_cast<uint16_t>(a.bits_ ^ 0x8000u)); }
inline bool operator==(__half a, __half b) { return float(a) == float(b); }
inline bool operator!=(__half a, __half b) { return float(a) != float(b); }
inline bool operator<(__half a, __half b) { return float(a) < float(b); }
inline bool operator<=(__half a, __half b) { return float(a) <= float(b); }
inline bool operator>(__half a, __half b) { return float(a) > float(b); }
inline bool operator>=(__half a, __half b) { return float(a) >= float(b); }

struct __half2 {
  __half x, y;
};
typedef __half2 half2;

/// bfloat16 (round to nearest even on conversion from float).
struct __nv_bfloat16 {
  uint16_t bits_;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) : bits_(emu::float_to_bf16_bits(f)) {}
  __nv_bfloat16(double d) : bits_(emu::float_to_bf16_bits(static_cast<float>(d))) {}
  __nv_bfloat16(int i) : bits_(emu::float_to_bf16_bits(static_cast<float>(i))) {}
  operator float() const { return emu::bf16_bits_to_float(bits_); }
  __nv_bfloat16& operator+=(__nv_bfloat16 o) { return *this = __nv_bfloat16(float(*this) + float(o)); }
  __nv_bfloat16& operator*=(__nv_bfloat16 o) { return *this = __nv_bfloat16(float(*this) * float(o)); }
};
typedef __nv_bfloat16 nv_bfloat16;
typedef __nv_bfloat16 hip_bfloat16;
inline __nv_bfloat16 operator+(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat16(float(a) + float(b)); }
inline __nv_bfloat16 operator-(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat16(float(a) - float(b)); }
inline __nv_bfloat16 operator*(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat16(float(a) * float(b)); }
inline __nv_bfloat16 operator/(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat16(float(a) / float(b)); }

// ---- half / bfloat16 intrinsics -------------------------------------------------------------
inline float __half2float(__half h) { return float(h); }
inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline __half __double2half(double d) { return __half(d); }
inline __half __int2half_rn(int i) { return __half(i); }
inline int __half2int_rn(__half h) { return static_cast<int>(std::nearbyint(float(h))); }
inline int __half2int_rz(__half h) { return static_cast<int>(float(h)); }
inline unsigned short __half_as_ushort(__half h) { return h.bits_; }
inline short __half_as_short(__half h) { return static_cast<short>(h.bits_); }
inline __half __ushort_as_half(unsigned short b) { return __half::from_bits(b); }
inline __half __short_as_half(short b) { return __half::from_bits(static_cast<uint16_t>(b)); }
inline __half __hadd(__half a, __half b) { return a + b; }
inline __half __hsub(__half a, __half b) { return a - b; }
inline __half __hmul(__half a, __half b) { return a * b; }
inline __half __hdiv(__half a, __half b) { return a / b; }
inline __half __hneg(__half a) { return -a; }
/// fma of halves: a*b+c is exact in double (half's exponent range is tiny), so one rounding.
inline __half __hfma(__half a, __half b, __half c) {
  return __half(static_cast<double>(float(a)) * float(b) + float(c));
}
inline __half __hmax(__half a, __half b) { return float(a) >= float(b) || b != b ? a : b; }
inline __half __hmin(__half a, __half b) { return float(a) <= float(b) || b != b ? a : b; }
inline __half __habs(__half a) { return __half::from_bits(static_cast<uint16_t>(a.bits_ & 0x7fffu)); }
inline bool __hgt(__half a, __half b) { return a > b; }
inline bool __hlt(__half a, __half b) { return a < b; }
inline bool __hge(__half a, __half b) { return a >= b; }
inline bool __hle(__half a, __half b) { return a <= b; }
inline bool __heq(__half a, __half b) { return a == b; }
inline bool __hisnan(__half a) { return (a.bits_ & 0x7fffu) > 0x7c00u; }
inline bool __hisinf(__half a) { return (a.bits_ & 0x7fffu) == 0x7c00u; }
inline __half hexp(__half a) { return __half(std::exp(float(a))); }
inline __half hlog(__half a) { return __half(std::log(float(a))); }
inline __half hsqrt(__half a) { return __half(std::sqrt(float(a))); }
inline __half hrsqrt(__half a) { return __half(1.0f / std::sqrt(float(a))); }
inline __half htanh(__half a) { return __half(std::tanh(float(a))); }
inline __half2 __halves2half2(__half a, __half b) { return __half2{a, b}; }
inline __half2 __half2half2(__half a) { return __half2{a, a}; }
inline __half2 __float2half2_rn(float a) { return __half2{__half(a), __half(a)}; }
inline __half2 __floats2half2_rn(float a, float b) { return __half2{__half(a), __half(b)}; }
inline __half2 __float22half2_rn(float2 v) { return __half2{__half(v.x), __half(v.y)}; }
inline float2 __half22float2(__half2 v) { return float2{float(v.x), float(v.y)}; }
inline __half __low2half(__half2 v) { return v.x; }
inline __half __high2half(__half2 v) { return v.y; }
inline float __low2float(__half2 v) { return float(v.x); }
inline float __high2float(__half2 v) { return float(v.y); }
inline __half2 __hadd2(__half2 a, __half2 b) { return __half2{a.x + b.x, a.y + b.y}; }
inline __half2 __hmul2(__half2 a, __half2 b) { return __half2{a.x * b.x, a.y * b.y}; }
inline __half2 __hfma2(__half2 a, __half2 b, __half2 c) {
  return __half2{__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y)};
}
inline float __bfloat162float(__nv_bfloat16 b) { return float(b); }
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
