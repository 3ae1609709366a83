#!/usr/bin/env bash
# The README's "test" command, and all that .ci/run calls: installs what is
# missing, then runs the whole suite:
#   1. format check (clang-format, Google style)
#   2. gcc build (-Wall -Wextra -Werror) and every test through CTest
#      (unit tests and end-to-end tests against the real dipwired)
#   3. clang build with ASan + UBSan (and -Wthread-safety), clang-tidy on
#      dipwire's own code, and every test again through CTest
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs="${DIPWIRE_JOBS:-2}"
step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
deploy/install-deps.sh test

step "format check (clang-format --dry-run --Werror)"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t sources < <(git ls-files '*.cc' '*.h')
else
  mapfile -t sources < <(find common server client tests -name '*.cc' -o -name '*.h')
fi
clang-format --dry-run --Werror "${sources[@]}"
echo "${#sources[@]} files formatted"

step "build: gcc, Debug"
cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build/test -j"$jobs"

step "tests: gcc build"
ctest --test-dir build/test --output-on-failure -j"$jobs" --timeout 300

step "build: clang, ASan + UBSan, clang-tidy"
CC=clang CXX=clang++ cmake -S . -B build/asan -G Ninja \
  -DCMAKE_BUILD_TYPE=Debug -DDIPWIRE_SANITIZE=ON -DDIPWIRE_CLANG_TIDY=ON \
  >/dev/null
cmake --build build/asan -j"$jobs"

step "tests: ASan + UBSan build"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir build/asan --output-on-failure -j"$jobs" --timeout 600
