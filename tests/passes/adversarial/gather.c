// Indirect indexing on the CPU, inside an OpenMP loop.
void gather(const float* x, const int* idx, float* y, int m) {
#pragma omp parallel for
    for (int i = 0; i < m; i++) {
        y[i] = x[idx[i]];
    }
}
