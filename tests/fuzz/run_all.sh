#!/usr/bin/env bash
# Fuzzes every parser of user input for a bounded time each, then merges what each target found
# into its corpus under tests/fuzz/corpus/<target>/ (minimised: only inputs that add coverage),
# which the ordinary test suite replays (tests/test_fuzz_corpus.cpp).
# Usage: tests/fuzz/run_all.sh [seconds per target, default 60] [target ...]
# Needs clang-14 and libFuzzer (apt-get install clang-14 libclang-rt-14-dev). Builds build-fuzz/.
# One job per target, one target at a time: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config idx cifar safetensors image_folder)

if [ ! -f build-fuzz/CMakeCache.txt ]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DDELVE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build build-fuzz -j2 --target "${targets[@]/#/fuzz_}" >build-fuzz/build.log 2>&1 ||
  { tail -40 build-fuzz/build.log >&2; exit 1; }

crashed=()
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
  corpus=tests/fuzz/corpus/$t
  work=build-fuzz/work/$t          # everything found this time, before minimising
  artifacts=build-fuzz/artifacts/$t/
  mkdir -p "$corpus" "$work" "$artifacts"
  dict=()
  [ -f tests/fuzz/$t.dict ] && dict=(-dict=tests/fuzz/$t.dict)
  echo "== fuzz_$t for ${seconds}s" >&2
  # -rss_limit_mb: an input that makes a parser allocate 2 GB is a finding, not a slow test.
  build-fuzz/fuzz_$t "$work" "$corpus" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -max_len=8192 -artifact_prefix="$artifacts" -print_final_stats=1 \
    2>build-fuzz/$t.log || { grep -E -A12 "^==[0-9]+==|^terminate|ERROR: libFuzzer" build-fuzz/$t.log | head -40 >&2
                             echo "fuzz_$t: FOUND A CRASH: $(ls "$artifacts")" >&2; crashed+=("$t"); }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" build-fuzz/$t.log | sed "s/^/  /" >&2
  # Keep only inputs that add edge coverage (hit counts ignored: -use_counters=0), so the corpus
  # stays small enough to keep in git and to replay in the suite.
  merged=build-fuzz/merged/$t
  rm -rf "$merged" && mkdir -p "$merged"
  build-fuzz/fuzz_$t -merge=1 -use_counters=0 "$merged" "$corpus" "$work" 2>>build-fuzz/$t.log
  # Inputs that once crashed a parser (regression-*) stay, whether or not they add coverage.
  find "$corpus" -name 'regression-*' -exec cp {} "$merged" \;
  rm -rf "$corpus" && mv "$merged" "$corpus"
  echo "  corpus: $(ls "$corpus" | wc -l) files, $(du -sk --apparent-size "$corpus" | cut -f1) KiB" >&2
done
if [ ${#crashed[@]} -gt 0 ]; then
  echo "crashes in: ${crashed[*]} (inputs in build-fuzz/artifacts/; fix, then add them to the corpus as regression-*)" >&2
  exit 1
fi
