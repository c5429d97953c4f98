// Vector add with a grid-stride loop, launched from a host launcher function.
#include <cuda_runtime.h>
#include <cstdlib>
#include "case_io.h"

__global__ void vadd(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ c, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
    c[i] = a[i] + b[i];
  }
}

void launch_vadd(const float* a, const float* b, float* c, int n) {
  dim3 grid(3);  // deliberately too few blocks: the stride loop covers the rest
  dim3 block(64);
  vadd<<<grid, block>>>(a, b, c, n);
}

int main(int argc, char** argv) {
  int n = std::atoi(argv[1]);
  std::vector<float> a = read_vec<float>("a.bin", n), b = read_vec<float>("b.bin", n);
  float* da = to_device(a);
  float* db = to_device(b);
  float* dc = nullptr;
  CHECK(cudaMalloc(&dc, n * sizeof(float)));
  cudaEvent_t t0, t1;
  CHECK(cudaEventCreate(&t0));
  CHECK(cudaEventCreate(&t1));
  CHECK(cudaEventRecord(t0));
  launch_vadd(da, db, dc, n);
  CHECK(cudaEventRecord(t1));
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  CHECK(cudaEventSynchronize(t1));
  float ms = -1.0f;
  CHECK(cudaEventElapsedTime(&ms, t0, t1));
  std::vector<float> c = to_host(dc, n);
  write_vec("c.bin", c.data(), n);
  std::printf("elapsed_ms %f\n", ms);
  CHECK(cudaEventDestroy(t0));
  CHECK(cudaEventDestroy(t1));
  CHECK(cudaFree(da));
  CHECK(cudaFree(db));
  CHECK(cudaFree(dc));
  return 0;
}
