#!/usr/bin/env bash
# The README's "test" command, and all that .ci/run calls: installs what is
# missing, then runs the whole suite:
#   1. format check (clang-format, Google style)
#   2. gcc build (-Wall -Wextra -Werror) and every test through CTest
#      (unit tests and end-to-end tests against the real dipwired)
#   3. clang build with ASan + UBSan (and -Wthread-safety), clang-tidy on
#      dipwire's own code and the libFuzzer targets, and every test again
#      through CTest
#   4. a short run of each libFuzzer target (tests/fuzz/), from its seed
#      corpus: DIPWIRE_FUZZ_SECONDS per target (default 20; 0 skips)
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
  mapfile -t sources < <(find common server client tests bench -name '*.cc' -o -name '*.h')
fi
clang-format --dry-run --Werror "${sources[@]}"
echo "${#sources[@]} files formatted"

step "build: gcc, Debug"
cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build/test -j"$jobs"

step "tests: gcc build"
ctest --test-dir build/test --output-on-failure -j"$jobs" --timeout 300

step "build: clang, ASan + UBSan, clang-tidy, fuzz targets"
# DIPWIRE_FUZZ adds coverage instrumentation (-fsanitize=fuzzer-no-link) to
# this build and the fuzz targets of step 4, so they need no build of their own.
CC=clang CXX=clang++ cmake -S . -B build/asan -G Ninja \
  -DCMAKE_BUILD_TYPE=Debug -DDIPWIRE_SANITIZE=ON -DDIPWIRE_CLANG_TIDY=ON \
  -DDIPWIRE_FUZZ=ON >/dev/null
cmake --build build/asan -j"$jobs"

step "tests: ASan + UBSan build"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir build/asan --output-on-failure -j"$jobs" --timeout 600

fuzz_seconds="${DIPWIRE_FUZZ_SECONDS:-20}"
step "short fuzz runs (${fuzz_seconds}s per target)"
if ((fuzz_seconds > 0)); then
  # Each target starts from a copy of its seed corpus, so the run adds to
  # a temporary directory and never to the repository. A crashing input is
  # kept under build/asan/fuzz-artifacts/ to reproduce it with
  #   build/asan/tests/fuzz/<target> <file>
  fuzz_work="$(mktemp -d)"
  trap 'rm -rf "$fuzz_work"' EXIT
  artifacts="build/asan/fuzz-artifacts"
  mkdir -p "$artifacts"
  for target in filter_fuzzer event_validation_fuzzer cursor_fuzzer \
                event_json_fuzzer engine_state_fuzzer; do
    corpus="$fuzz_work/$target"
    mkdir "$corpus"
    cp tests/fuzz/corpus/"$target"/* "$corpus"/
    options=(-max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -timeout=10
             -print_final_stats=1 -artifact_prefix="$artifacts/$target-")
    if [[ -f "tests/fuzz/$target.dict" ]]; then
      options+=(-dict="tests/fuzz/$target.dict")
    fi
    if ! build/asan/tests/fuzz/"$target" "${options[@]}" "$corpus" \
        >"$fuzz_work/$target.log" 2>&1; then
      tail -n 80 "$fuzz_work/$target.log"
      echo "$target: FAILED; the input is in $artifacts/" >&2
      exit 1
    fi
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' \
      "$fuzz_work/$target.log")"
    echo "$target: ${runs:-?} executions in ${fuzz_seconds}s," \
      "corpus $(find "$corpus" -type f | wc -l) inputs" \
      "($(find tests/fuzz/corpus/"$target" -type f | wc -l) seeds)"
  done
fi
