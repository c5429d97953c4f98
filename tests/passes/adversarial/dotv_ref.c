// truth for dotv (float64 accumulation)
void dotv(const float* x, const float* w, float* out, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (double)x[i] * w[i];
    out[0] = (float)s;
}
