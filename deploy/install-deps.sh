#!/usr/bin/env bash
# Installs, with apt-get, exactly the Debian 12 packages dipwire needs that
# are missing. Safe to run any number of times; installs nothing when all
# are present.
#
#   deploy/install-deps.sh build   # to build and run dipwired and dipwire
#   deploy/install-deps.sh test    # plus what the test suite needs
set -euo pipefail

mode="${1:-build}"

build_packages=(
  cmake ninja-build g++ pkg-config ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libsqlite3-dev libssl-dev
  # Webhook sinks (server/webhook_sinks.cc) POST with libcurl.
  libcurl4-openssl-dev
  # The Python client and dipwire-ingest (client/python/), on /usr/bin/python3.
  python3-grpcio python3-protobuf
)
test_packages=(
  libgtest-dev libgmock-dev googletest
  # The sanitizer build uses clang; libclang-rt-14-dev is only a recommended
  # package of clang, and without it -fsanitize fails to link.
  clang clang-14 libclang-rt-14-dev clang-format clang-tidy
  sqlite3 python3-pytest
  # TLS tests make their certificates with the openssl command.
  openssl
)

case "$mode" in
  build) wanted=("${build_packages[@]}") ;;
  test) wanted=("${build_packages[@]}" "${test_packages[@]}") ;;
  *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

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
