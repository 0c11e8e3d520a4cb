// The revision a build records (core/version.h) is the source tree's HEAD at build time, so that a run's
// log and checkpoint name the commit that trained it. It used to be taken at configure time and went
// stale with every commit after the first cmake.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "core/version.h"

namespace {

std::string source_dir() {
  const std::string data = DELVE_TEST_DATA_DIR;  // <source>/tests/data
  return data.substr(0, data.size() - std::string("/tests/data").size());
}

// `git -C <source> rev-parse HEAD`, or "" when git or the checkout is missing.
std::string git_head() {
  const std::string command = "git -C '" + source_dir() + "' rev-parse HEAD 2>/dev/null";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return "";
  std::string out;
  char buffer[128];
  while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
  if (::pclose(pipe) != 0) return "";
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// The commit part of `git describe --always --dirty`: "abc1234", "abc1234-dirty", "v1-3-gabc1234".
std::string commit_of(std::string revision) {
  const std::string dirty = "-dirty";
  if (revision.size() > dirty.size() && revision.compare(revision.size() - dirty.size(), dirty.size(), dirty) == 0)
    revision.resize(revision.size() - dirty.size());
  const size_t tagged = revision.rfind("-g");
  return tagged == std::string::npos ? revision : revision.substr(tagged + 2);
}

}  // namespace

TEST_CASE("version: the recorded revision is the source tree's HEAD, or unknown outside a checkout") {
  const std::string revision = delve::source_revision();
  REQUIRE(!revision.empty());
  const std::string head = git_head();
  if (head.empty()) {
    CHECK(revision == "unknown");
    return;
  }
  const std::string commit = commit_of(revision);
  CHECK(commit.size() >= 4);
  CHECK_MESSAGE(head.compare(0, commit.size(), commit) == 0,
                "built from " << revision << " but HEAD is " << head << ": rebuild (./build.sh) before testing");
}

TEST_CASE("version: the commit is read out of each form git describe gives") {
  CHECK(commit_of("abc1234") == "abc1234");
  CHECK(commit_of("abc1234-dirty") == "abc1234");
  CHECK(commit_of("v1.0-3-gabc1234") == "abc1234");
  CHECK(commit_of("v1.0-3-gabc1234-dirty") == "abc1234");
}
