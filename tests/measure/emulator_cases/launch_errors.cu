// Launches that must fail like on a GPU, and one __launch_bounds__ kernel that must run.
#include <cuda_runtime.h>
#include <cstdio>
#include "case_io.h"

__global__ void __launch_bounds__(128) bounded(int* out) { out[threadIdx.x] = threadIdx.x + 1; }

__global__ void plain(int* out) { out[threadIdx.x % 4] = 7; }

__global__ void big_static(int* out) {
  __shared__ float big[10 * 1024];  // 40 KiB; with 16 KiB dynamic it exceeds 48 KiB
  big[threadIdx.x] = 1.0f;
  out[0] = static_cast<int>(big[0]) + 40;
}

static void report(const char* what) {
  cudaError_t e = cudaGetLastError();
  std::printf("%s %d %s\n", what, static_cast<int>(e), cudaGetErrorString(e));
}

int main() {
  int* d;
  CHECK(cudaMalloc(&d, 256 * sizeof(int)));
  CHECK(cudaMemset(d, 0, 256 * sizeof(int)));
  bounded<<<1, 128>>>(d);
  report("bounded128");
  int h[256];
  CHECK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
  std::printf("value127 %d\n", h[127]);
  CHECK(cudaMemset(d, 0, 256 * sizeof(int)));
  bounded<<<1, 256>>>(d);
  report("bounded256");
  CHECK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
  std::printf("value0 %d\n", h[0]);
  plain<<<1, 2048>>>(d);
  std::printf("sync %d\n", static_cast<int>(cudaDeviceSynchronize()));
  report("threads2048");
  plain<<<1, dim3(1, 1, 65)>>>(d);
  report("blockz65");
  plain<<<0, 32>>>(d);
  report("grid0");
  big_static<<<1, 32, 16 * 1024>>>(d);
  report("shared56k");
  big_static<<<1, 32>>>(d);
  report("shared40k");
  CHECK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
  std::printf("value0 %d\n", h[0]);
  report("after");
  return 0;
}
