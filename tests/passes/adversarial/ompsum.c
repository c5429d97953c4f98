// An OpenMP reduction clause into one output.
void ompsum(const float* x, float* out, int n) {
    float s = 0.0f;
#pragma omp parallel for reduction(+:s)
    for (int i = 0; i < n; i++) {
        s += x[i];
    }
    out[0] = s;
}
