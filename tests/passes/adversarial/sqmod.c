// Non-affine indexing on the CPU: the read index is (i * i) % n.
void sqmod(const float* x, float* y, int n) {
    for (int i = 0; i < n; i++) {
        int j = (i * i) % n;
        y[i] = 2.0f * x[j];
    }
}
