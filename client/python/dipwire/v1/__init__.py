"""dipwire's API, package ``dipwire.v1``: generated stubs.

The modules here (``events_pb2``, ``alerts_pb2``, ``alerts_pb2_grpc``) are
generated from ``proto/dipwire/v1/*.proto`` by ``client/python/generate.sh``,
which every CMake build runs; they are not committed.
"""
