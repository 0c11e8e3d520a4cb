#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace delve {
namespace {

std::string errno_text() { return std::strerror(errno); }

// The directory whose entry the rename changes; "." for a bare file name.
std::string parent_directory(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// write() may write less than asked (signals, pipes, a limit reached part way): loop until done.
bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(size_t(n));
  }
  return true;
}

}  // namespace

void write_file_atomic(const std::string& path, const std::vector<std::string_view>& pieces) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw Error("cannot write " + path + ": cannot create temporary file " + tmp + ": " +
                errno_text());
  }
  // Every later failure removes the temporary file; errno is captured before the cleanup (close,
  // unlink) can overwrite it.
  int open_fd = fd;
  auto fail = [&](const std::string& step) {
    const std::string reason = errno_text();
    if (open_fd >= 0) ::close(open_fd);
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path + ": " + step + ": " + reason);
  };
  for (std::string_view piece : pieces) {
    if (!write_all(fd, piece)) fail("writing " + tmp);
  }
  // The data must be on disk before the rename makes it visible, or a crash could leave the name
  // pointing at an empty or partial file.
  if (::fsync(fd) != 0) fail("fsync of " + tmp);
  open_fd = -1;  // close() releases the descriptor even when it reports an error
  if (::close(fd) != 0) fail("closing " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("renaming " + tmp + " over it");

  const std::string dir = parent_directory(path);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0 || ::fsync(dir_fd) != 0) {
    const std::string reason = errno_text();
    if (dir_fd >= 0) ::close(dir_fd);
    // The new file is in place, but a power cut could still undo the rename: say so rather than
    // pretend the write is durable.
    throw Error("wrote " + path + " but could not fsync its directory " + dir + ": " + reason);
  }
  ::close(dir_fd);
}

void remove_stale_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string prefix = target.filename().string() + ".tmp.";
  std::error_code ec;
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
        name.find_first_not_of("0123456789", prefix.size()) == std::string::npos) {
      std::error_code ignored;  // litter that cannot be removed does no harm
      fs::remove(it->path(), ignored);
    }
  }
}

void write_text_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, {std::string_view(text)});
}

}  // namespace delve
