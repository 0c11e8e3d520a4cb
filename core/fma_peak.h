// The machine's measured single-precision FMA peak, for "fraction of peak" in benchmarks.
//
// Runs independent chains of fused multiply-adds on the widest vectors this CPU has (AVX-512 when
// present, else AVX2) on `threads` threads at once, and reports the achieved GFLOP/s (an FMA is
// two flops). Measured, not taken from a datasheet: turbo, AVX-512 down-clocking and a VM's
// neighbours all show up in it, the same way they show up in the benchmark it is compared with.
#pragma once

namespace delve {

double measured_fma_peak_gflops(int threads, double seconds = 0.2);

}  // namespace delve
