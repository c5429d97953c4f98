// 16x16 shared-memory tiled GEMM C[M,N] = A[M,K] * B[K,N] with barriers inside the k loop.
#include <cuda_runtime.h>
#include <cstdlib>
#include "case_io.h"

#define TILE 16

__global__ void gemm(const float* A, const float* B, float* C, int M, int N, int K) {
  __shared__ float As[TILE][TILE];
  __shared__ float Bs[TILE][TILE + 1];
  int row = blockIdx.y * TILE + threadIdx.y;
  int col = blockIdx.x * TILE + threadIdx.x;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += TILE) {
    As[threadIdx.y][threadIdx.x] = (row < M && k0 + threadIdx.x < K) ? A[row * K + k0 + threadIdx.x] : 0.0f;
    Bs[threadIdx.y][threadIdx.x] = (col < N && k0 + threadIdx.y < K) ? B[(k0 + threadIdx.y) * N + col] : 0.0f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < TILE; ++k) acc += As[threadIdx.y][k] * Bs[k][threadIdx.x];
    __syncthreads();
  }
  if (row < M && col < N) C[row * N + col] = acc;
}

int main(int argc, char** argv) {
  int M = std::atoi(argv[1]), N = std::atoi(argv[2]), K = std::atoi(argv[3]);
  float* dA = to_device(read_vec<float>("a.bin", (size_t)M * K));
  float* dB = to_device(read_vec<float>("b.bin", (size_t)K * N));
  float* dC = nullptr;
  CHECK(cudaMalloc(&dC, (size_t)M * N * sizeof(float)));
  dim3 block(TILE, TILE);
  dim3 grid((N + TILE - 1) / TILE, (M + TILE - 1) / TILE);
  gemm<<<grid, block>>>(dA, dB, dC, M, N, K);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  std::vector<float> C = to_host(dC, (size_t)M * N);
  write_vec("c.bin", C.data(), C.size());
  return 0;
}
