// Runs the real `delve` binary (DELVE_BINARY, set by CMake) as a child process, for the tests of
// the command line as a user meets it: exit codes, messages on stderr, and what a killed or
// refused run leaves on disk.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/file_bytes.h"

namespace delve::test {

struct ChildOptions {
  long file_size_limit = -1;  // >= 0: RLIMIT_FSIZE in bytes, as a full disk (SIGXFSZ ignored)
};

// Starts `delve args...` with stdout and stderr going to the given files; returns its pid.
inline pid_t start_delve(const std::vector<std::string>& args, const std::string& out_path,
                         const std::string& err_path, const ChildOptions& options = {}) {
  // Everything that allocates happens before fork: the child may only make async-signal-safe
  // calls until exec (another thread of the test could hold the allocator's lock).
  std::vector<char*> argv{const_cast<char*>(DELVE_BINARY)};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0 || err < 0) ::_exit(127);
  ::dup2(out, 1);
  ::dup2(err, 2);
  if (options.file_size_limit >= 0) {
    // Writes past the limit then fail with EFBIG instead of killing the process, the same path
    // through the code as ENOSPC on a full disk.
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{rlim_t(options.file_size_limit), rlim_t(options.file_size_limit)};
    ::setrlimit(RLIMIT_FSIZE, &limit);
  }
  ::execv(DELVE_BINARY, argv.data());
  ::_exit(127);
}

struct DelveResult {
  int exit_code = -1;  // -1: ended by a signal (signal says which)
  int signal = 0;
  std::string out, err;
};

// Waits for the child; its status as exit code or signal.
inline void wait_delve(pid_t pid, DelveResult& result) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
}

// Runs `delve args...` to the end, capturing its output in files in the directory `scratch`.
inline DelveResult run_delve(const std::vector<std::string>& args, const std::string& scratch,
                             const ChildOptions& options = {}) {
  const std::string out = scratch + "/delve.stdout", err = scratch + "/delve.stderr";
  DelveResult result;
  wait_delve(start_delve(args, out, err, options), result);
  result.out = read_bytes(out);
  result.err = read_bytes(err);
  return result;
}

}  // namespace delve::test
