void axpb(const float* x, float* y, float a, float b, int n) {
    for (int i = 0; i < n; i++) y[i] = a * x[i] + b;
}
