// The processor a run trained on, as the kernel names it, for the start event of log.jsonl and the
// report: timings and the rounding of the BLAS kernels depend on it.
#pragma once
#include <string>

namespace delve {

// "AMD EPYC 9B45" from /proc/cpuinfo's "model name" (x86) or "Model" (ARM boards) line;
// "unknown" where there is no such file or line.
std::string cpu_model();

}  // namespace delve
