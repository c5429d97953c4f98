void strided(const float* x, float* y, int n) {
    for (int i = 0; i < n; i++) {
        float v = x[i];
        if (i % 3 == 1) v = 2.0f * x[i] - x[i - 1];
        if ((n - 1 - i) % 2 == 0) v = v + 0.5f * x[n - 1 - i];
        y[i] = v;
    }
}
