#!/usr/bin/env bash
# Installs what delve needs from Debian (when missing) and builds it into build/.
# Usage: ./build.sh            Release build in build/, with Open MPI (mpirun -np P build/delve run ...)
#        ./build.sh --no-mpi   the same without MPI (delve runs as one process; nothing else changes)
#        ./build.sh --sanitize AddressSanitizer + UBSan build of the suite in build-sanitize/ (no MPI:
#                              Open MPI's own allocations would drown the leak reports)
set -euo pipefail
cd "$(dirname "$0")"

packages=(cmake g++ make pkg-config libopenblas-dev libstb-dev nlohmann-json3-dev doctest-dev zlib1g-dev
          libcli11-dev libxsmm-dev dataset-fashion-mnist)
mpi=ON
case "${1:-}" in
  --no-mpi|--sanitize) mpi=OFF ;;
  ""|--mpi) ;;
  *) echo "build.sh: unknown option '$1' (use --no-mpi or --sanitize)" >&2; exit 2 ;;
esac
if [ $mpi = ON ]; then packages+=(libopenmpi-dev openmpi-bin); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build.sh: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

dir=build
flags=(-DCMAKE_BUILD_TYPE=Release)
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-sanitize
  # -O1 -g: sanitizer reports with usable stacks, and a build that stays short in CI.
  flags=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g" -DDELVE_SANITIZE=ON)
fi
cmake -S . -B "$dir" "${flags[@]}" -DDELVE_MPI=$mpi >/dev/null
echo "build.sh: building $dir/ (about five minutes the first time on two cores)" >&2
if ! cmake --build "$dir" -j2 >"$dir/build.log" 2>&1; then
  grep -E -A3 "error" "$dir/build.log" | head -60 >&2
  echo "build.sh: build failed; the whole log is $dir/build.log" >&2
  exit 1
fi
