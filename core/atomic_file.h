// Replacing a file all at once. Checkpoints, summaries and charts are rewritten while a run goes
// on; a crash, a full disk or a kill in the middle must leave either the old file or the new one,
// never a torn mix that a resume would then trust.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace delve {

// Writes the concatenation of `pieces` to `path`: a temporary file next to it
// (`path + ".tmp.<pid>"`, same directory so the rename cannot cross file systems), write, fsync,
// rename over `path`, fsync the directory so the rename itself survives a power cut.
// On failure the temporary file is removed, any previous file at `path` is untouched, and an Error
// names the path, the step that failed and strerror. Pieces let callers write a header and large
// raw buffers without first copying them into one string.
void write_file_atomic(const std::string& path, const std::vector<std::string_view>& pieces);

void write_text_file_atomic(const std::string& path, const std::string& text);

// Removes the temporary files (`path + ".tmp.<pid>"`) that writers of `path` killed mid-write
// (SIGKILL, power cut) left behind; they are never read, only litter. Call it only when no other
// process writes `path`, e.g. from the one process that owns a run directory.
void remove_stale_temporaries(const std::string& path);

}  // namespace delve
