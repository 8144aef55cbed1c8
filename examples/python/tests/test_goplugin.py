"""Tests of gbplugin.goplugin: what gobridged's environment means."""

import os
import tempfile
import unittest

from gbplugin import goplugin

COOKIE = {goplugin.MAGIC_COOKIE_KEY: goplugin.MAGIC_COOKIE_VALUE}


class NegotiateVersion(unittest.TestCase):
    def test_table(self):
        for offered, want in [("", 1), ("1", 1), ("1,2", 1), (" 2 , 1 ", 1)]:
            with self.subTest(offered=offered):
                self.assertEqual(goplugin.negotiate_version({"PLUGIN_PROTOCOL_VERSIONS": offered}), want)

    def test_refused(self):
        for offered in ["2", "2,3", "one"]:
            with self.subTest(offered=offered):
                with self.assertRaises(goplugin.HandshakeError):
                    goplugin.negotiate_version({"PLUGIN_PROTOCOL_VERSIONS": offered})


class Cookie(unittest.TestCase):
    def test_accepted(self):
        goplugin.check_cookie(COOKIE, "plugin.py")

    def test_by_hand(self):
        for env in [{}, {goplugin.MAGIC_COOKIE_KEY: "wrong"}]:
            with self.assertRaisesRegex(goplugin.HandshakeError, "is a gobridge plugin"):
                goplugin.check_cookie(env, "plugin.py")


class Unsupported(unittest.TestCase):
    def test_table(self):
        for env, refused in [
            ({}, False),
            ({"PLUGIN_MULTIPLEX_GRPC": "false"}, False),
            ({"PLUGIN_MULTIPLEX_GRPC": "true"}, True),
            ({"PLUGIN_CLIENT_CERT": "-----BEGIN"}, True),
        ]:
            with self.subTest(env=env):
                if refused:
                    self.assertRaises(goplugin.HandshakeError, goplugin.refuse_unsupported, env)
                else:
                    goplugin.refuse_unsupported(env)


class Socket(unittest.TestCase):
    def test_path_is_fresh_and_in_the_directory(self):
        with tempfile.TemporaryDirectory() as d:
            a = goplugin.socket_path({"PLUGIN_UNIX_SOCKET_DIR": d})
            b = goplugin.socket_path({"PLUGIN_UNIX_SOCKET_DIR": d})
            self.assertEqual(os.path.dirname(a), d)
            self.assertTrue(os.path.basename(a).startswith("plugin"))
            self.assertNotEqual(a, b)
            self.assertFalse(os.path.exists(a), "the path must be free for bind()")

    def test_handshake_line(self):
        self.assertEqual(goplugin.handshake_line(1, "/run/s/plugin12"), "1|1|unix|/run/s/plugin12|grpc|\n")


class ParentPID(unittest.TestCase):
    def test_table(self):
        for value, want in [("4242", 4242), ("", os.getppid()), ("x", os.getppid()), ("0", os.getppid())]:
            with self.subTest(value=value):
                self.assertEqual(goplugin.parent_pid({goplugin.PARENT_PID_ENV: value}), want)


if __name__ == "__main__":
    unittest.main()
