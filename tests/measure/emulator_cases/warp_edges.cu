// Warp edge cases: a partial last warp (blockDim 40), lanes that returned before a full-mask
// collective, a template kernel whose argument types are deduced at the launch, and __syncwarp.
#include <cuda_runtime.h>
#include <cstdio>
#include "case_io.h"

template <typename T>
__global__ void edges(T* out, unsigned* masks) {
  unsigned t = threadIdx.x;
  unsigned lane = t % 32;
  // ballot over the partial warp: warp 1 has only lanes 0..7
  unsigned b = __ballot_sync(0xffffffffu, 1);
  // shuffle from a lane that does not exist returns the caller's own value
  T v = static_cast<T>(t);
  T down = __shfl_down_sync(0xffffffffu, v, 4);
  out[t] = down;
  if (lane == 0) masks[t / 32] = b;
  __syncwarp();
  if (lane >= 16) return;  // half of each warp leaves
  T x = __shfl_xor_sync(0xffffffffu, v, 1);  // the remaining lanes still pair up
  out[64 + t] = x;
  unsigned active = __activemask();
  if (lane == 0) masks[2 + t / 32] = active;
  int all = __all_sync(0xffffu, lane < 16);
  int any = __any_sync(0xffffu, lane == 100);
  if (lane == 0) masks[4 + t / 32] = all * 2 + any;
}

int main() {
  float* out;
  unsigned* masks;
  CHECK(cudaMalloc(&out, 128 * sizeof(float)));
  CHECK(cudaMalloc(&masks, 6 * sizeof(unsigned)));
  CHECK(cudaMemset(out, 0, 128 * sizeof(float)));
  edges<<<1, 40>>>(out, masks);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  std::vector<float> h = to_host(out, 128);
  std::vector<unsigned> m = to_host(masks, 6);
  for (int i = 0; i < 40; ++i) std::printf("down %d %g\n", i, h[i]);
  for (int i = 0; i < 40; ++i) {
    if (i % 32 < 16) std::printf("xor %d %g\n", i, h[64 + i]);
  }
  for (int i = 0; i < 6; ++i) std::printf("mask %d %x\n", i, m[i]);
  return 0;
}
