// A loop-carried dependence through memory: a[i] = a[i - 1] + b[i]. Must not be parallelised.
void recur(float* a, const float* b, int n) {
    for (int i = 1; i < n; i++) {
        a[i] = a[i - 1] + b[i];
    }
}
