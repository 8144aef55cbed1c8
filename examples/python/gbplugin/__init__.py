"""gbplugin: a small library for gobridge plugins in Python with grpcio.

    import gbplugin

    def hello(request, response):
        response.set_header("Content-Type", "text/plain")
        response.write("Hello from Python\\n")

    gbplugin.serve(handler=hello)

The modules generated from proto/ (gobridge.v1, grpc_health.v1) must be on
sys.path: examples/python/generate.sh writes them. docs/protocol.md
describes what this library does on the wire.
"""

from .auth import (
    AUTHZ_DENIED,
    AUTHZ_DENIED_NO_USER,
    AUTHZ_GRANTED,
    AUTHZ_NEUTRAL,
    DENIED,
    GRANTED,
    USER_NOT_FOUND,
)
from .content import Cancelled, Declined, HTTPError, ProtocolError, Request, Response
from .facts import Facts
from .phase import DECLINED as PHASE_DECLINED
from .phase import DONE as PHASE_DONE
from .phase import OK as PHASE_OK
from .phase import Answer
from .server import SDK_VERSION, serve

__all__ = [
    "AUTHZ_DENIED",
    "AUTHZ_DENIED_NO_USER",
    "AUTHZ_GRANTED",
    "AUTHZ_NEUTRAL",
    "DENIED",
    "GRANTED",
    "USER_NOT_FOUND",
    "Answer",
    "Cancelled",
    "Declined",
    "Facts",
    "HTTPError",
    "PHASE_DECLINED",
    "PHASE_DONE",
    "PHASE_OK",
    "ProtocolError",
    "Request",
    "Response",
    "SDK_VERSION",
    "serve",
]
