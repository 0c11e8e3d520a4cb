#include "core/point_gemm.h"

#include <atomic>
#include <cstdlib>

#include "core/blas.h"
#include "core/error.h"

namespace delve {

namespace {

// Measured on an AVX-512 CPU (README, Speed): libxsmm's A·B beat delve's AVX-512 kernel by 10-40%,
// which beat OpenBLAS's AVX2 kernels by about 2x; delve's AVX2 kernels lost to OpenBLAS's, so they
// run only when forced.
GemmKernel fastest_available() {
  if (gemm_kernel_available(GemmKernel::Xsmm)) return GemmKernel::Xsmm;
  if (gemm_kernel_available(GemmKernel::Avx512)) return GemmKernel::Avx512;
  return GemmKernel::Blas;
}

GemmKernel from_environment() {
  const char* forced = std::getenv("DELVE_GEMM");
  if (!forced || !*forced) return fastest_available();
  GemmKernel k;
  try {
    k = parse_gemm_kernel(forced);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("DELVE_GEMM: ") + e.what());
  }
  if (!gemm_kernel_available(k))
    throw ConfigError(std::string("DELVE_GEMM=") + forced + ": this CPU cannot run that kernel (use blas or " +
                      gemm_kernel_name(fastest_available()) + ")");
  return k;
}

std::atomic<int> chosen{-1};  // a GemmKernel, or -1 before the first use

}  // namespace

const char* gemm_kernel_name(GemmKernel kernel) {
  switch (kernel) {
    case GemmKernel::Blas: return "blas";
    case GemmKernel::Avx2: return "avx2";
    case GemmKernel::Avx512: return "avx512";
    case GemmKernel::Xsmm: return "xsmm";
  }
  return "?";
}

GemmKernel parse_gemm_kernel(const std::string& name) {
  for (GemmKernel k : {GemmKernel::Blas, GemmKernel::Avx2, GemmKernel::Avx512, GemmKernel::Xsmm})
    if (name == gemm_kernel_name(k)) return k;
  throw ConfigError("unknown GEMM kernel \"" + clipped(name) + "\" (blas, avx2, avx512, xsmm)");
}

bool gemm_kernel_available(GemmKernel kernel) {
  switch (kernel) {
    case GemmKernel::Blas: return true;
    case GemmKernel::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case GemmKernel::Avx512: return __builtin_cpu_supports("avx512f");
    case GemmKernel::Xsmm: return gemm_kernel_available(GemmKernel::Avx2) && xsmm_available();
  }
  return false;
}

GemmKernel gemm_kernel() {
  int k = chosen.load(std::memory_order_acquire);
  if (k < 0) {
    k = int(from_environment());
    chosen.store(k, std::memory_order_release);
  }
  return GemmKernel(k);
}

void set_gemm_kernel(GemmKernel kernel) {
  if (!gemm_kernel_available(kernel))
    throw ConfigError(std::string("GEMM kernel ") + gemm_kernel_name(kernel) + " needs CPU features this CPU lacks");
  chosen.store(int(kernel), std::memory_order_release);
}

namespace {
// The product libxsmm 1.17 cannot JIT (C += A·Bᵀ: its A would be transposed) and the shapes it
// refuses go to delve's AVX-512 kernel, or to OpenBLAS where that is missing (faster than delve's AVX2).
GemmKernel own_kernel(GemmKernel kernel) {
  if (kernel != GemmKernel::Xsmm) return kernel;
  return gemm_kernel_available(GemmKernel::Avx512) ? GemmKernel::Avx512 : GemmKernel::Blas;
}

using PointProduct = void (*)(int m, int n, int k, const float* A, const float* B, float* C);

void blas_nn(int m, int n, int k, const float* A, const float* B, float* C) {
  sgemm(false, false, m, n, k, 1.f, A, k, B, n, 0.f, C, n);
}
void blas_nt_add(int m, int n, int k, const float* A, const float* B, float* C) {
  sgemm(false, true, m, n, k, 1.f, A, k, B, k, 1.f, C, n);
}

void each_point(const PointGemm& g, const float* A, const float* B, float* C, PointProduct product) {
  for (int xi = 0; xi < 16; ++xi)
    product(g.m, g.n, g.k, A + xi * g.a_stride, B + xi * g.b_stride, C + xi * g.c_stride);
}
}  // namespace

void point_gemm_nn(const PointGemm& g, const float* A, const float* B, float* C) {
  const GemmKernel kernel = gemm_kernel();
  if (kernel == GemmKernel::Xsmm && gemm_nn_xsmm(g, A, B, C)) return;
  switch (own_kernel(kernel)) {
    case GemmKernel::Avx512: return each_point(g, A, B, C, gemm_nn_avx512);
    case GemmKernel::Avx2: return each_point(g, A, B, C, gemm_nn_avx2);
    default: return each_point(g, A, B, C, blas_nn);
  }
}

void point_gemm_nt_add(const PointGemm& g, const float* A, const float* B, float* C) {
  switch (own_kernel(gemm_kernel())) {
    case GemmKernel::Avx512: return each_point(g, A, B, C, gemm_nt_add_avx512);
    case GemmKernel::Avx2: return each_point(g, A, B, C, gemm_nt_add_avx2);
    default: return each_point(g, A, B, C, blas_nt_add);
  }
}

}  // namespace delve
