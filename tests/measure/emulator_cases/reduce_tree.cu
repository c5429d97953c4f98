// Shared-memory tree reduction (one partial sum per block) and a warp-shuffle reduction.
#include <cuda_runtime.h>
#include <cstdlib>
#include "case_io.h"

__global__ void reduce_tree(const float* x, float* partial, int n) {
  __shared__ float s[256];
  unsigned t = threadIdx.x;
  unsigned i = blockIdx.x * blockDim.x + t;
  s[t] = i < n ? x[i] : 0.0f;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (t < stride) s[t] += s[t + stride];
    __syncthreads();
  }
  if (t == 0) partial[blockIdx.x] = s[0];
}

__device__ float warp_sum(float v) {
  for (int offset = warpSize / 2; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

__device__ float warp_allsum(float v) {
  for (int mask = 16; mask > 0; mask >>= 1) v += __shfl_xor_sync(0xffffffffu, v, mask);
  return v;
}

// out[w] = sum over warp w (shfl_down, lane 0); all[t] = butterfly sum seen by every lane;
// scan[t] = inclusive prefix sum within the warp (shfl_up); bcast[t] = value of lane 3 of each
// 16-wide segment (shfl with width 16).
__global__ void warp_ops(const float* x, float* out, float* all, float* scan, float* bcast) {
  unsigned t = blockIdx.x * blockDim.x + threadIdx.x;
  unsigned lane = threadIdx.x % 32;
  float v = x[t];
  float s = warp_sum(v);
  if (lane == 0) out[t / 32] = s;
  all[t] = warp_allsum(v);
  float p = v;
  for (int d = 1; d < 32; d <<= 1) {
    float up = __shfl_up_sync(0xffffffffu, p, d);
    if (lane >= d) p += up;
  }
  scan[t] = p;
  bcast[t] = __shfl_sync(0xffffffffu, v, 3, 16);
}

int main(int argc, char** argv) {
  int n = std::atoi(argv[1]);  // a multiple of 256 for the warp part
  std::vector<float> x = read_vec<float>("x.bin", n);
  float* dx = to_device(x);
  int blocks = (n + 255) / 256;
  float *dpart, *dout, *dall, *dscan, *dbcast;
  CHECK(cudaMalloc(&dpart, blocks * sizeof(float)));
  CHECK(cudaMalloc(&dout, n / 32 * sizeof(float)));
  CHECK(cudaMalloc(&dall, n * sizeof(float)));
  CHECK(cudaMalloc(&dscan, n * sizeof(float)));
  CHECK(cudaMalloc(&dbcast, n * sizeof(float)));
  reduce_tree<<<blocks, 256>>>(dx, dpart, n);
  CHECK(cudaGetLastError());
  warp_ops<<<n / 128, 128>>>(dx, dout, dall, dscan, dbcast);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  write_vec("partial.bin", to_host(dpart, blocks).data(), blocks);
  write_vec("warp.bin", to_host(dout, n / 32).data(), n / 32);
  write_vec("all.bin", to_host(dall, n).data(), n);
  write_vec("scan.bin", to_host(dscan, n).data(), n);
  write_vec("bcast.bin", to_host(dbcast, n).data(), n);
  return 0;
}
