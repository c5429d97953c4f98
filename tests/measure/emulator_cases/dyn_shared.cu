// Dynamic shared memory: each block reverses its chunk through `extern __shared__`, and a
// templated kernel uses a 2-D dynamic array; __syncthreads_count counts positive inputs.
#include <cuda_runtime.h>
#include <cstdlib>
#include "case_io.h"

__global__ void reverse_chunks(const float* x, float* y, int* positives) {
  extern __shared__ float buf[];
  int base = blockIdx.x * blockDim.x;
  buf[threadIdx.x] = x[base + threadIdx.x];
  int count = __syncthreads_count(buf[threadIdx.x] > 0.0f);
  y[base + threadIdx.x] = buf[blockDim.x - 1 - threadIdx.x];
  if (threadIdx.x == 0) positives[blockIdx.x] = count;
}

template <typename T>
__global__ void transpose_tile(const T* x, T* y) {  // one 8x8 tile per block
  extern __shared__ __align__(16) unsigned char raw[];
  T* tile = reinterpret_cast<T*>(raw);
  tile[threadIdx.y * 8 + threadIdx.x] = x[blockIdx.x * 64 + threadIdx.y * 8 + threadIdx.x];
  __syncthreads();
  y[blockIdx.x * 64 + threadIdx.y * 8 + threadIdx.x] = tile[threadIdx.x * 8 + threadIdx.y];
}

int main(int argc, char** argv) {
  int block = std::atoi(argv[1]), blocks = std::atoi(argv[2]);
  int n = block * blocks;
  float* dx = to_device(read_vec<float>("x.bin", n));
  float* dy;
  int* dpos;
  CHECK(cudaMalloc(&dy, n * sizeof(float)));
  CHECK(cudaMalloc(&dpos, blocks * sizeof(int)));
  reverse_chunks<<<blocks, block, block * sizeof(float), 0>>>(dx, dy, dpos);
  CHECK(cudaGetLastError());
  float* dt;
  CHECK(cudaMalloc(&dt, n * sizeof(float)));
  transpose_tile<<<n / 64, dim3(8, 8), 64 * sizeof(float)>>>(dx, dt);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  write_vec("y.bin", to_host(dy, n).data(), n);
  write_vec("t.bin", to_host(dt, n).data(), n);
  write_vec("pos.bin", to_host(dpos, blocks).data(), blocks);
  return 0;
}
