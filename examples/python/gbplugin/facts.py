"""The request snapshot as text, and log records for httpd's error log,
for the content handler and the phases."""

from gobridge.v1 import gobridge_pb2 as pb

_LEVELS = {
    "emerg": pb.LogRecord.LEVEL_EMERG,
    "alert": pb.LogRecord.LEVEL_ALERT,
    "crit": pb.LogRecord.LEVEL_CRIT,
    "error": pb.LogRecord.LEVEL_ERR,
    "warn": pb.LogRecord.LEVEL_WARNING,
    "notice": pb.LogRecord.LEVEL_NOTICE,
    "info": pb.LogRecord.LEVEL_INFO,
    "debug": pb.LogRecord.LEVEL_DEBUG,
    "trace1": pb.LogRecord.LEVEL_TRACE1,
}


def log_record(message, level="info"):
    """A LogRecord for message at an httpd level name (info if unknown):
    the module writes it with the request's context."""
    return pb.LogRecord(level=_LEVELS.get(level, pb.LogRecord.LEVEL_INFO), message=message.encode())


def _text(b):
    return b.decode("utf-8", "replace")


class Facts:
    """A view of a Request snapshot (.snapshot, the proto message)."""

    def __init__(self, snapshot):
        self.snapshot = snapshot

    # Facts, as text. Bytes that are not UTF-8 show as U+FFFD; the exact
    # bytes are in .snapshot.
    method = property(lambda self: _text(self.snapshot.method))
    uri = property(lambda self: _text(self.snapshot.uri))
    args = property(lambda self: _text(self.snapshot.args))
    protocol = property(lambda self: _text(self.snapshot.protocol))
    hostname = property(lambda self: _text(self.snapshot.hostname))
    user = property(lambda self: _text(self.snapshot.user))
    plugin = property(lambda self: _text(self.snapshot.plugin))
    log_id = property(lambda self: _text(self.snapshot.log_id))
    remote_ip = property(lambda self: _text(self.snapshot.connection.useragent_ip))

    @property
    def headers(self):
        """The request headers as (name, value) pairs, in order."""
        return [(_text(p.key), _text(p.value)) for p in self.snapshot.headers_in]

    def header(self, name):
        """The first value of header name (any case), or None."""
        want = name.lower().encode()
        for p in self.snapshot.headers_in:
            if p.key.lower() == want:
                return _text(p.value)
        return None

    def option(self, name, default=None):
        """The GoBridgeOption value for name in effect (any case)."""
        want = name.lower().encode()
        for p in reversed(self.snapshot.options):
            if p.key.lower() == want:
                return _text(p.value)
        return default
