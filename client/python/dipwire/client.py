"""A small, typed client for dipwire's ``AlertService``.

>>> from dipwire.client import Client, EARLIEST
>>> with Client("127.0.0.1:50051") as client:
...     response = client.publish([event])            # one atomic batch
...     for alert in client.subscribe("severity >= HIGH", start=EARLIEST):
...         print(alert.headline)

Every failure is a :class:`DipwireError` carrying the gRPC status code and
the server's message. Streams that survive a broken connection retry on the
same schedule as the C++ client: waits from 100 ms doubling up to 10 s, each
spread by +-20% of jitter. :meth:`Client.publish_batches` retries
``UNAVAILABLE`` and gives up after ``Backoff.give_up_after`` (60 s by
default); :meth:`Client.subscribe` retries as the C++ client's
``SubscribeResumable`` does (``UNAVAILABLE``, a ``CANCELLED`` it did not
ask for, ``RESOURCE_EXHAUSTED``) and by default never gives up.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import ipaddress
import queue
import random
import threading
import time
from typing import (Callable, Deque, Iterable, Iterator, List, Optional,
                    Tuple, TypeVar, Union)

import grpc

from dipwire.api import alerts_pb2, alerts_pb2_grpc, events_pb2

DiplomaticEvent = events_pb2.DiplomaticEvent
Alert = alerts_pb2.Alert
Heartbeat = alerts_pb2.Heartbeat
PublishRequest = alerts_pb2.PublishRequest
PublishResponse = alerts_pb2.PublishResponse

#: Subscribe from the start of the log.
EARLIEST = alerts_pb2.SubscribeRequest.EARLIEST
#: Subscribe to alerts created after the stream starts (the default).
LATEST = alerts_pb2.SubscribeRequest.LATEST

#: A subscription start: ``EARLIEST`` / ``LATEST``, a cursor (deliver the
#: alerts after it) or an aware datetime (alerts created at or after it).
Start = Union[int, str, datetime.datetime]

DEFAULT_TARGET = "127.0.0.1:50051"

# The channel's own wait between connection attempts grows up to this (the
# gRPC default is 120 s), as in the C++ client. While a channel waits, a call
# on it fails at once with UNAVAILABLE even when the server is back (grpcio
# 1.51 waits 1 s, 1.6 s, 2.6 s, ... whatever the initial backoff option
# says), so the streams that retry open a fresh channel of their own for
# each attempt, with its own subchannels (use_local_subchannel_pool): a
# restarted server is used as soon as it listens.
_MAX_RECONNECT_BACKOFF_MS = 10_000
_KEEPALIVE_TIME_MS = 30_000
_KEEPALIVE_TIMEOUT_MS = 10_000
_MAX_RECEIVE_MESSAGE_BYTES = 16 * 1024 * 1024

_UNAVAILABLE_NUMBER = grpc.StatusCode.UNAVAILABLE.value[0]

# The exponent of the backoff's growth stops here: the wait has long reached
# any sensible maximum, and multiplier ** 1024 would overflow a float.
_MAX_BACKOFF_EXPONENT = 64

# The statuses a Subscribe stream retries (besides a CANCELLED it did not
# ask for); see AlertIterator.
_SUBSCRIBE_RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE,
                                  grpc.StatusCode.RESOURCE_EXHAUSTED})

# How dipwired's stream limits (--max-streams, --max-publish-streams) word
# their RESOURCE_EXHAUSTED ("... retry later").
_STREAM_LIMIT_PREFIX = "too many concurrent"


def _publish_stream_retryable(error: "DipwireError") -> bool:
    """Whether a ``PublishStream`` that ended with ``error`` is worth
    opening again: ``UNAVAILABLE``, or the server's refusal of one stream
    more than ``--max-publish-streams``. Not any other ``RESOURCE_EXHAUSTED``:
    a request over the message size also ends the stream with it, and would
    again."""
    return (error.code == grpc.StatusCode.UNAVAILABLE or
            (error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and
             error.message.startswith(_STREAM_LIMIT_PREFIX)))

T = TypeVar("T")


class DipwireError(Exception):
    """A failed call: the gRPC status code and the server's message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> "DipwireError":
        """Wraps an error raised by a grpc call."""
        code = error.code() if hasattr(error, "code") else None
        details = error.details() if hasattr(error, "details") else None
        return cls(code or grpc.StatusCode.UNKNOWN, details or str(error))

    @classmethod
    def from_number(cls, number: int, message: str) -> "DipwireError":
        """An error from a status code number (``RequestError.code``)."""
        for code in grpc.StatusCode:
            if code.value[0] == number:
                return cls(code, message)
        return cls(grpc.StatusCode.UNKNOWN, f"(code {number}) {message}")


@dataclasses.dataclass(frozen=True)
class Backoff:
    """When to retry after a retryable status (``UNAVAILABLE``).

    The wait before attempt n (1 for the first after a break) is
    ``min(maximum, initial * multiplier ** min(n - 1, 64))`` times a random
    factor in ``[1 - jitter, 1 + jitter]``. The count starts again once the
    server answers. ``give_up_after`` (seconds, None: never) ends the
    retries when the next attempt would start that long after the
    connection was lost. Its default, 60 s, is the publishing side's
    (:meth:`Client.publish_batches`, ``dipwire-ingest --retry-for``);
    :meth:`Client.subscribe` takes the schedule but has a ``give_up_after``
    of its own, by default None (never), as the C++ client's
    ``ReconnectOptions``.
    """

    initial: float = 0.1
    maximum: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.2
    give_up_after: Optional[float] = 60.0

    def delay(self, attempt: int, unit_random: float) -> float:
        """The wait in seconds before ``attempt``, for a uniform draw in
        [0, 1)."""
        exponent = min(max(0, attempt - 1), _MAX_BACKOFF_EXPONENT)
        try:
            grown = self.initial * self.multiplier ** exponent
        except OverflowError:  # a huge multiplier: past any maximum
            grown = self.maximum
        return min(self.maximum, grown) * (
            1.0 - self.jitter + 2.0 * self.jitter * unit_random)


#: Called before each retry wait: (attempt, delay in seconds, the error).
RetryCallback = Callable[[int, float, DipwireError], None]


class _Retrier:
    """Counts consecutive failed attempts and waits between them."""

    def __init__(self, backoff: Backoff, on_retry: Optional[RetryCallback],
                 stop: Optional[threading.Event] = None) -> None:
        self._backoff = backoff
        self._on_retry = on_retry
        self._stop = stop or threading.Event()
        self._attempt = 0
        self._lost_at: Optional[float] = None

    def succeeded(self) -> None:
        """The server answered: the next failure starts a new count."""
        self._attempt = 0
        self._lost_at = None

    def wait(self, error: DipwireError) -> bool:
        """Waits before the next attempt; raises ``error`` when giving up.

        Returns False when the wait was interrupted by the stop event.
        """
        now = time.monotonic()
        if self._lost_at is None:
            self._lost_at = now
        self._attempt += 1
        delay = self._backoff.delay(self._attempt, random.random())
        limit = self._backoff.give_up_after
        if limit is not None and now + delay - self._lost_at > limit:
            raise error
        if self._on_retry is not None:
            self._on_retry(self._attempt, delay, error)
        return not self._stop.wait(delay)


def _set_start(request: alerts_pb2.SubscribeRequest, start: Start) -> None:
    """Sets the oneof ``start`` of ``request``."""
    if isinstance(start, datetime.datetime):
        if start.tzinfo is None:
            raise ValueError("start time must be timezone-aware")
        request.start_time.FromDatetime(
            start.astimezone(datetime.timezone.utc).replace(tzinfo=None))
    elif isinstance(start, str):
        request.after_cursor = start
    else:
        request.position = start


class AlertIterator(Iterator[Alert]):
    """The alerts of a Subscribe stream, in cursor order.

    With ``reconnect`` the stream behaves as the C++ client's
    ``SubscribeResumable``. It retries, after the backoff, when it ends
    with:

    - ``UNAVAILABLE``: the server cannot be reached, the connection broke,
      or dipwired ended its streams as it shut down;
    - ``CANCELLED`` that :meth:`cancel` did not cause: a dipwired in
      graceful shutdown cancels a call that reaches it meanwhile (the same
      outage, seen a moment later); after :meth:`cancel` it is final;
    - ``RESOURCE_EXHAUSTED``: the server serves its ``--max-streams``
      streams already ("retry later").

    Any other status is raised at once as :class:`DipwireError` (a bad
    filter or cursor would fail again; ``ABORTED`` means another stream
    took over the durable subscription). The retries give up, raising the
    last retryable error, only when ``backoff.give_up_after`` is set:
    :meth:`Client.subscribe` defaults to never.

    A re-subscribe starts with ``after_cursor`` set to :attr:`last_cursor`,
    the cursor of the last alert returned (or the ``head_cursor`` of a
    heartbeat received after it, which covers the alerts the filter passed
    over): no alert is skipped or returned twice. A heartbeat with an empty
    ``head_cursor`` says the stream stands at the start of the log (the log
    had no alert yet): until an alert or a later heartbeat moves it, a
    re-subscribe starts at ``EARLIEST`` (:attr:`at_origin`), so that alerts
    published while it was disconnected are not skipped (``LATEST`` would
    skip them). Before the first response it subscribes with the original
    start. With a durable ``subscription``, a re-subscribe with
    ``after_cursor`` moves (seeks) the stored cursor there: the server
    seeks a durable subscription to any start it is given (DESIGN.md), and
    the C++ client's ``SubscribeResumable`` does the same. Acknowledge each
    alert before taking the next (as ``dipwire subscribe`` does), or expect
    the stored cursor to move past alerts returned but not acknowledged:
    the next process that resumes the subscription does not get them.

    Each stream has a channel of its own, opened again for each attempt.
    :meth:`cancel` (from any thread) ends the iteration and closes it; call
    it when leaving a stream that has not ended.
    """

    def __init__(self, client: "Client",
                 request: alerts_pb2.SubscribeRequest, reconnect: bool,
                 backoff: Backoff,
                 on_heartbeat: Optional[Callable[[Heartbeat], None]],
                 on_retry: Optional[RetryCallback]) -> None:
        self._client = client
        self._request = request
        self._reconnect = reconnect
        self._on_heartbeat = on_heartbeat
        self._stop = threading.Event()
        #: The retry schedule of this stream.
        self.backoff = backoff
        self._retrier = _Retrier(backoff, on_retry, self._stop)
        self._lock = threading.Lock()
        self._call: Optional[grpc.Call] = None
        self._channel: Optional[grpc.Channel] = None
        self._responses: Optional[Iterator[alerts_pb2.SubscribeResponse]]
        self._responses = None
        self._buffer: Deque[Alert] = collections.deque()
        #: Where a re-subscribe starts: the cursor of the last alert
        #: returned, or the head_cursor of a later heartbeat; empty before.
        self.last_cursor = ""
        #: True while :attr:`last_cursor` is empty and a heartbeat has told
        #: that the stream stands at the start of the log (its
        #: ``head_cursor`` was empty): a re-subscribe starts at EARLIEST.
        self.at_origin = False
        #: How many times the stream has subscribed again.
        self.reconnects = 0

    def __iter__(self) -> "AlertIterator":
        return self

    def __next__(self) -> Alert:
        while not self._buffer:
            if self._stop.is_set():
                raise StopIteration
            self._receive()
        alert = self._buffer.popleft()
        self.last_cursor = alert.cursor
        self.at_origin = False
        return alert

    def cancel(self) -> None:
        """Ends the stream (a blocked ``next`` raises StopIteration) and
        closes its channel."""
        self._stop.set()
        with self._lock:
            if self._call is not None:
                self._call.cancel()
            if self._channel is not None:
                self._channel.close()
                self._channel = None

    def _close_call(self) -> None:
        """Closes the channel of an ended call."""
        with self._lock:
            self._call = None
            if self._channel is not None:
                self._channel.close()
                self._channel = None

    def _open(self) -> Iterator[alerts_pb2.SubscribeResponse]:
        """Starts a Subscribe call after the last returned alert."""
        request = alerts_pb2.SubscribeRequest()
        request.CopyFrom(self._request)
        if self.last_cursor:
            request.after_cursor = self.last_cursor
        elif self.at_origin:
            request.position = EARLIEST
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel, stub = self._client._connect()
            call = stub.Subscribe(request)
            self._call = call
            if self._stop.is_set():
                call.cancel()
        return call

    def _receive(self) -> None:
        """Reads one response into the buffer, reconnecting if it may."""
        if self._responses is None:
            self._responses = self._open()
        try:
            response = next(self._responses)
        except StopIteration:
            self.cancel()  # The server ended the stream: OK.
            return
        except grpc.RpcError as rpc_error:
            self._responses = None
            # Let go of the connection during the wait: a server shutting
            # down gracefully waits for its connections to close.
            self._close_call()
            if self._stop.is_set():
                return
            error = DipwireError.from_rpc_error(rpc_error)
            # A CANCELLED that cancel() caused returned above: this one
            # came from the server (or the transport) and is retried.
            retryable = (error.code in _SUBSCRIBE_RETRYABLE
                         or error.code == grpc.StatusCode.CANCELLED)
            if not (self._reconnect and retryable):
                self.cancel()
                raise error from None
            try:
                if self._retrier.wait(error):
                    self.reconnects += 1
            except DipwireError:
                self.cancel()
                raise
            return
        self._retrier.succeeded()
        if response.alerts:
            self._buffer.extend(response.alerts)
        elif response.HasField("heartbeat"):
            # Every alert before it was returned (the buffer is empty), and
            # the stream has been served up to head_cursor: resume after it.
            # Empty: the stream stands at position 0 (the log was empty),
            # so a re-subscribe must start at EARLIEST, not at a LATEST that
            # would skip the alerts published while it was disconnected.
            if response.heartbeat.head_cursor:
                self.last_cursor = response.heartbeat.head_cursor
                self.at_origin = False
            elif not self.last_cursor:
                self.at_origin = True
            if self._on_heartbeat:
                self._on_heartbeat(response.heartbeat)


_END = object()


class _PublishCall:
    """One PublishStream call: requests in, responses read by a thread."""

    def __init__(self, stub: alerts_pb2_grpc.AlertServiceStub) -> None:
        self._requests: "queue.Queue[Optional[PublishRequest]]" = (
            queue.Queue())
        self._responses: "queue.Queue[object]" = queue.Queue()
        self._call = stub.PublishStream(self._request_iterator())
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _request_iterator(self) -> Iterator[PublishRequest]:
        while True:
            request = self._requests.get()
            if request is None:
                return
            yield request

    def _read(self) -> None:
        try:
            for response in self._call:
                self._responses.put(response)
            self._responses.put(_END)
        except grpc.RpcError as error:
            self._responses.put(DipwireError.from_rpc_error(error))

    def send(self, request: PublishRequest) -> None:
        """Queues ``request`` on the stream."""
        self._requests.put(request)

    def receive(self, timeout: float) -> PublishResponse:
        """The next response; raises DipwireError when the stream fails or
        ends, or DEADLINE_EXCEEDED after ``timeout`` seconds without one."""
        try:
            item = self._responses.get(timeout=timeout)
        except queue.Empty:
            raise DipwireError(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"no PublishStream response within {timeout:g}s") from None
        if isinstance(item, DipwireError):
            raise item
        if item is _END:
            raise DipwireError(grpc.StatusCode.INTERNAL,
                               "the server ended PublishStream early")
        assert isinstance(item, PublishResponse)
        return item

    def close(self) -> None:
        """Half-closes and cancels the call, and waits for the reader."""
        self._requests.put(None)
        self._call.cancel()
        self._reader.join(timeout=10)


def _host_of(address: str) -> str:
    """The host of ``HOST:PORT``, ``[HOST]:PORT`` or a bare ``HOST``."""
    if address.startswith("["):
        close = address.find("]")
        return address[1:close] if close >= 0 else ""
    if address.count(":") != 1:
        return address  # a bare name, or an IPv6 address without a port
    return address.rsplit(":", 1)[0]


def _is_loopback_host(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    # An IPv4 loopback address mapped into IPv6 (::ffff:127.0.0.1) too,
    # which Python before 3.13 does not count as loopback.
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def is_local_target(target: str) -> bool:
    """True when every address of the gRPC ``target`` is on this machine.

    A Unix socket (``unix:PATH``) or loopback hosts (``127.0.0.1:50051``,
    ``localhost:50051``, ``[::1]:50051``, ``dns:///localhost:50051``,
    ``ipv4:127.0.0.1:1,127.0.0.2:2``); anything else counts as remote. The
    same rule as the C++ client's (common/net.cc).
    """
    if target.startswith(("unix:", "unix-abstract:")):
        return True
    for scheme in ("ipv4:", "ipv6:"):
        if target.startswith(scheme):
            addresses = target[len(scheme):].split(",")
            return bool(target[len(scheme):]) and all(
                _is_loopback_host(_host_of(a)) for a in addresses)
    if target.startswith("dns:"):
        target = target[len("dns:"):]
        if target.startswith("//"):
            slash = target.find("/", 2)
            if slash < 0:
                return False
            target = target[slash + 1:]
    host = _host_of(target)
    return bool(host) and _is_loopback_host(host)


def plaintext_token_refusal(target: str, token: Optional[str], tls: bool,
                            plaintext_token: bool) -> Optional[str]:
    """Why ``token`` must not be sent to ``target``, or None when it may.

    A token goes over TLS, or in plaintext to this machine; in plaintext to
    another machine only with ``plaintext_token`` (a network you trust).
    """
    if not token or tls or plaintext_token or is_local_target(target):
        return None
    return (f"refusing to send the token in plaintext to {target}, which is "
            "not a loopback address: connect with TLS (--tls-ca), or pass "
            "--plaintext-token on a network you trust")


class _BearerToken(grpc.UnaryUnaryClientInterceptor,
                   grpc.UnaryStreamClientInterceptor,
                   grpc.StreamUnaryClientInterceptor,
                   grpc.StreamStreamClientInterceptor):
    """Adds ``authorization: Bearer <token>`` to every call's metadata.

    Metadata rather than call credentials, which gRPC sends only over TLS:
    a token also serves a plaintext server on loopback.
    """

    def __init__(self, token: str) -> None:
        self._metadata = ("authorization", f"Bearer {token}")

    def _with_token(self, details: grpc.ClientCallDetails
                    ) -> grpc.ClientCallDetails:
        metadata = list(details.metadata or []) + [self._metadata]
        return details._replace(metadata=metadata)  # type: ignore

    def intercept_unary_unary(self, continuation, details, request):  # type: ignore
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation, details, request):  # type: ignore
        return continuation(self._with_token(details), request)

    def intercept_stream_unary(self, continuation, details, requests):  # type: ignore
        return continuation(self._with_token(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):  # type: ignore
        return continuation(self._with_token(details), requests)


def _read_pem(path: str, option: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise ValueError(f"{option}: cannot read {path}: "
                         f"{error.strerror}") from None


class Client:
    """A connection to dipwired.

    ``timeout`` is the deadline in seconds of each unary call and, on
    :meth:`publish_batches`, the longest wait for one response. ``backoff``
    is the retry schedule of the streams that reconnect; its
    ``give_up_after`` applies to :meth:`publish_batches` only
    (:meth:`subscribe` has its own, by default never). Use it as a
    context manager, or call :meth:`close`.

    ``tls_ca`` (a PEM file of the CAs that sign the server's certificate)
    turns TLS on; ``tls_cert`` and ``tls_key`` (PEM files, both or neither)
    are a client certificate for a server that requires one, and also turn
    TLS on (trusting the system's CAs when ``tls_ca`` is not given).
    ``token`` is sent with every call as ``authorization: Bearer`` metadata;
    over plaintext only to a server on loopback (or a Unix socket), unless
    ``plaintext_token`` says a network you trust carries it.
    Raises ``ValueError`` when a file cannot be read, only one of
    ``tls_cert`` and ``tls_key`` is given, or the token would go in
    plaintext to another machine.
    """

    def __init__(self, target: str = DEFAULT_TARGET, timeout: float = 30.0,
                 backoff: Backoff = Backoff(), *,
                 tls_ca: Optional[str] = None, tls_cert: Optional[str] = None,
                 tls_key: Optional[str] = None,
                 token: Optional[str] = None,
                 plaintext_token: bool = False) -> None:
        if not target:
            raise ValueError("the server address is empty")
        if timeout <= 0:
            raise ValueError(f"the timeout must be positive, not {timeout}")
        if bool(tls_cert) != bool(tls_key):
            raise ValueError("a client certificate (--tls-cert) and its key "
                             "(--tls-key) go together: give both or neither")
        refusal = plaintext_token_refusal(target, token,
                                          bool(tls_ca or tls_cert),
                                          plaintext_token)
        if refusal:
            raise ValueError(refusal)
        self.target = target
        self.timeout = timeout
        self.backoff = backoff
        self._credentials: Optional[grpc.ChannelCredentials] = None
        if tls_ca or tls_cert:
            self._credentials = grpc.ssl_channel_credentials(
                root_certificates=(_read_pem(tls_ca, "--tls-ca")
                                   if tls_ca else None),
                private_key=(_read_pem(tls_key, "--tls-key")
                             if tls_key else None),
                certificate_chain=(_read_pem(tls_cert, "--tls-cert")
                                   if tls_cert else None))
        self._token = _BearerToken(token) if token else None
        # A token in plaintext goes only to this machine (above): not through
        # an HTTP proxy from the environment (http_proxy, grpc_proxy), which
        # gRPC would use for a loopback target too.
        self._no_proxy = bool(token) and self._credentials is None \
            and not plaintext_token
        self._channel, self._stub = self._connect()

    def _connect(self) -> Tuple[grpc.Channel,
                                alerts_pb2_grpc.AlertServiceStub]:
        """A new channel to the server, with subchannels of its own."""
        options = [
            ("grpc.keepalive_time_ms", _KEEPALIVE_TIME_MS),
            ("grpc.keepalive_timeout_ms", _KEEPALIVE_TIMEOUT_MS),
            ("grpc.keepalive_permit_without_calls", 0),
            ("grpc.max_reconnect_backoff_ms", _MAX_RECONNECT_BACKOFF_MS),
            ("grpc.max_receive_message_length", _MAX_RECEIVE_MESSAGE_BYTES),
            ("grpc.use_local_subchannel_pool", 1),
        ]
        if self._no_proxy:
            options.append(("grpc.enable_http_proxy", 0))
        if self._credentials is not None:
            channel = grpc.secure_channel(self.target, self._credentials,
                                          options=options)
        else:
            channel = grpc.insecure_channel(self.target, options=options)
        if self._token is not None:
            channel = grpc.intercept_channel(channel, self._token)
        return channel, alerts_pb2_grpc.AlertServiceStub(channel)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the channel; running calls end with CANCELLED."""
        self._channel.close()

    def _unary(self, method: Callable[..., T], request: object) -> T:
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise DipwireError.from_rpc_error(error) from None

    def publish(self, events: Iterable[DiplomaticEvent]) -> PublishResponse:
        """Publishes ``events`` as one atomic batch (``Publish``).

        Returns one ``PublishResult`` per event, in order. An invalid event
        fails the whole batch with ``INVALID_ARGUMENT`` naming ``events[i]``.
        """
        request = PublishRequest(events=list(events))
        return self._unary(self._stub.Publish, request)

    def publish_stream(self, requests: Iterable[PublishRequest]
                       ) -> Iterator[PublishResponse]:
        """One raw ``PublishStream`` call: a response per request, in order.

        A failed request is answered by a response whose ``error`` is set;
        a broken stream raises :class:`DipwireError`. No retries: see
        :meth:`publish_batches`.
        """
        try:
            yield from self._stub.PublishStream(iter(requests))
        except grpc.RpcError as error:
            raise DipwireError.from_rpc_error(error) from None

    def publish_batches(self, requests: Iterable[Tuple[T, PublishRequest]],
                        window: int = 4,
                        on_retry: Optional[RetryCallback] = None
                        ) -> Iterator[Tuple[T, PublishResponse]]:
        """Streams ``(tag, request)`` pairs over ``PublishStream``, at most
        ``window`` requests in flight, and yields ``(tag, response)`` in
        order.

        ``requests`` is read lazily, and asked again after each response
        even once it has run out, so its producer may add requests (say,
        the rest of a rejected batch) after seeing a response. When the
        stream breaks with ``UNAVAILABLE`` or is refused because the server
        serves its ``--max-publish-streams`` already (``RESOURCE_EXHAUSTED``,
        "retry later"), or a request is answered with ``UNAVAILABLE``, the
        requests without an answer are sent again, in order, on a new stream
        after the backoff: safe, because ``event_id`` is the idempotency key
        (an event that was stored comes back as ``DUPLICATE``). Raises the
        last of those errors as :class:`DipwireError` once
        ``backoff.give_up_after`` has passed, and any other stream error at
        once.
        """
        if window < 1:
            raise ValueError(f"window must be at least 1, not {window}")
        source = iter(requests)
        pending: Deque[Tuple[T, PublishRequest]] = collections.deque()
        retrier = _Retrier(self.backoff, on_retry)
        channel, stub = self._connect()
        call = _PublishCall(stub)
        try:
            while True:
                # Asked again after each response, even once it ran out.
                while len(pending) < window:
                    item = next(source, None)
                    if item is None:
                        break
                    pending.append(item)
                    call.send(item[1])
                if not pending:
                    return
                error: Optional[DipwireError] = None
                try:
                    response = call.receive(self.timeout)
                    if response.error.code == _UNAVAILABLE_NUMBER:
                        error = DipwireError.from_number(
                            response.error.code, response.error.message)
                except DipwireError as stream_error:
                    if not _publish_stream_retryable(stream_error):
                        raise
                    error = stream_error
                if error is not None:
                    call.close()
                    channel.close()
                    retrier.wait(error)
                    channel, stub = self._connect()
                    call = _PublishCall(stub)
                    for _, request in pending:
                        call.send(request)
                    continue
                retrier.succeeded()
                tag, _ = pending.popleft()
                yield tag, response
        finally:
            call.close()
            channel.close()

    def subscribe(self, filter: str = "", start: Optional[Start] = None,
                  subscription: Optional[str] = None, reconnect: bool = True,
                  heartbeat_interval: Optional[float] = None,
                  on_heartbeat: Optional[Callable[[Heartbeat], None]] = None,
                  on_retry: Optional[RetryCallback] = None,
                  give_up_after: Optional[float] = None) -> AlertIterator:
        """Subscribes to the alerts matching ``filter`` (AIP-160 subset).

        ``start``: ``EARLIEST``, ``LATEST`` (what None means for a new
        stream), a cursor (the alerts after it) or an aware datetime. A
        durable ``subscription`` without a start resumes after its last
        acknowledged alert. ``heartbeat_interval`` is in seconds (the server
        raises it to at least 1; None: the server's 15). Heartbeats are not
        yielded; ``on_heartbeat`` sees them (on the consumer's thread).

        With ``reconnect`` (see :class:`AlertIterator` for what is retried
        and where it resumes) the stream waits between attempts on the
        client's ``backoff`` schedule, but with a ``give_up_after`` of its
        own: seconds after the connection was lost, or None (the default)
        for never, as the C++ client's ``SubscribeResumable`` (a subscriber
        is meant to outlive an outage; the client's ``backoff.give_up_after``
        is the publishing side's). ``on_retry(attempt, delay, error)`` runs
        on the consumer's thread before each retry wait: ``attempt`` counts
        the attempts since the last response (from 1), ``delay`` is the wait
        in seconds that follows, ``error`` the :class:`DipwireError` that
        ended the stream; the wait starts when it returns.
        """
        request = alerts_pb2.SubscribeRequest(filter=filter)
        if start is not None:
            _set_start(request, start)
        if subscription:
            request.subscription = subscription
        if heartbeat_interval is not None:
            request.heartbeat_interval.FromMilliseconds(
                int(heartbeat_interval * 1000))
        backoff = dataclasses.replace(self.backoff,
                                      give_up_after=give_up_after)
        return AlertIterator(self, request, reconnect, backoff,
                             on_heartbeat, on_retry)

    def acknowledge(self, subscription: str, cursor: str) -> None:
        """Acknowledges ``cursor`` (and all before it) for ``subscription``."""
        request = alerts_pb2.AcknowledgeRequest(subscription=subscription,
                                                cursor=cursor)
        self._unary(self._stub.Acknowledge, request)

    def list_alerts(self, filter: str = "", page_size: int = 0,
                    page_token: str = "") -> alerts_pb2.ListAlertsResponse:
        """One page of alert history, oldest first (server default 100)."""
        request = alerts_pb2.ListAlertsRequest(
            filter=filter, page_size=page_size, page_token=page_token)
        return self._unary(self._stub.ListAlerts, request)

    def list_events(self, filter: str = "", page_size: int = 0,
                    page_token: str = "") -> alerts_pb2.ListEventsResponse:
        """One page of event history, oldest first (server default 100)."""
        request = alerts_pb2.ListEventsRequest(
            filter=filter, page_size=page_size, page_token=page_token)
        return self._unary(self._stub.ListEvents, request)

    def all_alerts(self, filter: str = "") -> List[Alert]:
        """Every alert matching ``filter``, following the page tokens."""
        return _all_pages(lambda token: self.list_alerts(
            filter, 1000, token), lambda page: page.alerts)

    def all_events(self, filter: str = "") -> List[DiplomaticEvent]:
        """Every event matching ``filter``, following the page tokens."""
        return _all_pages(lambda token: self.list_events(
            filter, 1000, token), lambda page: page.events)


def _all_pages(fetch: Callable[[str], object],
               items: Callable[[object], Iterable[T]]) -> List[T]:
    """Concatenates the items of every page ``fetch`` returns."""
    result: List[T] = []
    token = ""
    while True:
        page = fetch(token)
        result.extend(items(page))
        token = getattr(page, "next_page_token")
        if not token:
            return result
