"""A small user table for the example's password checker: one
"name:hash" line per user, the hash made by `plugin.py --hash-password`.

Hashes are PBKDF2-HMAC-SHA256 with a random salt
("pbkdf2-sha256$ITERATIONS$SALT$HASH", base64), compared in constant time.
An unknown user costs a hash too, so timing does not tell whether a name
exists. The file is read again when it changes.
"""

import base64
import hashlib
import hmac
import os
import threading

ITERATIONS = 100_000
_SCHEME = "pbkdf2-sha256"


def hash_password(password, iterations=ITERATIONS, salt=None):
    """Returns the table's hash of password (bytes)."""
    salt = salt if salt is not None else os.urandom(16)
    dk = hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
    b64 = lambda b: base64.b64encode(b).decode()
    return "%s$%d$%s$%s" % (_SCHEME, iterations, b64(salt), b64(dk))


def _parse_hash(text, where):
    parts = text.split("$")
    if len(parts) != 4 or parts[0] != _SCHEME:
        raise ValueError("%s: not a %s hash (make one with plugin.py --hash-password)" % (where, _SCHEME))
    try:
        return int(parts[1]), base64.b64decode(parts[2], validate=True), base64.b64decode(parts[3], validate=True)
    except ValueError as e:
        raise ValueError("%s: malformed hash: %s" % (where, e)) from None


def verify(password, hashed):
    """Reports whether password matches a parsed hash, in constant time."""
    iterations, salt, want = hashed
    got = hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
    return hmac.compare_digest(got, want)


def parse(text, path="users"):
    """Parses a table: "name:hash" lines; blank lines and # comments are
    skipped. A malformed line is an error naming the file and line."""
    table = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, hashed = line.partition(":")
        where = "%s line %d" % (path, n)
        if not sep or not name:
            raise ValueError("%s: want name:hash" % where)
        table[name.encode()] = _parse_hash(hashed, where)
    return table


# What an unknown user's password is checked against.
_DUMMY = _parse_hash(hash_password(b"not a password"), "dummy")


class UserTable:
    """The table in a file, re-read when its size or mtime changes. A file
    that cannot be read or parsed raises: the checker's caller answers
    GENERAL_ERROR, never a login."""

    def __init__(self, path):
        self.path = path
        self._lock = threading.Lock()
        self._stamp = None
        self._table = {}

    def _current(self):
        st = os.stat(self.path)
        stamp = (st.st_size, st.st_mtime_ns, st.st_ino)
        with self._lock:
            if stamp != self._stamp:
                with open(self.path, encoding="utf-8") as f:
                    self._table = parse(f.read(), self.path)
                self._stamp = stamp
            return self._table

    def check(self, user, password):
        """Returns "granted", "denied" or "not found" for user and password
        (bytes)."""
        hashed = self._current().get(user)
        if hashed is None:
            verify(password, _DUMMY)
            return "not found"
        return "granted" if verify(password, hashed) else "denied"
