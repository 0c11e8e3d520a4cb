// libFuzzer target: delve::fuzz::cifar (tests/fuzz/fuzz_entries.h). Build with -DDELVE_FUZZ=ON and
// clang; run all targets with tests/fuzz/run_all.sh.
#include "tests/fuzz/fuzz_entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  delve::fuzz::cifar(data, size);
  return 0;
}
