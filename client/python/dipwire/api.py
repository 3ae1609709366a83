"""The generated stubs of ``dipwire.v1``, with a clear error when missing.

Import the API from here (``from dipwire.api import events_pb2``) rather
than from ``dipwire.v1`` directly: the stubs are generated at build time
(``client/python/generate.sh``) and a checkout that was never built has
none.
"""

try:
    from dipwire.v1 import alerts_pb2, alerts_pb2_grpc, events_pb2
except ImportError as error:  # pragma: no cover - depends on the checkout
    raise ImportError(
        "dipwire's generated Python stubs are missing (dipwire/v1/*_pb2.py): "
        "build the project with CMake or run client/python/generate.sh"
    ) from error

__all__ = ["alerts_pb2", "alerts_pb2_grpc", "events_pb2"]
