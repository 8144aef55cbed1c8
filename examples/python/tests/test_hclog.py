"""Tests of gbplugin.hclog: lines gobridged relays at the right level."""

import io
import json
import logging
import unittest

from gbplugin import hclog


def record(level, msg, exc=False, **extra):
    logger = logging.getLogger("test.hclog")
    exc_info = None
    if exc:
        try:
            raise ValueError("bad value")
        except ValueError:
            import sys

            exc_info = sys.exc_info()
    r = logger.makeRecord("test.hclog", level, __file__, 1, msg, (), exc_info, extra=extra)
    return json.loads(hclog.HCLogFormatter().format(r))


class Levels(unittest.TestCase):
    def test_table(self):
        for level, hc, httpd in [
            (hclog.TRACE, "trace", "trace1"),
            (logging.DEBUG, "debug", "debug"),
            (logging.INFO, "info", "info"),
            (hclog.NOTICE, "info", "notice"),
            (logging.WARNING, "warn", "warn"),
            (logging.ERROR, "error", "error"),
            (logging.CRITICAL, "error", "crit"),
            (hclog.ALERT, "error", "alert"),
            (hclog.EMERG, "error", "emerg"),
        ]:
            with self.subTest(level=logging.getLevelName(level)):
                line = record(level, "m")
                self.assertEqual((line["@level"], line["@httpd_level"]), (hc, httpd))

    def test_python_level(self):
        for name, want in [("debug", logging.DEBUG), ("NOTICE", hclog.NOTICE), ("trace3", hclog.TRACE), ("bogus", None), (None, None)]:
            with self.subTest(name=name):
                self.assertEqual(hclog.python_level(name), want)


class Lines(unittest.TestCase):
    def test_fields(self):
        line = record(logging.INFO, "serving", socket="/s/p1", pid=7, empty="")
        self.assertEqual(line["@message"], "serving")
        self.assertEqual(line["socket"], "/s/p1")
        self.assertEqual(line["pid"], 7)
        self.assertNotIn("empty", line, "empty fields are left out")
        self.assertRegex(line["@timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")

    def test_traceback_in_one_line(self):
        text = hclog.HCLogFormatter().format(
            logging.getLogger("t").makeRecord("t", logging.ERROR, __file__, 1, "failed", (), None)
        )
        self.assertNotIn("\n", text)
        line = record(logging.ERROR, "failed", exc=True)
        self.assertIn("ValueError: bad value", line["traceback"])

    def test_setup_honours_gobridge_log_level(self):
        import os

        old = os.environ.get("GOBRIDGE_LOG_LEVEL")
        os.environ["GOBRIDGE_LOG_LEVEL"] = "warn"
        try:
            out = io.StringIO()
            root = hclog.setup(out)
            logging.getLogger("x").info("dropped")
            logging.getLogger("x").warning("kept")
            self.assertEqual([json.loads(l)["@message"] for l in out.getvalue().splitlines()], ["kept"])
        finally:
            if old is None:
                del os.environ["GOBRIDGE_LOG_LEVEL"]
            else:
                os.environ["GOBRIDGE_LOG_LEVEL"] = old
            root.handlers[:] = []


if __name__ == "__main__":
    unittest.main()
