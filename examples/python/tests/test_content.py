"""Tests of gbplugin.content: the Handle stream's messages, as the module
would see them, without a server."""

import concurrent.futures
import logging
import unittest

import grpc
from gobridge.v1 import gobridge_pb2 as pb

from gbplugin import content

logging.getLogger("gbplugin").addHandler(logging.NullHandler())
logging.getLogger("gbplugin").propagate = False


class FakeContext:
    """The parts of grpc.ServicerContext that handle() uses."""

    def __init__(self):
        self.code = None
        self.details = None
        self.callbacks = []

    def add_callback(self, cb):
        self.callbacks.append(cb)

    def set_code(self, code):
        self.code = code

    def set_details(self, details):
        self.details = details


def first(method=b"GET", body=b"", eof=True, has_body=False):
    return pb.HandleRequest(
        request=pb.Request(method=method, uri=b"/py/x", has_body=has_body,
                           headers_in=[pb.Pair(key=b"Content-Type", value=b"text/plain")],
                           options=[pb.Pair(key=b"Greeting", value=b"a"), pb.Pair(key=b"greeting", value=b"b")]),
        body=body, body_eof=eof)


THREADS = concurrent.futures.ThreadPoolExecutor(max_workers=4)


def run(handler, *requests):
    ctx = FakeContext()
    out = list(content.handle(handler, iter(requests), ctx, THREADS))
    return out, ctx


class Handle(unittest.TestCase):
    def test_small_response_is_one_message(self):
        def h(req, resp):
            resp.set_header("Content-Type", "text/plain")
            resp.write("hi")

        out, ctx = run(h, first())
        self.assertEqual(len(out), 1)
        m = out[0]
        self.assertEqual(m.head.status, 200)
        self.assertEqual([(p.key, p.value) for p in m.head.headers], [(b"Content-Type", b"text/plain")])
        self.assertEqual(m.body, b"hi")
        self.assertEqual(m.finish.result, pb.RESULT_OK)
        self.assertIsNone(ctx.code)

    def test_large_response_in_chunks_head_first(self):
        big = b"x" * (2 * content.MAX_CHUNK + 10)
        out, _ = run(lambda req, resp: resp.write(big), first())
        self.assertTrue(out[0].HasField("head"))
        self.assertFalse(any(m.HasField("head") for m in out[1:]), "one head only")
        self.assertTrue(all(len(m.body) <= content.MAX_CHUNK for m in out))
        self.assertEqual(b"".join(m.body for m in out), big)
        self.assertEqual([m.HasField("finish") for m in out], [False] * (len(out) - 1) + [True])

    def test_body_read_one_answer_per_question(self):
        got = []

        def h(req, resp):
            got.append(req.read())

        out, _ = run(h, first(b"POST", b"abc", eof=False, has_body=True),
                     pb.HandleRequest(body=b"def"), pb.HandleRequest(body=b"g", body_eof=True))
        self.assertEqual(got, [b"abcdefg"])
        self.assertEqual([m.read_body for m in out], [content.MAX_CHUNK, content.MAX_CHUNK, 0])

    def test_no_body_no_question(self):
        got = []
        out, _ = run(lambda req, resp: got.append(req.read()), first(eof=False, has_body=False))
        self.assertEqual(got, [b""])
        self.assertEqual(len(out), 1)

    def test_stream_ending_early_is_an_error(self):
        out, ctx = run(lambda req, resp: req.read(), first(b"POST", b"", eof=False, has_body=True))
        self.assertEqual(ctx.code, grpc.StatusCode.INTERNAL)
        self.assertIn("ProtocolError", ctx.details)
        self.assertFalse(any(m.HasField("finish") for m in out))

    def test_http_error_before_head(self):
        def h(req, resp):
            raise content.HTTPError(404)

        out, ctx = run(h, first())
        self.assertEqual(out[-1].finish.result, pb.RESULT_HTTP_STATUS)
        self.assertEqual(out[-1].finish.http_status, 404)
        self.assertFalse(out[-1].HasField("head"))
        self.assertIsNone(ctx.code)

    def test_declined_before_head(self):
        def h(req, resp):
            resp.write("never sent")
            raise content.Declined()

        out, ctx = run(h, first())
        self.assertEqual(len(out), 1)
        self.assertEqual(out[0].finish.result, pb.RESULT_DECLINED)
        self.assertFalse(out[0].HasField("head") or out[0].body)
        self.assertIsNone(ctx.code)

    def test_declined_after_flush_is_an_error(self):
        def h(req, resp):
            resp.write("sent")
            resp.flush()
            raise content.Declined()

        _, ctx = run(h, first())
        self.assertEqual(ctx.code, grpc.StatusCode.INTERNAL)

    def test_exception_ends_with_internal(self):
        def h(req, resp):
            raise KeyError("nope")

        out, ctx = run(h, first())
        self.assertEqual(out, [])
        self.assertEqual(ctx.code, grpc.StatusCode.INTERNAL)
        self.assertEqual(ctx.details, "handler raised KeyError: 'nope'")

    def test_exception_after_flush_still_internal(self):
        def h(req, resp):
            resp.write("partial")
            resp.flush()
            raise RuntimeError("late")

        out, ctx = run(h, first())
        self.assertEqual(out[0].body, b"partial")
        self.assertTrue(out[0].flush)
        self.assertEqual(ctx.code, grpc.StatusCode.INTERNAL)

    def test_cancel_stops_a_blocked_handler(self):
        import threading

        ended = threading.Event()
        seen = []

        def h(req, resp):
            try:
                for _ in range(1000):  # far more than the queue holds
                    resp.write("x")
                    resp.flush()
            except content.Cancelled:
                seen.append("cancelled")
                raise
            finally:
                ended.set()

        ctx = FakeContext()
        gen = content.handle(h, iter([first()]), ctx, THREADS)
        next(gen)
        for cb in ctx.callbacks:  # grpc calls them when the call ends
            cb()
        rest = list(gen)
        self.assertLess(len(rest), 1000, "the generator stops after the cancel")
        self.assertTrue(ended.wait(5), "the handler thread ended")
        self.assertEqual(seen, ["cancelled"])
        self.assertIsNone(ctx.code, "a cancelled call needs no status")

    def test_first_message_without_request(self):
        out, ctx = run(lambda req, resp: None, pb.HandleRequest(body=b"x"))
        self.assertEqual((out, ctx.code), ([], grpc.StatusCode.INVALID_ARGUMENT))

    def test_request_facts_and_logs(self):
        def h(req, resp):
            self.assertEqual((req.method, req.uri), ("GET", "/py/x"))
            self.assertEqual(req.header("content-type"), "text/plain")
            self.assertIsNone(req.header("X-None"))
            self.assertEqual(req.option("GREETING"), "b", "the last value wins, any case")
            req.log("seen", level="notice")

        out, _ = run(h, first())
        self.assertEqual([(l.level, l.message) for l in out[0].logs], [(pb.LogRecord.LEVEL_NOTICE, b"seen")])


if __name__ == "__main__":
    unittest.main()
