// 2-D transpose on CUDA, y[c][r] = x[r][c] (x: rows x cols, y: cols x rows). Each 32 x 8 block
// moves a 32 x 32 tile: it reads rows of the tile from x (coalesced), stages them in shared
// memory, synchronises, and writes rows of the transposed tile to y (coalesced again). Each
// thread handles 4 elements, 8 rows apart. The tile is 32 x 33: the extra column shifts each
// row by one bank, so reading a column of the tile has no shared-memory bank conflicts.
#include <cuda_runtime.h>

#define TILE_DIM 32
#define BLOCK_ROWS 8

__global__ void transpose_2d(const float* __restrict__ x, float* __restrict__ y, int rows, int cols) {
    __shared__ float tile[TILE_DIM][TILE_DIM + 1];
    int c = blockIdx.x * TILE_DIM + threadIdx.x;
    int r0 = blockIdx.y * TILE_DIM;
    for (int j = 0; j < TILE_DIM; j += BLOCK_ROWS) {
        int r = r0 + threadIdx.y + j;
        if (r < rows && c < cols) {
            tile[threadIdx.y + j][threadIdx.x] = x[r * cols + c];
        }
    }
    __syncthreads();
    int yc = r0 + threadIdx.x;
    int yr0 = blockIdx.x * TILE_DIM;
    for (int j = 0; j < TILE_DIM; j += BLOCK_ROWS) {
        int yr = yr0 + threadIdx.y + j;
        if (yr < cols && yc < rows) {
            y[yr * rows + yc] = tile[threadIdx.x][threadIdx.y + j];
        }
    }
}
