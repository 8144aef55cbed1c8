"""Request phases: gobridge.v1.GoBridge/Phase, one unary call per phase
(docs/protocol.md, "Phase calls").

A phase handler is a function handler(request, answer): request is a
Facts view of the snapshot, answer collects table changes and log lines.
It returns OK, DECLINED or DONE (httpd's hook codes), or raises
HTTPError(status) to end the request with status (300..599). Anything
else, an exception included, ends the call with INTERNAL: httpd answers
500, so a broken access check never lets a request through.
"""

import logging

import grpc
from gobridge.v1 import gobridge_pb2 as pb

from .content import HTTPError
from .facts import Facts, log_record

log = logging.getLogger("gbplugin")

OK = pb.RESULT_OK
DECLINED = pb.RESULT_DECLINED
DONE = pb.RESULT_DONE
_RESULTS = (OK, DECLINED, DONE)

# The names serve() accepts for phases, as GoBridge<Phase>Handler has them.
NAMES = {
    "post_read_request": pb.PHASE_POST_READ_REQUEST,
    "translate_name": pb.PHASE_TRANSLATE_NAME,
    "map_to_storage": pb.PHASE_MAP_TO_STORAGE,
    "header_parser": pb.PHASE_HEADER_PARSER,
    "access": pb.PHASE_ACCESS,
    "authn": pb.PHASE_AUTHN,
    "authz": pb.PHASE_AUTHZ,
    "type_checker": pb.PHASE_TYPE_CHECKER,
    "fixups": pb.PHASE_FIXUPS,
    "log": pb.PHASE_LOG,
}

_M = pb.Mutation


class Answer:
    """What a phase changes: applied by the module in order, after it
    checked all of it (an invalid key or value refuses the whole answer)."""

    def __init__(self):
        self.mutations = []
        self.logs = []

    def _change(self, table, op, key, value=""):
        self.mutations.append(_M(table=table, op=op, key=key.encode(), value=str(value).encode()))

    def set_header(self, name, value, always=False):
        """Sets a response header (r->headers_out; with always,
        r->err_headers_out, which error responses keep too)."""
        self._change(_M.TABLE_ERR_HEADERS_OUT if always else _M.TABLE_HEADERS_OUT, _M.OP_SET, name, value)

    def add_header(self, name, value, always=False):
        self._change(_M.TABLE_ERR_HEADERS_OUT if always else _M.TABLE_HEADERS_OUT, _M.OP_ADD, name, value)

    def set_note(self, key, value):
        """Sets r->notes[key] (mod_log_config's %{key}n)."""
        self._change(_M.TABLE_NOTES, _M.OP_SET, key, value)

    def set_env(self, key, value):
        """Sets r->subprocess_env[key] (CGI variables, %{key}e)."""
        self._change(_M.TABLE_SUBPROCESS_ENV, _M.OP_SET, key, value)

    def log(self, message, level="info"):
        """Writes message into httpd's error log with the request's context."""
        self.logs.append(log_record(message, level))


def run(handlers, request, context):
    """The Phase method: runs the handler registered for request.phase."""
    handler = handlers.get(request.phase)
    name = pb.Phase.Name(request.phase)
    if handler is None:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "this plugin does not implement %s" % name)
    facts = Facts(request.request)
    answer = Answer()
    try:
        result = handler(facts, answer)
    except HTTPError as e:
        return pb.PhaseResponse(result=pb.RESULT_HTTP_STATUS, http_status=e.status, logs=answer.logs)
    except Exception as e:
        log.error("%s handler raised %s: %s" % (name, type(e).__name__, e), exc_info=True, extra={"uri": facts.uri})
        context.abort(grpc.StatusCode.INTERNAL, "%s handler raised %s: %s" % (name, type(e).__name__, e))
    # A bool is no answer, though True == 1 == RESULT_OK.
    if isinstance(result, bool) or result not in _RESULTS:
        msg = "%s handler returned %r, not OK, DECLINED or DONE" % (name, result)
        log.error(msg)
        context.abort(grpc.StatusCode.INTERNAL, msg)
    return pb.PhaseResponse(result=result, mutations=answer.mutations, logs=answer.logs)
