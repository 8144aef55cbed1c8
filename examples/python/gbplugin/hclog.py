"""Process logging in the format gobridged relays into httpd's error log.

gobridged reads a plugin's stderr line by line (through hashicorp/go-plugin's
client). A line that is a JSON object in hclog's format keeps its level and
its key/value pairs; any other line is logged at debug, so it would not be
seen with httpd's default LogLevel. hclog knows only five levels, so each
line also names its exact httpd level in "@httpd_level" (notice and crit
would otherwise arrive as info and error).
"""

import datetime
import json
import logging
import os
import sys

# Python's levels for httpd's that logging lacks. logging.DEBUG stands for
# httpd's debug, INFO for info, WARNING for warn, ERROR for error and
# CRITICAL for crit.
NOTICE = 25
ALERT = 55
EMERG = 60
TRACE = 5

logging.addLevelName(NOTICE, "NOTICE")
logging.addLevelName(ALERT, "ALERT")
logging.addLevelName(EMERG, "EMERG")
logging.addLevelName(TRACE, "TRACE")

# httpd level name -> (Python level, hclog level). httpd's trace1..trace8
# are all TRACE here: hclog has a single trace level.
_HTTPD = {
    "emerg": (EMERG, "error"),
    "alert": (ALERT, "error"),
    "crit": (logging.CRITICAL, "error"),
    "error": (logging.ERROR, "error"),
    "warn": (logging.WARNING, "warn"),
    "notice": (NOTICE, "info"),
    "info": (logging.INFO, "info"),
    "debug": (logging.DEBUG, "debug"),
}
for _i in range(1, 9):
    _HTTPD["trace%d" % _i] = (TRACE, "trace")

# The attributes every LogRecord has; anything else came from `extra=` and
# is written as a key/value pair.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def httpd_level_name(levelno):
    """Returns httpd's name for a Python level: the most severe httpd level
    that is not more severe than it."""
    best = "trace8"
    best_no = -1
    for name, (no, _) in _HTTPD.items():
        if no <= levelno and no > best_no:
            best, best_no = name, no
    return best


def python_level(httpd_name):
    """Returns the Python level for an httpd level name (None if unknown)."""
    entry = _HTTPD.get((httpd_name or "").strip().lower())
    return entry[0] if entry else None


class HCLogFormatter(logging.Formatter):
    """Formats a record as one hclog JSON line with "@httpd_level"."""

    def format(self, record):
        name = httpd_level_name(record.levelno)
        line = {
            "@level": _HTTPD[name][1],
            "@httpd_level": name,
            "@message": record.getMessage(),
            "@timestamp": datetime.datetime.fromtimestamp(
                record.created, datetime.timezone.utc
            ).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and value != "":
                line[key] = value if isinstance(value, (int, float, bool)) else str(value)
        if record.exc_info:
            # One line per record: a traceback stays in one field, so the
            # error log gets one entry for it, not one per frame.
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup(stream=None):
    """Sends the root logger's records to stderr as hclog JSON, from the
    level gobridged relays (GOBRIDGE_LOG_LEVEL, httpd's LogLevel for the
    gobridge module) up; info when the variable is missing or unknown."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(HCLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(python_level(os.environ.get("GOBRIDGE_LOG_LEVEL")) or logging.INFO)
    return root
