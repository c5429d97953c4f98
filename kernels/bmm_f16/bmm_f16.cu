// Batched GEMM on half inputs with fp32 accumulation on tensor cores (WMMA): C[b] = A[b] @ B[b]
// (A: batch x M x K and B: batch x K x N half, C: batch x M x N float, row-major).
// One warp per 16x16 tile of C: blockIdx.z picks the matrix, blockIdx.y the tile row and the
// 4 warps of a 32 x 4 block four consecutive tile columns. M, N and K must be multiples of 16.
// The host launcher takes the kernel's parameters and builds the 3-D grid.
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <mma.h>

using namespace nvcuda;

#define TILE 16
#define WARPS 4

__global__ void bmm_f16(const half* __restrict__ A, const half* __restrict__ B, float* __restrict__ C,
                        int batch, int M, int N, int K) {
    int b = blockIdx.z;
    int tile_m = blockIdx.y;
    int tile_n = blockIdx.x * WARPS + threadIdx.y;
    if (b >= batch || tile_m * TILE >= M || tile_n * TILE >= N) {
        return;
    }
    const half* a = A + (b * M + tile_m * TILE) * K;
    const half* bm = B + b * K * N + tile_n * TILE;
    wmma::fragment<wmma::matrix_a, TILE, TILE, TILE, half, wmma::row_major> a_frag;
    wmma::fragment<wmma::matrix_b, TILE, TILE, TILE, half, wmma::row_major> b_frag;
    wmma::fragment<wmma::accumulator, TILE, TILE, TILE, float> acc;
    wmma::fill_fragment(acc, 0.0f);
    for (int k = 0; k < K; k += TILE) {
        wmma::load_matrix_sync(a_frag, a + k, K);
        wmma::load_matrix_sync(b_frag, bm + k * N, N);
        wmma::mma_sync(acc, a_frag, b_frag, acc);
    }
    wmma::store_matrix_sync(C + (b * M + tile_m * TILE) * N + tile_n * TILE, acc, N, wmma::mem_row_major);
}

void bmm_f16_launch(const half* A, const half* B, float* C, int batch, int M, int N, int K) {
    dim3 block(32, WARPS, 1);
    dim3 grid((N / TILE + WARPS - 1) / WARPS, M / TILE, batch);
    bmm_f16<<<grid, block>>>(A, B, C, batch, M, N, K);
}
