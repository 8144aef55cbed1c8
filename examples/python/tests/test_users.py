"""Tests of the example's user table."""

import os
import tempfile
import unittest

import users


class Parse(unittest.TestCase):
    def test_errors_name_file_and_line(self):
        good = "alice:" + users.hash_password(b"pw", iterations=1000)
        for text, want in [
            ("nocolon", "t line 1: want name:hash"),
            ("# comment\n\n:" + good.split(":", 1)[1], "t line 3: want name:hash"),
            ("bob:{SHA}abc", "t line 1: not a pbkdf2-sha256 hash"),
            ("bob:pbkdf2-sha256$x$AA==$AA==", "t line 1: malformed hash"),
            ("bob:pbkdf2-sha256$10$!!$AA==", "t line 1: malformed hash"),
        ]:
            with self.subTest(text=text):
                with self.assertRaisesRegex(ValueError, want):
                    users.parse(text, "t")

    def test_comments_and_blank_lines(self):
        table = users.parse("# users\n\nalice:%s\n" % users.hash_password(b"pw", iterations=1000))
        self.assertEqual(list(table), [b"alice"])


class Check(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "users")
        self.write({"alice": b"wonderland"})

    def tearDown(self):
        self.dir.cleanup()

    def write(self, entries):
        with open(self.path, "w") as f:
            for name, pw in entries.items():
                f.write("%s:%s\n" % (name, users.hash_password(pw, iterations=1000)))

    def test_answers(self):
        table = users.UserTable(self.path)
        for user, pw, want in [
            (b"alice", b"wonderland", "granted"),
            (b"alice", b"Wonderland", "denied"),
            (b"alice", b"", "denied"),
            (b"mallory", b"wonderland", "not found"),
        ]:
            with self.subTest(user=user, pw=pw):
                self.assertEqual(table.check(user, pw), want)

    def test_reread_when_changed(self):
        table = users.UserTable(self.path)
        self.assertEqual(table.check(b"bob", b"builder"), "not found")
        self.write({"alice": b"wonderland", "bob": b"builder-and-more"})
        self.assertEqual(table.check(b"bob", b"builder-and-more"), "granted")

    def test_missing_file_raises(self):
        os.unlink(self.path)
        with self.assertRaises(FileNotFoundError):
            users.UserTable(self.path).check(b"alice", b"wonderland")


if __name__ == "__main__":
    unittest.main()
