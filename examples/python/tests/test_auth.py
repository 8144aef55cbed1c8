"""Tests of gbplugin.auth: answers map one to one, everything else fails
closed."""

import logging
import unittest

import grpc
from gobridge.v1 import auth_pb2
from gobridge.v1 import gobridge_pb2 as pb

from gbplugin import auth

logging.getLogger("gbplugin").addHandler(logging.NullHandler())
logging.getLogger("gbplugin").propagate = False


class Aborted(Exception):
    pass


class FakeContext:
    def abort(self, code, details):
        self.code, self.details = code, details
        raise Aborted(details)


def password(user=b"alice", pw=b"secret"):
    return auth_pb2.CheckPasswordRequest(request=pb.Request(), user=user, password=pw, provider=b"gobridge")


def authz(user=b"alice", *args):
    return auth_pb2.CheckAuthorizationRequest(request=pb.Request(), user=user, args=list(args), require_line=b"x")


def boom(*a):
    raise OSError("table unreadable")


class CheckPassword(unittest.TestCase):
    def test_answers_and_failures(self):
        for name, checker, want in [
            ("granted", lambda u, p, r: auth.GRANTED, auth_pb2.AUTHN_RESULT_GRANTED),
            ("denied", lambda u, p, r: auth.DENIED, auth_pb2.AUTHN_RESULT_DENIED),
            ("not found", lambda u, p, r: auth.USER_NOT_FOUND, auth_pb2.AUTHN_RESULT_USER_NOT_FOUND),
            ("exception", boom, auth_pb2.AUTHN_RESULT_GENERAL_ERROR),
            ("True is no answer", lambda u, p, r: True, auth_pb2.AUTHN_RESULT_GENERAL_ERROR),
            ("None is no answer", lambda u, p, r: None, auth_pb2.AUTHN_RESULT_GENERAL_ERROR),
        ]:
            with self.subTest(name):
                resp = auth.AuthServicer(checker).CheckPassword(password(), FakeContext())
                self.assertEqual(resp.result, want)
                if want == auth_pb2.AUTHN_RESULT_GENERAL_ERROR:
                    self.assertEqual(len(resp.logs), 1, "the reason goes to httpd's log")
                    self.assertNotIn(b"secret", resp.logs[0].message)

    def test_not_served(self):
        ctx = FakeContext()
        with self.assertRaises(Aborted):
            auth.AuthServicer(None, lambda *a: auth.AUTHZ_GRANTED).CheckPassword(password(), ctx)
        self.assertEqual(ctx.code, grpc.StatusCode.UNIMPLEMENTED)


class CheckAuthorization(unittest.TestCase):
    def test_answers_and_failures(self):
        for name, checker, want in [
            ("granted", lambda u, a, r: auth.AUTHZ_GRANTED, auth_pb2.AUTHZ_RESULT_GRANTED),
            ("denied", lambda u, a, r: auth.AUTHZ_DENIED, auth_pb2.AUTHZ_RESULT_DENIED),
            ("no user", lambda u, a, r: auth.AUTHZ_DENIED_NO_USER, auth_pb2.AUTHZ_RESULT_DENIED_NO_USER),
            ("neutral", lambda u, a, r: auth.AUTHZ_NEUTRAL, auth_pb2.AUTHZ_RESULT_NEUTRAL),
            ("exception", boom, auth_pb2.AUTHZ_RESULT_GENERAL_ERROR),
            ("an authn answer is no authz answer", lambda u, a, r: auth.USER_NOT_FOUND + 10, auth_pb2.AUTHZ_RESULT_GENERAL_ERROR),
        ]:
            with self.subTest(name):
                resp = auth.AuthServicer(None, checker).CheckAuthorization(authz(b"alice", b"user", b"alice"), FakeContext())
                self.assertEqual(resp.result, want)

    def test_arguments_reach_the_checker(self):
        seen = []
        auth.AuthServicer(None, lambda u, a, r: seen.append((u, a)) or auth.AUTHZ_NEUTRAL).CheckAuthorization(
            authz(b"bob", b"user", b"alice", b"bob"), FakeContext())
        self.assertEqual(seen, [(b"bob", [b"user", b"alice", b"bob"])])

    def test_not_served(self):
        ctx = FakeContext()
        with self.assertRaises(Aborted):
            auth.AuthServicer(lambda *a: auth.GRANTED).CheckAuthorization(authz(), ctx)
        self.assertEqual(ctx.code, grpc.StatusCode.UNIMPLEMENTED)


if __name__ == "__main__":
    unittest.main()
