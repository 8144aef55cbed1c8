"""The authentication provider: gobridge.v1.GoBridgeAuth/CheckPassword, what
`AuthBasicProvider gobridge` asks (docs/protocol.md, "Auth providers").

A password checker is a function checker(user, password, request) of two
bytes values and the request snapshot, returning GRANTED, DENIED or
USER_NOT_FOUND. Anything else, an exception included, is answered
AUTHN_RESULT_GENERAL_ERROR: httpd then refuses the request with 500. Never
a login by accident.
"""

import logging

import grpc
from gobridge.v1 import auth_pb2
from gobridge.v1 import auth_pb2_grpc
from gobridge.v1 import gobridge_pb2

log = logging.getLogger("gbplugin")

GRANTED = auth_pb2.AUTHN_RESULT_GRANTED
DENIED = auth_pb2.AUTHN_RESULT_DENIED
USER_NOT_FOUND = auth_pb2.AUTHN_RESULT_USER_NOT_FOUND
_ANSWERS = (GRANTED, DENIED, USER_NOT_FOUND)


class AuthServicer(auth_pb2_grpc.GoBridgeAuthServicer):
    """Serves CheckPassword with checker. GetRealmHash (Digest) and
    CheckAuthorization (Require gobridge) answer UNIMPLEMENTED, which the
    module treats as an error: fail closed."""

    def __init__(self, checker):
        self._checker = checker

    def GetRealmHash(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "this plugin does not implement Digest authentication")

    def CheckAuthorization(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "this plugin does not implement Require gobridge")

    def CheckPassword(self, request, context):
        try:
            result = self._checker(request.user, request.password, request.request)
        except Exception as e:
            # The password is never logged; the user name only as text.
            log.error(
                "password check failed: %s: %s" % (type(e).__name__, e),
                exc_info=True,
                extra={"user": request.user.decode("utf-8", "replace"), "log_id": request.request.log_id.decode("utf-8", "replace")},
            )
            return _general_error("password check failed: %s: %s" % (type(e).__name__, e))
        if result not in _ANSWERS:
            msg = "password checker answered %r, not GRANTED, DENIED or USER_NOT_FOUND" % (result,)
            log.error(msg)
            return _general_error(msg)
        return auth_pb2.CheckPasswordResponse(result=result)


def _general_error(why):
    """GENERAL_ERROR, with why for httpd's error log in the request's
    context (the module logs it as GB0255 next to its GB0258)."""
    return auth_pb2.CheckPasswordResponse(
        result=auth_pb2.AUTHN_RESULT_GENERAL_ERROR,
        logs=[gobridge_pb2.LogRecord(level=gobridge_pb2.LogRecord.LEVEL_ERR, message=why.encode())],
    )
