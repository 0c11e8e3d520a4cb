// Row-wise helpers for a rows × cols block of a row-major matrix with row stride ld: the bias of a
// conv or fc layer is added to every position of its output row, and its gradient is that row's sum.
#pragma once
#include <cstddef>

namespace delve {

// m[r, c] += b[r] for every c < cols.
inline void add_row_bias(float* m, int rows, size_t cols, size_t ld, const float* b) {
  for (int r = 0; r < rows; ++r) {
    float* row = m + size_t(r) * ld;
    const float br = b[r];
    for (size_t c = 0; c < cols; ++c) row[c] += br;
  }
}

// sums[r] += Σ_c m[r, c], each row accumulated in double (rows of 10⁵ values lose digits in float).
inline void add_row_sums(const float* m, int rows, size_t cols, size_t ld, float* sums) {
  for (int r = 0; r < rows; ++r) {
    const float* row = m + size_t(r) * ld;
    double s = 0.0;
    for (size_t c = 0; c < cols; ++c) s += row[c];
    sums[r] += float(s);
  }
}

}  // namespace delve
