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

# What a require checker answers for one `Require gobridge PLUGIN args...`
# line (httpd's authz_status).
AUTHZ_GRANTED = auth_pb2.AUTHZ_RESULT_GRANTED
AUTHZ_DENIED = auth_pb2.AUTHZ_RESULT_DENIED
AUTHZ_DENIED_NO_USER = auth_pb2.AUTHZ_RESULT_DENIED_NO_USER  # ask for a login
AUTHZ_NEUTRAL = auth_pb2.AUTHZ_RESULT_NEUTRAL  # this line has no say
_AUTHZ_ANSWERS = (AUTHZ_GRANTED, AUTHZ_DENIED, AUTHZ_DENIED_NO_USER, AUTHZ_NEUTRAL)


class AuthServicer(auth_pb2_grpc.GoBridgeAuthServicer):
    """Serves CheckPassword with checker and CheckAuthorization with
    require_checker (either may be None). What is not served, and
    GetRealmHash (Digest), answers UNIMPLEMENTED, which the module treats
    as an error: fail closed."""

    def __init__(self, checker, require_checker=None):
        self._checker = checker
        self._require = require_checker

    def GetRealmHash(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "this plugin does not implement Digest authentication")

    def CheckAuthorization(self, request, context):
        if self._require is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "this plugin does not implement Require gobridge")
        try:
            result = self._require(request.user, list(request.args), request.request)
        except Exception as e:
            log.error("authorization check failed: %s: %s" % (type(e).__name__, e), exc_info=True,
                      extra={"require": request.require_line.decode("utf-8", "replace")})
            return _authz_error("authorization check failed: %s: %s" % (type(e).__name__, e))
        if not _is_answer(result, _AUTHZ_ANSWERS):
            msg = "require checker answered %r, not an AUTHZ_ value" % (result,)
            log.error(msg)
            return _authz_error(msg)
        return auth_pb2.CheckAuthorizationResponse(result=result)

    def CheckPassword(self, request, context):
        if self._checker is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "this plugin does not implement a password check")
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
        if not _is_answer(result, _ANSWERS):
            msg = "password checker answered %r, not GRANTED, DENIED or USER_NOT_FOUND" % (result,)
            log.error(msg)
            return _general_error(msg)
        return auth_pb2.CheckPasswordResponse(result=result)


def _is_answer(result, answers):
    """Reports whether result is one of answers. A bool is never one,
    though True == 1 == GRANTED in Python: a checker that returns True
    has not said which answer it means, and must not grant by accident."""
    return not isinstance(result, bool) and result in answers


def _authz_error(why):
    """GENERAL_ERROR for a Require line (500, GB0264), with why."""
    return auth_pb2.CheckAuthorizationResponse(
        result=auth_pb2.AUTHZ_RESULT_GENERAL_ERROR,
        logs=[gobridge_pb2.LogRecord(level=gobridge_pb2.LogRecord.LEVEL_ERR, message=why.encode())],
    )


def _general_error(why):
    """GENERAL_ERROR, with why for httpd's error log in the request's
    context (the module logs it as GB0255 next to its GB0258)."""
    return auth_pb2.CheckPasswordResponse(
        result=auth_pb2.AUTHN_RESULT_GENERAL_ERROR,
        logs=[gobridge_pb2.LogRecord(level=gobridge_pb2.LogRecord.LEVEL_ERR, message=why.encode())],
    )
