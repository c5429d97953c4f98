// Failure modes selected by argv[1]: "oob" writes one element past a cudaMalloc buffer,
// "deadlock" waits at two different __syncthreads, "shfl_deadlock" mixes a barrier and a shuffle,
// "poison" reads memory that nobody wrote.
#include <cuda_runtime.h>
#include <cstdio>
#include <cstring>
#include "case_io.h"

__global__ void write_n_plus_one(float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) y[i] = 1.0f;  // off by one: i == n is past the end
}

__global__ void divergent_barrier(float* y) {
  __shared__ float s[64];
  s[threadIdx.x] = threadIdx.x;
  if (threadIdx.x < 32) {
    __syncthreads();
    y[threadIdx.x] = s[63 - threadIdx.x];
  } else {
    __syncthreads();
    y[threadIdx.x] = 0.0f;
  }
}

__global__ void barrier_vs_shuffle(float* y) {
  float v = threadIdx.x;
  if (threadIdx.x == 0) {
    __syncthreads();
  } else {
    v = __shfl_down_sync(0xffffffffu, v, 1);
  }
  y[threadIdx.x] = v;
}

__global__ void copy(const float* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = x[i];
}

int main(int argc, char** argv) {
  const int n = 100;
  float *x, *y;
  CHECK(cudaMalloc(&x, n * sizeof(float)));
  CHECK(cudaMalloc(&y, n * sizeof(float)));
  if (!std::strcmp(argv[1], "oob")) {
    write_n_plus_one<<<1, 128>>>(y, n);
  } else if (!std::strcmp(argv[1], "deadlock")) {
    divergent_barrier<<<1, 64>>>(y);
  } else if (!std::strcmp(argv[1], "shfl_deadlock")) {
    barrier_vs_shuffle<<<1, 32>>>(y);
  } else {
    copy<<<1, 128>>>(x, y, n);
    float h[n];
    CHECK(cudaMemcpy(h, y, sizeof h, cudaMemcpyDeviceToHost));
    std::printf("poison %f\n", h[5]);
  }
  CHECK(cudaDeviceSynchronize());
  std::printf("finished\n");
  return 0;
}
