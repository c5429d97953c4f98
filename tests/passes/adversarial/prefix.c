// Prefix sum through a scalar carried across iterations.
void prefix(const float* x, float* y, int n) {
    float acc = 0.0f;
    for (int i = 0; i < n; i++) {
        acc += x[i];
        y[i] = acc;
    }
}
