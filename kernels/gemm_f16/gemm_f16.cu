// GEMM on half inputs with fp32 accumulation on tensor cores (WMMA): C = A @ B (A: M x K and
// B: K x N half, row-major; C: M x N float). One warp per 16x16 tile of C: for each 16-wide
// k-step it loads a 16x16 tile of A and of B into fragments and issues one mma_sync; the
// accumulator fragment is stored once at the end. M, N and K must be multiples of 16.
// Blocks are 128 x 4 threads (16 warps): warps along x cover tile rows, threads along y tile columns.
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <mma.h>

using namespace nvcuda;

#define WMMA_M 16
#define WMMA_N 16
#define WMMA_K 16

__global__ void gemm_f16(const half* __restrict__ A, const half* __restrict__ B, float* __restrict__ C,
                         int M, int N, int K) {
    int tile_m = (blockIdx.x * blockDim.x + threadIdx.x) / warpSize;
    int tile_n = blockIdx.y * blockDim.y + threadIdx.y;
    if (tile_m * WMMA_M >= M || tile_n * WMMA_N >= N) {
        return;
    }
    wmma::fragment<wmma::matrix_a, WMMA_M, WMMA_N, WMMA_K, half, wmma::row_major> a_frag;
    wmma::fragment<wmma::matrix_b, WMMA_M, WMMA_N, WMMA_K, half, wmma::row_major> b_frag;
    wmma::fragment<wmma::accumulator, WMMA_M, WMMA_N, WMMA_K, float> acc;
    wmma::fill_fragment(acc, 0.0f);
    for (int k = 0; k < K; k += WMMA_K) {
        wmma::load_matrix_sync(a_frag, A + tile_m * WMMA_M * K + k, K);
        wmma::load_matrix_sync(b_frag, B + k * N + tile_n * WMMA_N, N);
        wmma::mma_sync(acc, a_frag, b_frag, acc);
    }
    wmma::store_matrix_sync(C + tile_m * WMMA_M * N + tile_n * WMMA_N, acc, N, wmma::mem_row_major);
}
