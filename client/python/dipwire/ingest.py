"""dipwire-ingest: publishes a file of diplomatic events to dipwired.

    python3 -m dipwire.ingest [--server HOST:PORT] [--format jsonl|csv|gdelt]
                              FILE

Reads the events (see dipwire.formats for the formats), sends them over
PublishStream in batches with a few requests in flight, retries while the
server is unavailable (with exponential backoff and jitter: safe, because
event_id is the idempotency key), shows progress on a terminal, and prints a
summary naming each rejected line with the reason.

Exit status:
  0  every event accepted or duplicate (with --dry-run: every event valid)
  1  at least one line rejected (by the server, or unreadable)
  2  usage error: bad flags, unknown format, unreadable input file
  3  the ingest did not finish: the server stayed unreachable past
     --retry-for, or failed in a way that is not about the events
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
from typing import Deque, Iterator, List, Optional, Sequence, TextIO, Tuple

import grpc

from dipwire.client import (Backoff, Client, DipwireError, PublishRequest,
                            plaintext_token_refusal)
from dipwire.formats import FORMATS, Format, Item, format_for_path
from dipwire.progress import Progress, Tally
from dipwire.validate import check_event

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

# A request stays well under the server's 4 MiB message limit.
_MAX_REQUEST_BYTES = 1024 * 1024

# Codes that reject a request's content: the events of the next request may
# well be stored. Any other code ends the ingest (as `dipwire publish`).
_REJECTIONS = {
    grpc.StatusCode.INVALID_ARGUMENT.value[0],
    grpc.StatusCode.ALREADY_EXISTS.value[0],
    grpc.StatusCode.RESOURCE_EXHAUSTED.value[0],
    grpc.StatusCode.FAILED_PRECONDITION.value[0],
    grpc.StatusCode.OUT_OF_RANGE.value[0],
}

#: The lines of the events of one request, index for index.
Batch = List[Item]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dipwire-ingest",
        description="Publish diplomatic events from a file to dipwired.",
        epilog="Exit status: 0 all accepted or duplicate; 1 lines rejected; "
               "2 usage error; 3 server unreachable after the retries (or "
               "another server error). Formats: " + "; ".join(
                   f"{f.name}: {f.description}" for f in FORMATS.values()))
    parser.add_argument("file", help='the input file, "-" for standard input')
    parser.add_argument("--format", choices=sorted(FORMATS),
                        help="the input format (default: by the file's "
                             "ending; jsonl for standard input)")
    parser.add_argument("--server", default="127.0.0.1:50051",
                        help="dipwired's HOST:PORT (default %(default)s)")
    parser.add_argument("--tls-ca", metavar="PEM",
                        help="connect with TLS, trusting the CAs in this "
                             "file")
    parser.add_argument("--tls-cert", metavar="PEM",
                        help="a client certificate, for a server that "
                             "requires one (with --tls-key)")
    parser.add_argument("--tls-key", metavar="PEM",
                        help="the key of --tls-cert")
    parser.add_argument("--token",
                        default=os.environ.get("DIPWIRE_TOKEN"),
                        help="a bearer token with the publish role; prefer "
                             "the environment variable DIPWIRE_TOKEN (a "
                             "command line shows in ps); it is not sent "
                             "in plaintext beyond loopback without "
                             "--plaintext-token")
    parser.add_argument("--plaintext-token", action="store_true",
                        help="send the token over plaintext to a "
                             "non-loopback server all the same (a network "
                             "you trust)")
    parser.add_argument("--batch", type=_positive, default=100,
                        help="events per request (default %(default)s)")
    parser.add_argument("--window", type=_positive, default=4,
                        help="requests in flight (default %(default)s); 1 "
                             "keeps the file's order in the log even when "
                             "a batch is split after a rejection")
    parser.add_argument("--timeout", type=_seconds, default=30.0,
                        help="longest wait for one response, in seconds "
                             "(default %(default)s)")
    parser.add_argument("--retry-for", type=_seconds, default=60.0,
                        help="give up (exit 3) when the server has been "
                             "unreachable this many seconds (default "
                             "%(default)s)")
    parser.add_argument("--dry-run", action="store_true",
                        help="only read and check the events locally; "
                             "sends nothing")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true",
                          default=None, help="show the progress line even "
                          "when standard error is not a terminal")
    progress.add_argument("--no-progress", dest="progress",
                          action="store_false", help="never show it")
    for candidate in FORMATS.values():
        if candidate.add_arguments is not None:
            candidate.add_arguments(parser)
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number "
                                         ">= 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        value = -1.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive "
                                         "number of seconds")
    return value


class _Requests:
    """The requests to send: batches read from the input, and batches to
    send again (what is left of a rejected one) ahead of them.

    An iterator that may be asked again after it ran out: the rest of a
    rejected batch can appear once a response has been seen.
    """

    def __init__(self, items: Iterator[Item], batch_size: int,
                 tally: Tally) -> None:
        self._items = items
        self._batch_size = batch_size
        self._tally = tally
        self._held: Optional[Item] = None
        self.again: Deque[Batch] = collections.deque()

    def __iter__(self) -> "_Requests":
        return self

    def __next__(self) -> Tuple[Batch, PublishRequest]:
        batch = self.again.popleft() if self.again else self._read_batch()
        if not batch:
            raise StopIteration
        return batch, PublishRequest(events=[item.event for item in batch])

    def _read_batch(self) -> Batch:
        """Up to batch_size events; an event_id already in the batch (or a
        full request) starts the next one, so that the server judges it."""
        batch: Batch = []
        ids = set()
        size = 0
        while len(batch) < self._batch_size:
            item = self._held or next(self._items, None)
            self._held = None
            if item is None:
                break
            if item.event is None:
                self._tally.rejected.append((item.line, item.error or "?"))
                continue
            item_size = item.event.ByteSize()
            if batch and (item.event.event_id in ids
                          or size + item_size > _MAX_REQUEST_BYTES):
                self._held = item
                break
            batch.append(item)
            ids.add(item.event.event_id)
            size += item_size
        return batch


def _event_index(message: str, size: int) -> Optional[int]:
    """The first ``events[i]`` in ``message`` with i < size, if any."""
    for match in re.finditer(r"events\[(\d+)\]", message):
        if int(match.group(1)) < size:
            return int(match.group(1))
    return None


def _reason(code: int, message: str) -> str:
    """The server's reason as the summary shows it."""
    error = DipwireError.from_number(code, message)
    if error.code == grpc.StatusCode.INVALID_ARGUMENT:
        return message
    return str(error)


def _judge_rejection(batch: Batch, code: int, message: str,
                     tally: Tally, requests: _Requests) -> None:
    """A request was rejected and nothing of it stored: rejects the event
    the server named and sends the others again; when it named none, sends
    each event alone so that each gets its own verdict."""
    index = _event_index(message, len(batch))
    if len(batch) == 1:
        tally.rejected.append((batch[0].line, _reason(code, message)))
    elif index is not None:
        tally.rejected.append((batch[index].line, _reason(code, message)))
        requests.again.append(batch[:index] + batch[index + 1:])
    else:
        requests.again.extend([item] for item in batch)


def _count_results(batch: Batch, response: object, tally: Tally) -> None:
    """Counts the per-event outcomes of an answered request."""
    results = response.results  # type: ignore[attr-defined]
    if len(results) != len(batch):
        raise DipwireError(grpc.StatusCode.INTERNAL,
                           f"the server returned {len(results)} results for "
                           f"{len(batch)} events")
    for item, result in zip(batch, results):
        outcome = result.outcome
        if outcome == result.ACCEPTED:
            tally.accepted += 1
        elif outcome == result.DUPLICATE:
            tally.duplicate += 1
        else:
            tally.rejected.append((item.line, "the server returned outcome "
                                   f"{outcome} for {item.event.event_id}"))


def publish(items: Iterator[Item], args: argparse.Namespace, tally: Tally,
            progress: Progress, err: TextIO) -> None:
    """Sends the events of ``items``, counting outcomes into ``tally``.
    Raises DipwireError when the ingest cannot finish."""
    requests = _Requests(items, args.batch, tally)

    def on_retry(attempt: int, delay: float, error: DipwireError) -> None:
        progress.clear()
        err.write(f"dipwire-ingest: server unavailable ({error}); retrying "
                  f"in {delay:.1f}s (attempt {attempt})\n")
        err.flush()

    backoff = Backoff(give_up_after=args.retry_for)
    with Client(args.server, timeout=args.timeout, backoff=backoff,
                tls_ca=args.tls_ca, tls_cert=args.tls_cert,
                tls_key=args.tls_key, token=args.token,
                plaintext_token=args.plaintext_token) as client:
        for batch, response in client.publish_batches(
                requests, window=args.window, on_retry=on_retry):
            if response.error.code:
                if response.error.code not in _REJECTIONS:
                    raise DipwireError.from_number(response.error.code,
                                                   response.error.message)
                _judge_rejection(batch, response.error.code,
                                 response.error.message, tally, requests)
            else:
                _count_results(batch, response, tally)
            progress.update(tally)


def dry_run(items: Iterator[Item], tally: Tally, progress: Progress) -> None:
    """Reads and checks the events locally; counts valid ones as accepted."""
    for item in items:
        if item.event is None:
            tally.rejected.append((item.line, item.error or "?"))
            continue
        problems = check_event(item.event)
        if problems:
            tally.rejected.append((item.line, "; ".join(problems)))
        else:
            tally.accepted += 1
        progress.update(tally)


def _summary(path: str, tally: Tally, dry: bool, out: TextIO,
             items: object = None) -> None:
    """Prints the counts and each rejected line, then the reader's own
    summary (records it skipped on purpose, by reason) when it has one."""
    if dry:
        out.write(f"dry run of {path}: {tally.accepted} valid, "
                  f"{len(tally.rejected)} invalid (checked locally; the "
                  "server may still reject)\n")
    else:
        out.write(f"{path}: {tally.done} events in {tally.elapsed():.1f}s "
                  f"({tally.rate():.0f}/s): {tally.counts()}\n")
    for line, reason in sorted(tally.rejected):
        out.write(f"line {line}: {reason}\n")
    reader_summary = getattr(items, "summary", None)
    if callable(reader_summary):
        for line in reader_summary():
            out.write(f"{line}\n")
    out.flush()


def _choose_format(args: argparse.Namespace,
                   parser: argparse.ArgumentParser) -> Format:
    if args.format:
        return FORMATS[args.format]
    chosen = format_for_path(args.file)
    if chosen is None:
        parser.error(f"cannot tell the format of {args.file} from its name: "
                     f"give --format ({', '.join(sorted(FORMATS))})")
    return chosen


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout,
         err: TextIO = sys.stderr) -> int:
    """Runs dipwire-ingest; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    chosen = _choose_format(args, parser)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together: give both or "
                     "neither")
    for option, path in (("--tls-ca", args.tls_ca),
                         ("--tls-cert", args.tls_cert),
                         ("--tls-key", args.tls_key)):
        try:
            if path:
                open(path, "rb").close()
        except OSError as error:
            err.write(f"dipwire-ingest: {option}: cannot read {path}: "
                      f"{error.strerror}\n")
            return EXIT_USAGE
    refusal = plaintext_token_refusal(args.server, args.token,
                                      bool(args.tls_ca or args.tls_cert),
                                      args.plaintext_token)
    if refusal:
        err.write(f"dipwire-ingest: {refusal}\n")
        return EXIT_USAGE
    if args.file != "-":
        try:
            open(args.file, "rb").close()
        except OSError as error:
            err.write(f"dipwire-ingest: cannot open {args.file}: "
                      f"{error.strerror}\n")
            return EXIT_USAGE
    show = args.progress if args.progress is not None else err.isatty()
    progress = Progress(err, enabled=show)
    tally = Tally()
    items = chosen.read(args.file, args)
    status = EXIT_OK
    try:
        if args.dry_run:
            dry_run(items, tally, progress)
        else:
            publish(items, args, tally, progress, err)
    except DipwireError as error:
        progress.clear()
        what = ("unreachable" if error.code == grpc.StatusCode.UNAVAILABLE
                else "failed")
        err.write(f"dipwire-ingest: server {args.server} {what}: {error}\n")
        status = EXIT_UNREACHABLE
    except OSError as error:
        progress.clear()
        err.write(f"dipwire-ingest: cannot read {args.file}: {error}\n")
        status = EXIT_USAGE
    except UnicodeDecodeError as error:
        # The readers reject a line that is not UTF-8 on their own; this is
        # the net for one that decodes a whole input (a new format).
        progress.clear()
        bad = error.object[error.start:error.start + 1].hex()
        err.write(f"dipwire-ingest: cannot read {args.file}: not UTF-8 "
                  f"(byte 0x{bad}: {error.reason})\n")
        status = EXIT_USAGE
    progress.clear()
    _summary(args.file, tally, args.dry_run, out, items)
    if status == EXIT_UNREACHABLE:
        err.write("dipwire-ingest: stopped before the end of the input; run "
                  "it again to finish (events already stored come back as "
                  "DUPLICATE)\n")
    if status == EXIT_OK and tally.rejected:
        status = EXIT_REJECTED
    return status


def _exit(status: int) -> None:
    """Ends the process with ``status`` once its output is flushed, without
    the interpreter's teardown: grpcio can deadlock there, the process left
    with one thread waiting on a lock after all its work is done
    (grpc/grpc#40620; seen here about once in ten loaded runs, after the
    summary line had been printed). Nothing is left to clean up by then: the
    client is closed and every answer has been read."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    _exit(main())
