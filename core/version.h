// The source revision a binary was built from, for the run log, the checkpoint and --version.
#pragma once

namespace delve {

// `git describe --always --dirty` of the source tree, taken at every build (core/version.cmake), so a
// run's log and checkpoint name the commit that trained it; "unknown" outside a git checkout.
const char* source_revision();

}  // namespace delve
