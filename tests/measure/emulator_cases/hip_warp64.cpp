// HIP source: 64-lane wavefront reduction with the mask-less __shfl_down and hipLaunchKernelGGL.
#include <hip/hip_runtime.h>
#include <cstdio>
#include <vector>

__global__ void wave_sum(const float* x, float* out, unsigned long long* ballots) {
  float v = x[blockIdx.x * blockDim.x + threadIdx.x];
  for (int offset = warpSize / 2; offset > 0; offset >>= 1) v += __shfl_down(v, offset);
  unsigned long long b = __ballot(threadIdx.x % 3 == 0);
  int wave = (blockIdx.x * blockDim.x + threadIdx.x) / warpSize;
  if (threadIdx.x % warpSize == 0) {
    out[wave] = v;
    ballots[wave] = b;
  }
}

int main() {
  const int n = 256;
  std::vector<float> h(n);
  for (int i = 0; i < n; ++i) h[i] = static_cast<float>(i % 17) - 3.0f;
  float *dx, *dout;
  unsigned long long* db;
  hipMalloc(&dx, n * sizeof(float));
  hipMalloc(&dout, n / 64 * sizeof(float));
  hipMalloc(&db, n / 64 * sizeof(unsigned long long));
  hipMemcpy(dx, h.data(), n * sizeof(float), hipMemcpyHostToDevice);
  hipLaunchKernelGGL(wave_sum, dim3(2), dim3(128), 0, 0, dx, dout, db);
  hipError_t e = hipDeviceSynchronize();
  if (e != hipSuccess) {
    std::printf("error %s\n", hipGetErrorString(e));
    return 1;
  }
  float out[4];
  unsigned long long ballots[4];
  hipMemcpy(out, dout, sizeof out, hipMemcpyDeviceToHost);
  hipMemcpy(ballots, db, sizeof ballots, hipMemcpyDeviceToHost);
  std::printf("warpSize %d\n", warpSize);
  for (int w = 0; w < 4; ++w) std::printf("sum %d %.1f ballot %llx\n", w, out[w], ballots[w]);
  hipFree(dx);
  hipFree(dout);
  hipFree(db);
  return 0;
}
