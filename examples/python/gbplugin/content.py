"""The content handler: gobridge.v1.GoBridge/Handle, one bidirectional
stream per request (docs/protocol.md, "The Handle stream").

A handler is a plain function handler(request, response). It runs on a
thread of its own (from a pool) while the gRPC worker thread sends what it
produces, so that reading the request body (a read_body question, then the
module's answer) and writing a large response can happen in the middle of
the handler's code.
"""

import logging
import queue
import threading

import grpc

from gobridge.v1 import gobridge_pb2 as pb

from .facts import Facts, log_record

log = logging.getLogger("gbplugin")

# The largest body chunk asked for or sent in one message. The module's
# default GoBridgeMaxMessageSize is 4 MiB; 256 KiB keeps messages well below
# it and memory per request small.
MAX_CHUNK = 256 * 1024

# How many messages may wait for the gRPC thread before the handler's writes
# block: back-pressure from a slow client reaches the handler.
QUEUE_DEPTH = 4


class HTTPError(Exception):
    """Raised by a handler before it wrote anything: httpd answers with its
    own error document for status (Finish with RESULT_HTTP_STATUS)."""

    def __init__(self, status):
        if not 100 <= status <= 599:
            raise ValueError("HTTP status %d outside 100..599" % status)
        super().__init__("HTTP %d" % status)
        self.status = status


class Declined(Exception):
    """Raised by a handler before it wrote anything: httpd tries its next
    handler (the next plugin of a GoBridgeHandler list, or e.g. its default
    handler serving the file) (Finish with RESULT_DECLINED)."""


class Cancelled(Exception):
    """The module cancelled the call (the client went away, or
    GoBridgeTimeout passed): the handler's writes and reads raise it."""


class ProtocolError(Exception):
    """The module sent something the protocol does not allow."""


class Request(Facts):
    """What the module sent about the request (the proto's Request message
    is .snapshot), and its body."""

    def __init__(self, first, requests, stream):
        super().__init__(first.request)
        self._requests = requests
        self._stream = stream
        self._buf = first.body
        # A request without a body has nothing to read, whatever body_eof says.
        self._eof = first.body_eof or not first.request.has_body

    def read(self, size=-1):
        """Reads up to size bytes of the request body (all of it if size
        is negative); b"" at its end. Asks the module for more as needed."""
        out = bytearray()
        while size < 0 or len(out) < size:
            if not self._buf:
                if self._eof:
                    break
                self._fill()
                continue
            take = len(self._buf) if size < 0 else min(len(self._buf), size - len(out))
            out += self._buf[:take]
            self._buf = self._buf[take:]
            if size >= 0:
                break  # one chunk at most: a short read is not the end
        return bytes(out)

    def _fill(self):
        # One read_body question gets exactly one HandleRequest answer.
        self._stream.send(read_body=MAX_CHUNK)
        try:
            msg = next(self._requests)
        except StopIteration:
            raise ProtocolError("the module ended its side of the stream before the request body's end")
        except Exception as e:  # grpc.RpcError once the call is cancelled
            raise Cancelled(str(e)) from None
        if msg.HasField("request"):
            raise ProtocolError("request snapshot repeated on the Handle stream")
        if len(msg.body) > MAX_CHUNK:
            raise ProtocolError("body chunk of %d bytes, asked for at most %d" % (len(msg.body), MAX_CHUNK))
        self._buf = msg.body
        self._eof = msg.body_eof

    def log(self, message, level="info"):
        """Writes message into httpd's error log with this request's context
        (client address, log id), at an httpd level name. It rides along in
        the next message: no round trip."""
        self._stream.logs.append(log_record(message, level))


class Response:
    """The response: status and headers until the first body bytes go out,
    then the body. Small responses leave in one message with the finish."""

    def __init__(self, stream):
        self._stream = stream
        self.status = 200
        self.headers = []  # (name, value) pairs: r->headers_out
        self.err_headers = []  # r->err_headers_out: kept on error responses

    def set_header(self, name, value):
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, value))

    def write(self, data):
        """Appends data (bytes, or text sent as UTF-8) to the body."""
        if isinstance(data, str):
            data = data.encode()
        self._stream.write(self, data)

    def flush(self):
        """Sends what was written so far and asks httpd to push it to the
        client now."""
        self._stream.send(response=self, flush=True)


class Stream:
    """Assembles HandleResponse messages and hands them to the gRPC thread."""

    def __init__(self, out, cancelled):
        self._out = out  # queue.Queue read by the gRPC thread
        self._cancelled = cancelled  # threading.Event
        self.logs = []
        self.head_sent = False
        self._body = bytearray()

    def write(self, response, data):
        self._body += data
        while len(self._body) >= MAX_CHUNK:
            self.send(response=response)

    def send(self, response=None, flush=False, read_body=0, finish=None):
        """Sends one message: pending logs, the head (once, when body or
        the finish goes out), up to MAX_CHUNK of pending body, then flush,
        read_body and finish, in the proto's field order."""
        m = pb.HandleResponse(logs=self.logs, flush=flush, read_body=read_body)
        self.logs = []
        if response is not None and not self.head_sent and (self._body or finish is not None or flush):
            m.head.CopyFrom(
                pb.ResponseHead(
                    status=response.status,
                    headers=[pb.Pair(key=k.encode(), value=str(v).encode()) for k, v in response.headers],
                    err_headers=[pb.Pair(key=k.encode(), value=str(v).encode()) for k, v in response.err_headers],
                )
            )
            self.head_sent = True
        if self._body and self.head_sent:
            m.body = bytes(self._body[:MAX_CHUNK])
            del self._body[:MAX_CHUNK]
        if finish is not None:
            m.finish.CopyFrom(finish)
        self.put(m)

    def finish(self, response):
        # Everything left goes out; the finish rides on the last chunk.
        while len(self._body) > MAX_CHUNK:
            self.send(response=response)
        self.send(response=response, finish=pb.Finish(result=pb.RESULT_OK))

    def fail(self, status):
        if self.head_sent:
            raise ProtocolError("HTTPError(%d) after the response head was sent" % status)
        self.put(pb.HandleResponse(logs=self.logs, finish=pb.Finish(result=pb.RESULT_HTTP_STATUS, http_status=status)))

    def decline(self):
        if self.head_sent:
            raise ProtocolError("Declined after the response head was sent")
        self.put(pb.HandleResponse(logs=self.logs, finish=pb.Finish(result=pb.RESULT_DECLINED)))

    def put(self, m):
        """Queues m for the gRPC thread, waiting while the queue is full;
        raises Cancelled once the call is cancelled."""
        while True:
            if self._cancelled.is_set():
                raise Cancelled("the call was cancelled")
            try:
                self._out.put(m, timeout=0.2)
                return
            except queue.Full:
                continue


_DONE = object()


def handle(handler, request_iterator, context, executor):
    """The Handle method: runs handler for the request the stream carries
    on a thread of executor and yields its messages. A handler that raises
    ends the call with INTERNAL (the module answers 500 and logs GB0037);
    its traceback goes to the plugin's log.

    executor needs a thread for every Handle call that may run at once (as
    many as the gRPC server's workers): a handler waiting for a thread
    holds its gRPC worker meanwhile. A pool rather than a new thread per
    call spares thread creation: about a quarter of a small call's time
    (examples/python/README.md)."""
    try:
        first = next(request_iterator, None)
    except Exception:  # grpc.RpcError: cancelled before it began
        return
    if first is None or not first.HasField("request"):
        context.set_code(grpc.StatusCode.INVALID_ARGUMENT)
        context.set_details("the first HandleRequest must carry the request")
        return
    out = queue.Queue(maxsize=QUEUE_DEPTH)
    cancelled = threading.Event()
    failure = []

    def on_done():
        # Called by grpc when the call ends for any reason; only matters
        # while the handler is still running (a cancelled call).
        cancelled.set()
        try:
            out.put_nowait(_DONE)  # wake the gRPC thread if it waits
        except queue.Full:
            pass

    context.add_callback(on_done)

    def run():
        stream = Stream(out, cancelled)
        req = Request(first, request_iterator, stream)
        resp = Response(stream)
        try:
            try:
                handler(req, resp)
                stream.finish(resp)
            except HTTPError as e:
                stream.fail(e.status)
            except Declined:
                stream.decline()
        except Cancelled:
            log.debug("the module cancelled the call", extra={"log_id": req.log_id})
        except BaseException as e:  # noqa: B902 - any failure must end the call
            log.error(
                "handler raised %s: %s" % (type(e).__name__, e),
                exc_info=True,
                extra={"uri": req.uri, "log_id": req.log_id},
            )
            failure.append(e)
        finally:
            try:
                stream.put(_DONE)
            except Cancelled:
                pass

    executor.submit(run)
    while True:
        try:
            m = out.get(timeout=0.5)
        except queue.Empty:
            # on_done could not wake us if the queue was full when the call
            # was cancelled: look for ourselves.
            if cancelled.is_set():
                return
            continue
        if m is _DONE:
            break
        yield m
    if failure:
        e = failure[0]
        context.set_code(grpc.StatusCode.INTERNAL)
        context.set_details("handler raised %s: %s" % (type(e).__name__, e))
