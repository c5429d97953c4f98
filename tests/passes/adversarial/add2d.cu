// 2-D indexing with a transposed read: z[r][c] = a[r][c] - 3 * b[c][r], 37 x 29 with 16x16 blocks.
__global__ void add2d(const float* a, const float* b, float* z, int rows, int cols) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    int r = blockIdx.y * blockDim.y + threadIdx.y;
    if (r < rows && c < cols) {
        z[r * cols + c] = a[r * cols + c] - 3.0f * b[c * rows + r];
    }
}
