"""Tests of gbplugin.phase: answers, changes, and failures that end the
call instead of letting the request through."""

import logging
import unittest

import grpc
from gobridge.v1 import gobridge_pb2 as pb

from gbplugin import content, phase

logging.getLogger("gbplugin").addHandler(logging.NullHandler())
logging.getLogger("gbplugin").propagate = False


class Aborted(Exception):
    pass


class FakeContext:
    code = None

    def abort(self, code, details):
        self.code, self.details = code, details
        raise Aborted(details)


def call(handler, which=pb.PHASE_ACCESS):
    ctx = FakeContext()
    req = pb.PhaseRequest(phase=which, request=pb.Request(uri=b"/x"))
    try:
        return phase.run({pb.PHASE_ACCESS: handler}, req, ctx), ctx
    except Aborted:
        return None, ctx


class Run(unittest.TestCase):
    def test_results(self):
        for result in (phase.OK, phase.DECLINED, phase.DONE):
            with self.subTest(result=pb.Result.Name(result)):
                resp, ctx = call(lambda r, a: result)
                self.assertEqual((resp.result, ctx.code), (result, None))

    def test_changes_in_order(self):
        def h(r, a):
            a.set_header("X-A", "1")
            a.add_header("X-A", 2, always=True)
            a.set_note("n", "v")
            a.set_env("E", "w")
            a.log("why", "notice")
            return phase.OK

        resp, _ = call(h)
        M = pb.Mutation
        self.assertEqual(
            [(m.table, m.op, m.key, m.value) for m in resp.mutations],
            [(M.TABLE_HEADERS_OUT, M.OP_SET, b"X-A", b"1"), (M.TABLE_ERR_HEADERS_OUT, M.OP_ADD, b"X-A", b"2"),
             (M.TABLE_NOTES, M.OP_SET, b"n", b"v"), (M.TABLE_SUBPROCESS_ENV, M.OP_SET, b"E", b"w")])
        self.assertEqual([(l.level, l.message) for l in resp.logs], [(pb.LogRecord.LEVEL_NOTICE, b"why")])

    def test_http_error(self):
        def h(r, a):
            a.log("forbidden: %s" % r.uri)
            raise content.HTTPError(403)

        resp, _ = call(h)
        self.assertEqual((resp.result, resp.http_status), (pb.RESULT_HTTP_STATUS, 403))
        self.assertEqual(resp.logs[0].message, b"forbidden: /x")

    def test_failures_end_the_call(self):
        def boom(r, a):
            raise LookupError("no table")

        for name, handler, which, code in [
            ("exception", boom, pb.PHASE_ACCESS, grpc.StatusCode.INTERNAL),
            ("True is no result", lambda r, a: True, pb.PHASE_ACCESS, grpc.StatusCode.INTERNAL),
            ("None is no result", lambda r, a: None, pb.PHASE_ACCESS, grpc.StatusCode.INTERNAL),
            ("phase not served", boom, pb.PHASE_FIXUPS, grpc.StatusCode.UNIMPLEMENTED),
        ]:
            with self.subTest(name):
                resp, ctx = call(handler, which)
                self.assertIsNone(resp)
                self.assertEqual(ctx.code, code)


if __name__ == "__main__":
    unittest.main()
