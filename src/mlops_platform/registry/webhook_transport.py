"""The HTTP side of the alias-webhook receiver (:mod:`~mlops_platform.registry.webhooks`).

- :func:`body_length`: the body's size from its headers, refused (400/413) before anything is read;
- :class:`DeliveryLog`: the delivery ids answered within the replay window, in an append-only file,
  so that a replay is recorded once, also across a restart;
- :class:`BoundedServer`: a threading HTTP server that serves at most ``max_handlers``
  connections at once and answers the next ones 503 at once;
- :func:`handler_for`: the request handler: headers first, then exactly ``Content-Length`` bytes
  within a read time-out (408 and closed after it), every failure answered, never a traceback.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

from mlops_platform.errors import PlatformError

_logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
READ_TIMEOUT_SECONDS = 10.0
MAX_HANDLERS = 32
DELIVERY_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_CHUNK = 64 * 1024
Reply = tuple[int, str]
_SHORT_BODY: Reply = (400, "body shorter than Content-Length")


class DeliveryApp(Protocol):
    """What the handler asks of the receiver."""

    read_timeout: float

    def precheck(self, path: str, headers: dict[str, str]) -> int | Reply: ...

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> Reply: ...


def body_length(headers: dict[str, str], max_bytes: int) -> int | Reply:
    """The body's length from ``Content-Length``, or the reply refusing it (never reads the body)."""
    if "transfer-encoding" in headers:
        return 400, "Transfer-Encoding is not accepted; send Content-Length"
    text = headers.get("content-length", "").strip()
    if not text:
        return 400, "missing Content-Length"
    if not (text.isascii() and text.isdigit()):
        return 400, f"Content-Length {text[:20]!r} is not a number of bytes"
    length = int(text)
    if length > max_bytes:
        return 413, f"body of {length} bytes is over the {max_bytes}-byte limit"
    return length


class DeliveryLog:
    """Delivery ids answered within the replay window, in an append-only file (``<time> <id>`` lines).

    An id is kept while its signed timestamp is at most ``keep_seconds`` old (a delivery older
    than that is refused for its timestamp anyway); older lines are dropped when the file is
    loaded and whenever it has grown to twice the live entries.
    """

    def __init__(self, path: Path, keep_seconds: float) -> None:
        self.path = path
        self.keep_seconds = keep_seconds
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        self._lines = 0
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._load(time.time())
        except OSError as exc:
            raise PlatformError(f"cannot use the webhook delivery log {path}: {exc}") from exc

    def seen(self, delivery: str) -> bool:
        """Whether ``delivery`` was answered before."""
        with self._lock:
            return delivery in self._seen

    def remember(self, delivery: str, stamp: int) -> None:
        """Note ``delivery`` (signed at unix time ``stamp``) on disk before it is answered."""
        with self._lock:
            self._seen[delivery] = stamp
            with self.path.open("a", encoding="ascii") as file:
                file.write(f"{stamp} {delivery}\n")
                file.flush()
                os.fsync(file.fileno())
            self._lines += 1
            if self._lines > 2 * len(self._seen) + 100:
                self._prune(time.time())
                self._rewrite()

    def _load(self, now: float) -> None:
        if self.path.exists():
            for line in self.path.read_text(encoding="ascii", errors="replace").splitlines():
                stamp, _, delivery = line.partition(" ")
                if stamp.isdigit() and DELIVERY_ID.fullmatch(delivery):
                    self._seen[delivery] = int(stamp)
        self._prune(now)
        self._rewrite()

    def _prune(self, now: float) -> None:
        horizon = now - self.keep_seconds
        self._seen = {d: s for d, s in self._seen.items() if s >= horizon}

    def _rewrite(self) -> None:
        """Replace the file by the live entries (a temporary file renamed over it)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="ascii") as file:
            for delivery, stamp in self._seen.items():
                file.write(f"{stamp} {delivery}\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, self.path)
        self._lines = len(self._seen)


class BoundedServer(ThreadingHTTPServer):
    """A threading HTTP server that serves at most ``max_handlers`` connections at once."""

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], max_handlers: int) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(max_handlers)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            _logger.warning("webhook receiver busy: refused a connection from %s with 503", client_address)
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        _logger.warning("webhook connection from %s failed", client_address, exc_info=True)


def _refuse_busy(request: Any) -> None:
    """Answer 503 on a connection no handler thread is free for (best effort, within a second)."""
    text = b"busy; retry later"
    head = "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n"
    try:
        request.settimeout(1.0)
        request.sendall(f"{head}Content-Length: {len(text)}\r\nConnection: close\r\n\r\n".encode() + text)
    except OSError:
        pass


def handler_for(receiver: DeliveryApp) -> type[BaseHTTPRequestHandler]:
    """The request handler class of ``receiver``: headers first, the body within a time-out."""

    class Handler(BaseHTTPRequestHandler):
        timeout = receiver.read_timeout  # socket time-out for the request line, headers and body

        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            unread = True
            try:
                headers = {k.lower(): v for k, v in self.headers.items()}
                checked = receiver.precheck(self.path, headers)
                if isinstance(checked, int):
                    body, unread = self._read_body(checked), False
                    reply = receiver.handle(self.path, headers, body) if body is not None else _SHORT_BODY
                else:
                    reply = checked
            except TimeoutError:
                _logger.warning("webhook body not received within %s s; connection closed", receiver.read_timeout)
                reply = 408, "body not received in time"
            except Exception:
                _logger.exception("webhook delivery failed")
                reply = 500, "internal error"
            self._reply(reply, drain=unread)

        def _read_body(self, length: int) -> bytes | None:
            """Exactly ``length`` bytes within the read time-out in all, or None if the client hung up."""
            deadline = time.monotonic() + receiver.read_timeout
            parts, missing = [], length
            while missing > 0:
                if time.monotonic() > deadline:
                    raise TimeoutError("body deadline passed")
                part = self.rfile.read1(min(missing, _CHUNK))
                if not part:
                    return None
                parts.append(part)
                missing -= len(part)
            return b"".join(parts)

        def _reply(self, reply: Reply, drain: bool) -> None:
            status, text = reply
            data = text.encode()
            self.close_connection = True
            try:
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "5")
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                if drain:  # a little of an unread body, so closing does not reset the reply away
                    self.connection.settimeout(0.2)
                    self.connection.recv(_CHUNK)
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server naming
            _logger.debug(format, *args)

    return Handler
