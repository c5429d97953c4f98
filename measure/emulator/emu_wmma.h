// emu_wmma.h - nvcuda::wmma on the emulator.
//
// Emulation choice: EVERY thread of the warp holds the WHOLE tile in its fragment (row-major
// logical order), instead of the hardware's opaque distribution of elements over lanes. So
// load_matrix_sync / mma_sync / store_matrix_sync give exactly the hardware's results, and loops
// over frag.num_elements that apply the same operation to every element (scaling, activation) stay
// correct; code that gives frag.x[i] a lane-specific meaning is NOT distributed as on hardware.
// load and store are warp rendezvous points (like __syncwarp), as the _sync in their name promises.
#pragma once
#include <cstddef>

#include "emu_device.h"

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };
namespace precision {
struct tf32 {};
}

namespace detail {
template <class Use, int M, int N, int K>
struct dims;
template <int M, int N, int K>
struct dims<matrix_a, M, N, K> { static constexpr int rows = M, cols = K; };
template <int M, int N, int K>
struct dims<matrix_b, M, N, K> { static constexpr int rows = K, cols = N; };
template <int M, int N, int K>
struct dims<accumulator, M, N, K> { static constexpr int rows = M, cols = N; };
template <class T>
struct storage { using type = T; };
template <>
struct storage<precision::tf32> { using type = float; };
template <class L>
constexpr bool is_col_major() { return std::is_same<L, col_major>::value; }
/// Line 0 in deadlock reports stands for a wmma load/store.
inline void warp_rendezvous() { (void)::emu::warp_collective(0, ::emu::Op::SyncWarp, ~0ull, 0); }
}  // namespace detail

/// A whole tile per thread; `x` is the tile in row-major logical order.
template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  using element_type = typename detail::storage<T>::type;
  static constexpr int rows = detail::dims<Use, M, N, K>::rows;
  static constexpr int cols = detail::dims<Use, M, N, K>::cols;
  static constexpr int num_elements = rows * cols;
  element_type x[num_elements];
  element_type& at(int r, int c) { return x[r * cols + c]; }
  const element_type& at(int r, int c) const { return x[r * cols + c]; }
};

template <class Use, int M, int N, int K, class T, class L, class V>
inline void fill_fragment(fragment<Use, M, N, K, T, L>& f, const V& v) {
  for (int i = 0; i < f.num_elements; ++i) f.x[i] = static_cast<typename fragment<Use, M, N, K, T, L>::element_type>(v);
}

template <class Frag, class P>
inline void load_tile(Frag& f, const P* p, unsigned ldm, bool col) {
  for (int r = 0; r < Frag::rows; ++r) {
    for (int c = 0; c < Frag::cols; ++c) {
      const P& v = col ? p[static_cast<size_t>(c) * ldm + r] : p[static_cast<size_t>(r) * ldm + c];
      f.at(r, c) = static_cast<typename Frag::element_type>(v);
    }
  }
}

template <class Use, int M, int N, int K, class T, class L, class P>
inline void load_matrix_sync(fragment<Use, M, N, K, T, L>& f, const P* p, unsigned ldm) {
  static_assert(!std::is_same<Use, accumulator>::value, "accumulator loads need a layout_t argument");
  detail::warp_rendezvous();
  load_tile(f, p, ldm, detail::is_col_major<L>());
}

template <int M, int N, int K, class T, class P>
inline void load_matrix_sync(fragment<accumulator, M, N, K, T, void>& f, const P* p, unsigned ldm,
                                layout_t layout) {
  detail::warp_rendezvous();
  load_tile(f, p, ldm, layout == mem_col_major);
}

template <int M, int N, int K, class T, class P>
inline void store_matrix_sync(P* p, const fragment<accumulator, M, N, K, T, void>& f, unsigned ldm,
                                 layout_t layout) {
  detail::warp_rendezvous();
  for (int r = 0; r < M; ++r) {
    for (int c = 0; c < N; ++c) {
      P& dst = layout == mem_col_major ? p[static_cast<size_t>(c) * ldm + r] : p[static_cast<size_t>(r) * ldm + c];
      dst = static_cast<P>(f.at(r, c));
    }
  }
  detail::warp_rendezvous();
}

/// d = a*b + c, products and sums in float (double for double tiles), rounded once to d's type.
template <int M, int N, int K, class TA, class LA, class TB, class LB, class TC, class TD>
inline void mma_sync(fragment<accumulator, M, N, K, TD, void>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
                     const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, TC, void>& c,
                     bool = false) {
  using Acc = std::conditional_t<std::is_same<TC, double>::value, double,
                                 std::conditional_t<std::is_integral<TC>::value, long long, float>>;
  Acc tmp[M * N];
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      Acc s = static_cast<Acc>(c.at(i, j));
      for (int k = 0; k < K; ++k) s += static_cast<Acc>(a.at(i, k)) * static_cast<Acc>(b.at(k, j));
      tmp[i * N + j] = s;
    }
  }
  using DT = typename fragment<accumulator, M, N, K, TD, void>::element_type;
  for (int i = 0; i < M * N; ++i) d.x[i] = static_cast<DT>(tmp[i]);
}

template <class F>
inline F __float_to_tf32(F v) { return v; }

}  // namespace wmma
}  // namespace nvcuda
