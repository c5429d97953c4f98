void inplace(float* x, int n) {
    for (int i = n - 1; i >= 0; i--) x[i] = x[i] + x[i];
}
