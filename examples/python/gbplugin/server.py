"""serve(): a gobridge plugin process in Python, from start to exit.

It does what sdk.Serve does for a Go plugin (docs/protocol.md): check the
environment gobridged gives, listen on a unix socket, print go-plugin's
handshake line, serve gobridge.v1 next to the services gobridged calls
(grpc.health.v1.Health and go-plugin's GRPCController), and stop when
gobridged says so (SIGTERM, Shutdown) or goes away.
"""

import concurrent.futures
import logging
import os
import signal
import sys
import threading

import grpc
from google.protobuf import __version__ as protobuf_version
from gobridge.v1 import gobridge_pb2 as pb
from gobridge.v1 import gobridge_pb2_grpc
from gobridge.v1 import auth_pb2_grpc
from grpc_health.v1 import health_pb2
from grpc_health.v1 import health_pb2_grpc

from . import auth
from . import content
from . import goplugin
from . import hclog
from . import phase

log = logging.getLogger("gbplugin")

SDK_VERSION = "gbplugin-python/1 (grpcio %s, protobuf %s)" % (grpc.__version__, protobuf_version)

# go-plugin's health service name: gobridged checks that it is SERVING.
HEALTH_SERVICE = "plugin"


def unimplemented(context, what):
    """Ends a call with UNIMPLEMENTED, which the module turns into 500 with
    a log line. The generated base classes raise NotImplementedError
    instead, which grpcio also logs as an application error, with a
    traceback, on every call."""
    context.abort(grpc.StatusCode.UNIMPLEMENTED, "this plugin does not implement %s" % what)


class GoBridgeServicer(gobridge_pb2_grpc.GoBridgeServicer):
    """Describe, Phase and Handle."""

    def __init__(self, handler, phases, checker, require_checker, handler_threads):
        self._handler = handler
        self._threads = handler_threads  # runs content handlers
        self._phases = phases  # pb.Phase -> phase handler
        self._describe = pb.DescribeResponse(
            phases=([pb.PHASE_HANDLER] if handler else []) + sorted(phases),
            sdk_version=SDK_VERSION.encode(),
            reports_services=True,
            password_checker=checker is not None,
            require_checker=require_checker is not None,
        )

    def Describe(self, request, context):
        return self._describe

    def Phase(self, request, context):
        return phase.run(self._phases, request, context)

    def Handle(self, request_iterator, context):
        if self._handler is None:
            unimplemented(context, "a content handler")
        return content.handle(self._handler, request_iterator, context, self._threads)


class HealthServicer(health_pb2_grpc.HealthServicer):
    """Check answers SERVING for go-plugin's service name (and the server as
    a whole, ""); Watch stays UNIMPLEMENTED: gobridged polls."""

    def Check(self, request, context):
        if request.service not in ("", HEALTH_SERVICE):
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service %r" % request.service)
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)

    def Watch(self, request, context):
        unimplemented(context, "Health/Watch")


def _controller(shutdown):
    """go-plugin's plugin.GRPCController: Shutdown(Empty) returns (Empty).
    Empty is an empty message, so the handler works on raw bytes and needs
    no generated code."""

    def handle_shutdown(request, context):
        shutdown()
        return b""

    return grpc.method_handlers_generic_handler(
        "plugin.GRPCController", {"Shutdown": grpc.unary_unary_rpc_method_handler(handle_shutdown)}
    )


class _Lifecycle:
    """Remembers the first reason to stop and how long calls in flight may
    take to finish."""

    def __init__(self):
        self._event = threading.Event()
        self._lock = threading.Lock()
        self.reason = None
        self.grace = 0.0

    def stop(self, reason, grace):
        with self._lock:
            if self.reason is None:
                self.reason, self.grace = reason, grace
        self._event.set()

    def wait(self, timeout=None):
        """Waits for a reason to stop (at most timeout seconds, if given)
        and reports whether there is one."""
        if timeout is not None:
            return self._event.wait(timeout)
        # A timeout keeps the main thread where signal handlers can run.
        while not self._event.wait(1.0):
            pass
        return True


def _watch_parent(pid, interval, grace, life):
    """Stops the plugin once its parent is no longer pid: gobridged died (a
    gRPC plugin does not notice its host's end otherwise)."""
    while os.getppid() == pid:
        if life.wait(interval):
            return
    life.stop("parent process %d went away" % pid, grace)


def serve(handler=None, phases=None, password_checker=None, require_checker=None, workers=16, grace=10.0,
          parent_poll=0.5):
    """Runs the plugin until gobridged stops it; never returns (exits the
    process). handler serves GoBridgeHandler; phases maps phase names
    ("access", "fixups", ... as in phase.NAMES) to phase handlers for
    GoBridge<Phase>Handler; password_checker serves `AuthBasicProvider
    gobridge` with GoBridgeAuthnProvider, and require_checker `Require
    gobridge PLUGIN args...`. At least one."""
    by_phase = {}
    for name, fn in (phases or {}).items():
        if name not in phase.NAMES:
            raise ValueError("unknown phase %r; want one of %s" % (name, ", ".join(phase.NAMES)))
        by_phase[phase.NAMES[name]] = fn
    if handler is None and not by_phase and password_checker is None and require_checker is None:
        raise ValueError("serve needs a handler, phases, a password_checker or a require_checker")
    env = os.environ
    try:
        goplugin.check_cookie(env, sys.argv[0])
    except goplugin.HandshakeError as e:
        sys.stderr.write("%s\n" % e)
        sys.exit(1)
    hclog.setup()
    try:
        version = goplugin.negotiate_version(env)
        goplugin.refuse_unsupported(env)
    except goplugin.HandshakeError as e:
        log.error("refusing to start: %s" % e)
        sys.exit(1)

    life = _Lifecycle()
    server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
        options=[("grpc.max_receive_message_length", 4 << 20)],
    )
    gobridge_pb2_grpc.add_GoBridgeServicer_to_server(GoBridgeServicer(handler, by_phase, password_checker, require_checker, concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="handler")), server)
    if password_checker is not None or require_checker is not None:
        auth_pb2_grpc.add_GoBridgeAuthServicer_to_server(auth.AuthServicer(password_checker, require_checker), server)
    health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(), server)
    # go-plugin's Shutdown is a hard stop; a little grace lets its own
    # answer leave.
    server.add_generic_rpc_handlers((_controller(lambda: life.stop("gobridged asked to shut down", 1.0)),))

    path = goplugin.socket_path(env)
    if not server.add_insecure_port("unix:" + path):
        log.error("cannot listen on unix socket %s" % path)
        sys.exit(1)
    server.start()
    goplugin.share_socket(env, path)

    # SIGTERM is gobridged's polite stop: calls in flight finish. SIGINT is
    # ignored as go-plugin's servers do: a Ctrl-C reaches the whole process
    # group, and gobridged decides.
    signal.signal(signal.SIGTERM, lambda signo, frame: life.stop("received SIGTERM", grace))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = goplugin.parent_pid(env)
    if parent_poll > 0:
        threading.Thread(target=_watch_parent, args=(parent, parent_poll, grace, life), name="parent", daemon=True).start()

    goplugin.announce(version, path)
    log.info("serving", extra={"pid": os.getpid(), "socket": path, "sdk": SDK_VERSION})
    life.wait()
    log.info("%s; stopping" % life.reason, extra={"pid": os.getpid()})
    server.stop(life.grace).wait()
    try:
        os.unlink(path)
    except OSError:
        pass
    sys.exit(0)
