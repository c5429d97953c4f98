// truth for sqmod: plain C, 64-bit index arithmetic
void sqmod(const float* x, float* y, int n) {
    for (long i = 0; i < n; i++) {
        y[i] = x[(i * i) % n] * 2.0f;
    }
}
