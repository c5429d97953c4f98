// Histograms with atomicAdd: straight to global memory, and privatised in shared memory.
#include <cuda_runtime.h>
#include <cstdlib>
#include "case_io.h"

#define BINS 64

__global__ void hist_global(const int* x, unsigned* h, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) atomicAdd(&h[x[i] % BINS], 1u);
}

__global__ void hist_shared(const int* x, unsigned* h, int n, float* fsum) {
  __shared__ unsigned local[BINS];
  for (int b = threadIdx.x; b < BINS; b += blockDim.x) local[b] = 0;
  __syncthreads();
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
    unsigned old = atomicAdd(&local[x[i] % BINS], 1u);
    (void)old;
    atomicAdd(fsum, 0.5f);
  }
  __syncthreads();
  for (int b = threadIdx.x; b < BINS; b += blockDim.x) atomicAdd(&h[b], local[b]);
}

int main(int argc, char** argv) {
  int n = std::atoi(argv[1]);
  int* dx = to_device(read_vec<int>("x.bin", n));
  unsigned *h1, *h2;
  float* fsum;
  CHECK(cudaMalloc(&h1, BINS * sizeof(unsigned)));
  CHECK(cudaMalloc(&h2, BINS * sizeof(unsigned)));
  CHECK(cudaMalloc(&fsum, sizeof(float)));
  CHECK(cudaMemset(h1, 0, BINS * sizeof(unsigned)));
  CHECK(cudaMemset(h2, 0, BINS * sizeof(unsigned)));
  CHECK(cudaMemset(fsum, 0, sizeof(float)));
  hist_global<<<(n + 127) / 128, 128>>>(dx, h1, n);
  hist_shared<<<4, 96>>>(dx, h2, n, fsum);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  std::vector<unsigned> a = to_host(h1, BINS), b = to_host(h2, BINS);
  a.insert(a.end(), b.begin(), b.end());
  write_vec("h.bin", a.data(), a.size());
  std::vector<float> f = to_host(fsum, 1);
  std::printf("fsum %.1f\n", f[0]);
  return 0;
}
