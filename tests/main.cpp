// The test runner: doctest's own main, after delve picks the fast OpenBLAS kernels as the CLI does.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "core/blas.h"

int main(int argc, char** argv) {
  delve::ensure_fast_blas(argc, argv);
  doctest::Context context(argc, argv);
  return context.run();
}
