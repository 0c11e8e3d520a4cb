// The 16 small GEMMs of Winograd's transform domain (core/winograd.h) as one batched call:
// C[ξ] (+)= A[ξ] · op(B[ξ]) for ξ = 0..15, row-major, every point of one shape.
//
// Kernels (GemmKernel): OpenBLAS, one sgemm per point (portable; it packs both operands on every
// call, which costs more than the product on the 16×16 and 8×8 layers, and it runs the AVX2
// kernels OPENBLAS_CORETYPE pins); delve's own register-tiled AVX2+FMA and AVX-512 kernels
// (core/point_gemm_kernel.h), which read the operands in place; and libxsmm, which JIT-compiles
// A·B for each shape and the CPU's best instruction set (C += A·Bᵀ then runs delve's AVX-512
// kernel, or OpenBLAS without AVX-512). The default is the fastest measured that the CPU supports,
// found from its feature flags, never from OPENBLAS_CORETYPE: xsmm, else avx512, else blas.
// DELVE_GEMM=blas|avx2|avx512|xsmm in the environment forces one (for comparisons), as
// set_gemm_kernel does in tests. Each kernel sums an output element in an order fixed by the shape
// alone (ascending k, or fixed vector lanes then a fixed reduction tree): the same bits every call.
#pragma once
#include <cstddef>
#include <string>

namespace delve {

enum class GemmKernel { Blas, Avx2, Avx512, Xsmm };

const char* gemm_kernel_name(GemmKernel kernel);
// "blas", "avx2", "avx512", "xsmm"; anything else throws ConfigError naming the value.
GemmKernel parse_gemm_kernel(const std::string& name);
// Whether this CPU (and OS) can run it: Blas always, the others by their feature flags (xsmm: AVX2).
bool gemm_kernel_available(GemmKernel kernel);
// The kernel in use: DELVE_GEMM when set (read once; an unknown or unavailable value throws
// ConfigError), else the fastest available.
GemmKernel gemm_kernel();
// Forces a kernel (tests, benchmarks); throws ConfigError if this CPU cannot run it.
void set_gemm_kernel(GemmKernel kernel);

// The shape of one batch of 16 products: each C[ξ] is m×n, summing over k; the points of an operand
// lie `stride` floats apart, its rows are contiguous (leading dimension = row length).
struct PointGemm {
  int m, n, k;
  size_t a_stride, b_stride, c_stride;
};

// C[ξ] = A[ξ] · B[ξ]: A m×k, B k×n.
void point_gemm_nn(const PointGemm& g, const float* A, const float* B, float* C);
// C[ξ] += A[ξ] · B[ξ]ᵀ: A m×k, B n×k.
void point_gemm_nt_add(const PointGemm& g, const float* A, const float* B, float* C);

// The ISA kernels behind point_gemm_* (core/point_gemm_avx2.cpp, core/point_gemm_avx512.cpp), one
// point at a time; call only when gemm_kernel_available says so.
void gemm_nn_avx2(int m, int n, int k, const float* A, const float* B, float* C);
void gemm_nt_add_avx2(int m, int n, int k, const float* A, const float* B, float* C);
void gemm_nn_avx512(int m, int n, int k, const float* A, const float* B, float* C);
void gemm_nt_add_avx512(int m, int n, int k, const float* A, const float* B, float* C);
// libxsmm (core/point_gemm_xsmm.cpp): whether it JIT-compiles AVX2 or better here; C[ξ] = A[ξ]·B[ξ]
// for all 16 points, false (C untouched) when libxsmm has no kernel for the shape.
bool xsmm_available();
bool gemm_nn_xsmm(const PointGemm& g, const float* A, const float* B, float* C);

}  // namespace delve
