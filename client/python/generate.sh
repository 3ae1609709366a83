#!/usr/bin/env bash
# Generates dipwire's Python stubs (messages and gRPC service) from
# proto/dipwire/v1/*.proto into the package tree, client/python/dipwire/v1/.
# The CMake build runs this (target dipwire_python_stubs, part of every
# build); run it by hand to use the package without building:
#
#   client/python/generate.sh
#
# PROTOC and GRPC_PYTHON_PLUGIN override the tools (defaults: Debian's
# /usr/bin/protoc and /usr/bin/grpc_python_plugin, from protobuf-compiler
# and protobuf-compiler-grpc). The files are written to a temporary
# directory and renamed into place, so a concurrent import never sees a
# half-written module. They are not committed (.gitignore).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
protoc="${PROTOC:-/usr/bin/protoc}"
plugin="${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}"
out="$here/dipwire/v1"

tmp="$(mktemp -d "$out/.generate.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# -I proto: the modules import each other as dipwire.v1.events_pb2.
"$protoc" -I "$root/proto" \
  --python_out="$tmp" --pyi_out="$tmp" \
  --grpc_python_out="$tmp" --plugin=protoc-gen-grpc_python="$plugin" \
  "$root"/proto/dipwire/v1/events.proto "$root"/proto/dipwire/v1/alerts.proto
for file in "$tmp"/dipwire/v1/*; do
  mv -f "$file" "$out/$(basename "$file")"
done
