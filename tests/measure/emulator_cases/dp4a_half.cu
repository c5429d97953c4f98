// __dp4a (signed and unsigned), half conversions and half arithmetic.
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cstdlib>
#include "case_io.h"

__global__ void dp4a_kernel(const int* a, const int* b, const int* c, int* s, unsigned* u, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  s[i] = __dp4a(a[i], b[i], c[i]);
  u[i] = __dp4a(static_cast<unsigned>(a[i]), static_cast<unsigned>(b[i]), static_cast<unsigned>(c[i]));
}

__global__ void half_kernel(const float* x, const float* y, half* h, float* back, half* sum, half* prod,
                            half* fma, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  half hx = __float2half_rn(x[i]);
  half hy = __float2half(y[i]);
  h[i] = hx;
  back[i] = __half2float(hx);
  sum[i] = __hadd(hx, hy);
  prod[i] = __hmul(hx, hy);
  fma[i] = __hfma(hx, hy, hx);
}

int main(int argc, char** argv) {
  int n = std::atoi(argv[1]);
  int* da = to_device(read_vec<int>("a.bin", n));
  int* db = to_device(read_vec<int>("b.bin", n));
  int* dc = to_device(read_vec<int>("c.bin", n));
  int* ds;
  unsigned* du;
  CHECK(cudaMalloc(&ds, n * sizeof(int)));
  CHECK(cudaMalloc(&du, n * sizeof(unsigned)));
  dp4a_kernel<<<(n + 63) / 64, 64>>>(da, db, dc, ds, du, n);
  float* dx = to_device(read_vec<float>("x.bin", n));
  float* dy = to_device(read_vec<float>("y.bin", n));
  half *dh, *dsum, *dprod, *dfma;
  float* dback;
  CHECK(cudaMalloc(&dh, n * sizeof(half)));
  CHECK(cudaMalloc(&dsum, n * sizeof(half)));
  CHECK(cudaMalloc(&dprod, n * sizeof(half)));
  CHECK(cudaMalloc(&dfma, n * sizeof(half)));
  CHECK(cudaMalloc(&dback, n * sizeof(float)));
  half_kernel<<<(n + 63) / 64, 64>>>(dx, dy, dh, dback, dsum, dprod, dfma, n);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  write_vec("s.bin", to_host(ds, n).data(), n);
  write_vec("u.bin", to_host(du, n).data(), n);
  write_vec("h.bin", to_host(dh, n).data(), n);
  write_vec("back.bin", to_host(dback, n).data(), n);
  write_vec("sum.bin", to_host(dsum, n).data(), n);
  write_vec("prod.bin", to_host(dprod, n).data(), n);
  write_vec("fma.bin", to_host(dfma, n).data(), n);
  return 0;
}
