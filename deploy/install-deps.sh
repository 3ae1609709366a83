#!/usr/bin/env bash
# Installs, with apt-get, exactly the Debian 12 packages dipwire needs that
# are missing. Safe to run any number of times; installs nothing when all
# are present.
#
#   deploy/install-deps.sh build    # to build and run dipwired and dipwire
#   deploy/install-deps.sh test     # plus what the test suite needs
#   deploy/install-deps.sh runtime  # only what the built binaries need to run
#                                   # (deploy/Dockerfile's final stage)
#   deploy/install-deps.sh --list MODE   # print MODE's packages, install nothing
set -euo pipefail

list_only=false
if [[ "${1:-}" == "--list" ]]; then
  list_only=true
  shift
fi
mode="${1:-build}"

build_packages=(
  cmake ninja-build g++ pkg-config ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libsqlite3-dev libssl-dev
  # dipwired's allocator (CMakeLists.txt, DIPWIRE_JEMALLOC).
  libjemalloc-dev
  # Webhook sinks (server/webhook_sinks.cc) POST with libcurl.
  libcurl4-openssl-dev
  # The Python client and dipwire-ingest (client/python/), on /usr/bin/python3.
  python3-grpcio python3-protobuf
  # dipwire-bench (bench/) compares with Redis Streams through hiredis.
  libhiredis-dev
)
test_packages=(
  libgtest-dev libgmock-dev googletest
  # Micro-benchmarks (tests/bench/micro_bench.cc).
  libbenchmark-dev
  # The sanitizer build uses clang; libclang-rt-14-dev is only a recommended
  # package of clang, and without it -fsanitize fails to link.
  clang clang-14 libclang-rt-14-dev clang-format clang-tidy
  sqlite3 python3-pytest
  # dipwire-bench's peer mode starts its own redis-server on 127.0.0.1.
  redis-server
  # metrics_e2e_test parses /metrics with Prometheus's own text parser.
  python3-prometheus-client
  # deploy/tests: YAML of compose and Kubernetes, systemd-analyze, and
  # docker-compose for its schema check (`config`; it needs no engine).
  python3-yaml systemd docker-compose
  # TLS tests make their certificates with the openssl command.
  openssl
)
# The packages owning the shared libraries dipwired and dipwire link (their
# DT_NEEDED entries; apt brings what those need in turn), plus the CA
# certificates that https webhooks verify against.
# deploy/tests/test_deploy.py checks this list against the built binaries.
runtime_packages=(
  libc6 libgcc-s1 libstdc++6
  libabsl20220623 libgrpc++1.51 libgrpc29 libprotobuf32
  libsqlite3-0 libssl3 libcurl4 libjemalloc2
  ca-certificates
)

case "$mode" in
  build) wanted=("${build_packages[@]}") ;;
  test) wanted=("${build_packages[@]}" "${test_packages[@]}") ;;
  runtime) wanted=("${runtime_packages[@]}") ;;
  *) echo "usage: $0 [--list] build|test|runtime" >&2; exit 2 ;;
esac

if $list_only; then
  printf '%s\n' "${wanted[@]}"
  exit 0
fi

missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  echo "dependencies: all ${#wanted[@]} packages present"
  exit 0
fi

echo "dependencies: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "dependencies: installed ${#missing[@]} packages"
