"""Tests of the Python module over libfkex (python/fkex.py), run by `make
test`: the same files as the fkex command, both ways, and every refusal a
key can meet."""

import io
import json
import os
import select
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fkex  # noqa: E402

FKEX_BIN = os.environ.get("FKEX_BIN", os.path.join(os.path.dirname(__file__), "..", "fkex"))


class Files(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.auth = fkex.Authority.setup()
        cls.alice = cls.auth.keygen(["ONE", "TWO", "year=5"], identity="alice@example.org",
                                    expires="2026-12")
        cls.bob = cls.auth.keygen(["THREE"])
        cls.stranger = fkex.Authority.setup(scheme="waters11").keygen(["ONE", "TWO"])

    def test_version(self):
        with open(os.path.join(os.path.dirname(__file__), "..", "VERSION")) as f:
            self.assertEqual(fkex.version(), f.read().strip())

    def test_policy_round_trip(self):
        for armor in (False, True):
            for size in (0, 1, 65536, 200001):
                data = os.urandom(size)
                sealed = fkex.encrypt(self.auth, data, policy="(ONE or THREE) and TWO",
                                      armor=armor)
                self.assertEqual(fkex.decrypt(self.alice, sealed), data)
                self.assertEqual(sealed.startswith(b"-----BEGIN FKEX CIPHERTEXT-----"), armor)

    def test_identity_round_trip(self):
        sealed = fkex.encrypt(self.auth.public, b"for alice", identity=" Alice@Example.org ")
        self.assertEqual(fkex.decrypt(self.alice, sealed), b"for alice")
        info = fkex.inspect(sealed)
        self.assertEqual(info["identity"], "alice@example.org")
        self.assertIsNone(info["policy"])
        self.assertEqual(info["authority"], self.auth.public.fingerprint)

    def test_refusals(self):
        sealed = fkex.encrypt(self.auth, b"secret", policy="ONE and TWO")
        with self.assertRaises(fkex.Denied) as e:
            fkex.decrypt(self.bob, sealed)
        self.assertIn("do not satisfy the policy", str(e.exception))
        with self.assertRaises(fkex.Denied) as e:
            fkex.decrypt(self.stranger, sealed)
        self.assertIn("different authorities", str(e.exception))
        with self.assertRaises(fkex.Denied):
            fkex.decrypt(self.bob, fkex.encrypt(self.auth, b"x", identity="alice@example.org"))
        tampered = bytearray(sealed)
        tampered[-5] ^= 1
        with self.assertRaises(fkex.Denied):
            fkex.decrypt(self.alice, bytes(tampered))
        with self.assertRaises(fkex.Error) as e:
            fkex.decrypt(self.alice, b"hello, world")
        self.assertEqual(e.exception.code, 20)   # FKEX_ERR_NOT_FKEX
        with self.assertRaises(fkex.Error) as e:
            fkex.encrypt(self.auth, b"x", policy="ONE and (")
        self.assertIn("column", str(e.exception))

    def test_valid_at(self):
        sealed = fkex.encrypt(self.auth, b"x", policy="ONE", valid_at="2026-12")
        self.assertEqual(fkex.decrypt(self.alice, sealed), b"x")
        self.assertIn("expires >= 202612", fkex.inspect(sealed)["policy"])
        later = fkex.encrypt(self.auth, b"x", policy="ONE", valid_at="2027-01")
        with self.assertRaises(fkex.Denied):
            fkex.decrypt(self.alice, later)

    def test_keys_and_params(self):
        self.assertEqual(self.alice.attributes, ["ONE", "TWO", "expires=202612", "year=5"])
        self.assertEqual(self.alice.identity, "alice@example.org")
        self.assertIsNone(self.bob.identity)
        again = fkex.UserKey.decode(self.alice.encode())
        self.assertEqual(again.attributes, self.alice.attributes)
        self.assertEqual(again.public.fingerprint, self.auth.public.fingerprint)
        params = fkex.PublicParams.decode(self.auth.public.encode())
        self.assertEqual(params.scheme, "fame")
        self.assertTrue(params.identities)
        master = fkex.MasterKey.decode(self.auth.master.encode())
        self.assertEqual(fkex.Authority(master).public.fingerprint, params.fingerprint)
        edited = bytearray(self.alice.encode())
        edited[edited.index(b"year=5") + 5] = ord("9")
        with self.assertRaises(fkex.Error):
            fkex.UserKey.decode(bytes(edited))

    def test_streams(self):
        """A file object in, one out; an error in the caller's stream comes back as it was."""
        src, dst = io.BytesIO(os.urandom(300000)), io.BytesIO()
        fkex.encrypt_stream(self.auth, src, dst, policy="TWO")
        out = io.BytesIO()
        fkex.decrypt_stream(self.alice, io.BytesIO(dst.getvalue()), out)
        self.assertEqual(out.getvalue(), src.getvalue())

        class Broken(io.RawIOBase):
            def read(self, n=-1):
                raise OSError("disk on fire")
        with self.assertRaises(OSError):
            fkex.encrypt_stream(self.auth, Broken(), io.BytesIO(), policy="TWO")

    def test_misuse(self):
        """Wrong objects and broken streams are Python errors, never memory
        errors or a silently short file."""
        sealed = fkex.encrypt(self.alice, b"x", policy="ONE")   # a user key stands for its authority
        self.assertEqual(fkex.decrypt(self.alice, sealed), b"x")
        with self.assertRaises(TypeError):
            fkex.encrypt(b"not params", b"x", policy="ONE")
        with self.assertRaises(TypeError):
            fkex.decrypt(self.auth.public, sealed)
        with self.assertRaises(ValueError):
            fkex.encrypt(self.auth, b"x", identity="alice@example.org", valid_at="2026-12")
        for cut in (10, 50, len(sealed) - 1):
            with self.assertRaises(fkex.Denied):
                fkex.decrypt(self.alice, sealed[:cut])

        class Greedy(io.RawIOBase):
            def read(self, n=-1):
                return b"x" * (n + 1)

        class Interrupted(io.RawIOBase):
            def __init__(self):
                self.calls = 0

            def read(self, n=-1):
                self.calls += 1
                if self.calls > 2:
                    raise KeyboardInterrupt
                return b"y" * n

        with self.assertRaises(ValueError):
            fkex.encrypt_stream(self.auth, Greedy(), io.BytesIO(), policy="TWO")
        with self.assertRaises(TypeError):
            fkex.encrypt_stream(self.auth, io.StringIO("text"), io.BytesIO(), policy="TWO")
        with self.assertRaises(KeyboardInterrupt):
            fkex.encrypt_stream(self.auth, Interrupted(), io.BytesIO(), policy="TWO")

    @unittest.skipUnless(os.access(FKEX_BIN, os.X_OK), "no fkex binary")
    def test_same_files_as_the_command(self):
        """Python's files open with `fkex decrypt`, and the command's with Python."""
        with tempfile.TemporaryDirectory() as d:
            def path(name):
                return os.path.join(d, name)
            with open(path("mpk.fkex"), "wb") as f:
                f.write(self.auth.public.encode())
            fd = os.open(path("alice.key"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(self.alice.encode())
            with open(path("py.fkex"), "wb") as f:
                f.write(fkex.encrypt(self.auth, b"from python\n", policy="ONE"))
            out = subprocess.run([FKEX_BIN, "decrypt", "--key", path("alice.key"),
                                  path("py.fkex")], capture_output=True, check=True)
            self.assertEqual(out.stdout, b"from python\n")
            subprocess.run([FKEX_BIN, "encrypt", "--mpk", path("mpk.fkex"), "--policy", "TWO",
                            "-o", path("cli.fkex")], input=b"from the command\n", check=True)
            with open(path("cli.fkex"), "rb") as f:
                self.assertEqual(fkex.decrypt(self.alice, f.read()), b"from the command\n")


@unittest.skipUnless(os.access(FKEX_BIN, os.X_OK) and hasattr(fkex._lib, "fkex_client_open"),
                     "no fkex binary, or no libfkex-io")
class Rooms(unittest.TestCase):
    """A Python member of a room over a real relay on loopback, with a
    member that is the fkex command: it joins, reads a message, is read,
    agrees on the epoch's fingerprint, and leaves; a key that does not
    satisfy the policy is refused."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.procs = []
        self.pending = b""
        d = self.dir.name
        self.relay = self.spawn([FKEX_BIN, "relay", "--listen", "127.0.0.1:0", "--db",
                                 os.path.join(d, "relay.db")], stdout=subprocess.PIPE)
        ready, _, _ = select.select([self.relay.stdout], [], [], 20)
        line = self.relay.stdout.readline().decode() if ready else ""
        self.assertTrue(line.startswith("listening on "), line)
        addr = line.split()[-1]
        auth = fkex.Authority.setup()
        self.auth_public = auth.public
        self.bob = auth.keygen(["THREE", "FOUR"])
        self.eve = auth.keygen(["FIVE"])
        for name, blob in (("alice.key", auth.keygen(["ONE", "TWO"]).encode()),):
            fd = os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
        out = subprocess.run([FKEX_BIN, "room", "create", "lab", "--policy",
                              "(ONE or THREE) and (TWO or FOUR)", "--relay", addr, "--dir",
                              os.path.join(d, "R")], capture_output=True, check=True, timeout=30)
        self.invite = out.stdout.decode().split()[0]
        self.alice = self.spawn([FKEX_BIN, "chat", self.invite, "--key", os.path.join(d, "alice.key"),
                                 "--batch", "--nick", "alice", "--found", os.path.join(d, "R")],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.wait_alice('"event": "joined"')

    def spawn(self, argv, **kw):
        p = subprocess.Popen(argv, stderr=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def wait_alice(self, needle, seconds=20):
        """alice's next line that holds needle, read within seconds."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            while b"\n" in self.pending:
                line, self.pending = self.pending.split(b"\n", 1)
                if needle in line.decode():
                    return line.decode()
            ready, _, _ = select.select([self.alice.stdout], [], [], end - time.monotonic())
            chunk = os.read(self.alice.stdout.fileno(), 65536) if ready else b""
            self.assertTrue(chunk or not ready, f"alice ended before {needle}")
            self.pending += chunk
        self.fail(f"alice did not say {needle} within {seconds} s")

    def tell_alice(self, obj):
        self.alice.stdin.write((json.dumps(obj) + "\n").encode())
        self.alice.stdin.flush()

    def until(self, room, kind):
        for ev in room.events(timeout=20):
            if ev["event"] == kind:
                return ev
        self.fail(f"the session ended before {kind}")

    def tearDown(self):
        for p in self.procs:   # only the processes this test started, by their handles
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            for stream in (p.stdin, p.stdout):
                if stream:
                    stream.close()
        self.dir.cleanup()

    def test_member_reads_the_room(self):
        with fkex.Room(self.invite, self.bob, nick="bob") as room:
            joined = self.until(room, "joined")
            self.assertEqual((joined["epoch"], joined["members"]), (1, 2))
            self.wait_alice('"epoch": 1, "members": 2')   # her messages are epoch 1's from then
            self.tell_alice({"send": "hello bob"})
            msg = self.until(room, "message")
            self.assertEqual((msg["nick"], msg["text"], msg["own"]), ("alice", "hello bob", False))
            room.send("hello alice")
            self.assertEqual(self.until(room, "sent")["count"], 1)
            self.assertIn('"text": "hello alice"', self.wait_alice('"event": "message"'))
            epoch, fingerprint = room.verify()
            self.tell_alice({"cmd": "verify"})
            theirs = json.loads(self.wait_alice('"event": "verify"'))
            self.assertEqual((epoch, fingerprint), (theirs["epoch"], theirs["fingerprint"]))
            room.leave()
            self.assertEqual(self.until(room, "done")["exit_code"], 0)
        self.wait_alice('"epoch": 2, "members": 1')

    def test_closed_room(self):
        room = fkex.Room(self.invite, self.bob, nick="bob")
        room.close()
        with self.assertRaises(fkex.Error):
            room.send("after close")
        with self.assertRaises(TypeError):
            fkex.Room(self.invite, self.auth_public, nick="x")

    def test_unsatisfying_key_is_refused(self):
        with fkex.Room(self.invite, self.eve, nick="eve") as room:
            events = list(room.events(timeout=20))
        self.assertEqual(events[-1]["event"], "done")
        self.assertEqual(events[-1]["exit_code"], 1)
        self.assertFalse(any(e["event"] == "joined" for e in events))


if __name__ == "__main__":
    unittest.main()
