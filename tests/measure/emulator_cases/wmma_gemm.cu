// WMMA 16x16x16 fp16 -> fp32 GEMM: one warp per 16x16 output tile, A row-major, B col-major.
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <mma.h>
#include <cstdlib>
#include "case_io.h"

using namespace nvcuda;

__global__ void wmma_gemm(const half* A, const half* B, float* C, int M, int N, int K) {
  int warp = (blockIdx.x * blockDim.x + threadIdx.x) / warpSize;
  int tiles_n = N / 16;
  int tm = warp / tiles_n, tn = warp % tiles_n;
  if (tm * 16 >= M) return;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> a;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::col_major> b;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> c;
  wmma::fill_fragment(c, 0.0f);
  for (int k = 0; k < K; k += 16) {
    wmma::load_matrix_sync(a, A + tm * 16 * K + k, K);
    wmma::load_matrix_sync(b, B + tn * 16 * K + k, K);  // B stored as [N][K] = column-major KxN
    wmma::mma_sync(c, a, b, c);
  }
  for (int i = 0; i < c.num_elements; ++i) c.x[i] *= 2.0f;
  wmma::store_matrix_sync(C + tm * 16 * N + tn * 16, c, N, wmma::mem_row_major);
}

int main(int argc, char** argv) {
  int M = std::atoi(argv[1]), N = std::atoi(argv[2]), K = std::atoi(argv[3]);
  half* dA = to_device(read_vec<half>("a.bin", (size_t)M * K));
  half* dB = to_device(read_vec<half>("b.bin", (size_t)N * K));
  float* dC;
  CHECK(cudaMalloc(&dC, (size_t)M * N * sizeof(float)));
  int warps = (M / 16) * (N / 16);
  wmma_gemm<<<(warps + 1) / 2, 64>>>(dA, dB, dC, M, N, K);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  write_vec("c.bin", to_host(dC, (size_t)M * N).data(), (size_t)M * N);
  return 0;
}
