"""fkex: functional key exchange, from Python.

A thin layer over libfkex's public C API (include/fkex/fkex.h) through
ctypes, from the standard library alone. For users of Charm's CP-ABE who
move to fkex:

    import fkex
    authority = fkex.Authority.setup()                # FAME; identities too
    key = authority.keygen(["dept:telematics", "year=5"], identity="alice@example.org")
    sealed = fkex.encrypt(authority.public, b"...", policy="dept:telematics and year >= 5")
    fkex.decrypt(key, sealed)                         # b"..."
    to_alice = fkex.encrypt(authority.public, b"...", identity="Alice@Example.org")
    fkex.inspect(sealed)                              # {"policy": ..., "authority": ...}

Files are the ones `fkex encrypt` and `fkex ibe encrypt` write; keys and
parameters are the same bytes as the CLI's files (fkex setup, keygen,
enroll). encrypt_stream and decrypt_stream work on file objects in constant
memory.

Room is a member of a room over a relay (fkex/client.h, in libfkex-io):

    with fkex.Room(invite, key, nick="bob") as room:
        for event in room.events(timeout=30):
            if event["event"] == "message":
                print(event["nick"], event["text"])

The library is found at $FKEX_LIB, else where the system's linker finds
libfkex-io.so or libfkex.so (after `make install`), else in the source
tree's build/. Room needs libfkex-io.so, which holds libfkex too.
"""

import ctypes
import ctypes.util
import io
import os

__all__ = [
    "Error", "Denied", "Authority", "PublicParams", "MasterKey", "UserKey", "Room",
    "encrypt", "decrypt", "encrypt_stream", "decrypt_stream", "inspect", "version",
]


def _load():
    here = os.path.dirname(os.path.abspath(__file__))
    build = os.path.join(here, "..", "build")
    tried = [os.environ.get("FKEX_LIB"), ctypes.util.find_library("fkex-io"),
             ctypes.util.find_library("fkex"), os.path.join(build, "libfkex-io.so"),
             os.path.join(build, "libfkex.so")]
    for path in tried:
        if path and (os.path.sep not in path or os.path.exists(path)):
            try:
                return ctypes.CDLL(path)
            except OSError:
                continue
    raise ImportError("libfkex.so not found: set FKEX_LIB, run `make install`, or build the tree")


_lib = _load()
_u8p = ctypes.POINTER(ctypes.c_uint8)
_err = ctypes.c_int

# Error codes (include/fkex/error.h).
_DENIED = {10, 12, 13, 19}   # policy unsatisfied, authentication, wrong authority, wrong identity
_DAMAGED = {4, 5, 7}         # a file's bad encoding, truncation, invalid point: tampering too


class Error(Exception):
    """A libfkex error: code is the fkex_err, the message its sentence."""

    def __init__(self, code, what=None):
        self.code = code
        text = _lib.fkex_strerror(code).decode()
        super().__init__(f"{what}: {text}" if what else text)


class Denied(Error):
    """The key may not open it: another authority, a policy it does not
    satisfy, another identity, or bytes that were tampered with."""


def _check(code, what=None, damaged_is_denied=False):
    if code != 0:
        denied = code in _DENIED or (damaged_is_denied and code in _DAMAGED)
        raise (Denied if denied else Error)(code, what)


class _Rng(ctypes.Structure):
    _fields_ = [("deterministic", ctypes.c_int), ("key", ctypes.c_uint8 * 32),
                ("block", ctypes.c_uint64)]


_READ = ctypes.CFUNCTYPE(_err, ctypes.c_void_p, _u8p, ctypes.c_size_t,
                         ctypes.POINTER(ctypes.c_size_t))
_WRITE = ctypes.CFUNCTYPE(_err, ctypes.c_void_p, _u8p, ctypes.c_size_t)


class _Source(ctypes.Structure):
    _fields_ = [("read", _READ), ("ctx", ctypes.c_void_p)]


class _Sink(ctypes.Structure):
    _fields_ = [("write", _WRITE), ("ctx", ctypes.c_void_p)]


class _PolicyError(ctypes.Structure):
    _fields_ = [("column", ctypes.c_size_t), ("message", ctypes.c_char * 128)]


class _FileInfo(ctypes.Structure):
    _fields_ = [("armored", ctypes.c_int), ("armor_kind", ctypes.c_char * 33),
                ("has_header", ctypes.c_int), ("kind", ctypes.c_int),
                ("version", ctypes.c_uint8), ("scheme", ctypes.c_uint8),
                ("curve", ctypes.c_uint8), ("fingerprint", ctypes.c_uint8 * 32),
                ("body_len", ctypes.c_uint32)]


def _declare(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


_vp, _pvp, _sz, _psz = ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, \
    ctypes.POINTER(ctypes.c_size_t)
_pu8p = ctypes.POINTER(_u8p)
_declare("fkex_init", _err)
_declare("fkex_version", ctypes.c_char_p)
_declare("fkex_strerror", ctypes.c_char_p, _err)
_declare("fkex_rng_init_system", None, ctypes.POINTER(_Rng))
_declare("fkex_bytes_free", None, _u8p, _sz)
_declare("fkex_abe_setup", _err, _pvp, _pvp, ctypes.c_char_p, ctypes.POINTER(_Rng))
_declare("fkex_ibe_setup", _err, _pvp, _vp, ctypes.POINTER(_Rng))
_declare("fkex_abe_keygen", _err, _pvp, _vp, ctypes.POINTER(ctypes.c_char_p), _sz,
         ctypes.POINTER(_Rng))
_declare("fkex_ibe_keygen", _err, _vp, _vp, ctypes.c_char_p)
for _kind in ("mpk", "msk", "key"):
    _declare(f"fkex_{_kind}_encode", _err, _pu8p, _psz, _vp)
    _declare(f"fkex_{_kind}_decode", _err, _pvp, ctypes.c_char_p, _sz)
    _declare(f"fkex_{_kind}_free", None, _vp)
_declare("fkex_msk_mpk", _vp, _vp)
_declare("fkex_key_mpk", _vp, _vp)
_declare("fkex_mpk_fingerprint", None, ctypes.c_uint8 * 32, _vp)
_declare("fkex_mpk_scheme", ctypes.c_uint8, _vp)
_declare("fkex_mpk_has_ibe", ctypes.c_int, _vp)
_declare("fkex_scheme_name", ctypes.c_char_p, ctypes.c_uint8)
_declare("fkex_fingerprint_text", None, ctypes.c_char * 20, ctypes.c_uint8 * 32)
_declare("fkex_key_attrs", None, ctypes.POINTER(ctypes.POINTER(ctypes.c_char_p)), _psz, _vp)
_declare("fkex_key_identity", ctypes.c_char_p, _vp)
_declare("fkex_policy_parse", _err, _pvp, ctypes.c_char_p, _sz, ctypes.POINTER(_PolicyError))
_declare("fkex_policy_free", None, _vp)
_declare("fkex_policy_valid_at", _err, _pvp, _vp, ctypes.c_uint32, ctypes.POINTER(_PolicyError))
_declare("fkex_month_parse", _err, ctypes.POINTER(ctypes.c_uint32), ctypes.c_char_p)
_declare("fkex_expiry_attr", _err, ctypes.c_char * 15, ctypes.c_uint32)
_declare("fkex_file_seal_policy", _err, ctypes.POINTER(_Sink), ctypes.POINTER(_Source), _vp, _vp,
         ctypes.c_int, ctypes.POINTER(_Rng))
_declare("fkex_file_seal_identity", _err, ctypes.POINTER(_Sink), ctypes.POINTER(_Source), _vp,
         ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(_Rng))
_declare("fkex_file_open", _err, _pvp, ctypes.POINTER(_Source), ctypes.POINTER(_FileInfo))
_declare("fkex_file_policy", ctypes.c_char_p, _vp)
_declare("fkex_file_identity", ctypes.c_char_p, _vp)
_declare("fkex_file_fingerprint", None, ctypes.c_uint8 * 32, _vp)
_declare("fkex_file_unlock", _err, _vp, _vp)
_declare("fkex_file_decrypt", _err, _vp, ctypes.POINTER(_Sink))
_declare("fkex_file_free", None, _vp)

_check(_lib.fkex_init(), "fkex_init")


def version():
    """The library's version, "MAJOR.MINOR.PATCH"."""
    return _lib.fkex_version().decode()


def _rng():
    rng = _Rng()
    _lib.fkex_rng_init_system(ctypes.byref(rng))
    return rng


def _encoded(encode, handle):
    out, n = _u8p(), ctypes.c_size_t()
    _check(encode(ctypes.byref(out), ctypes.byref(n), handle))
    try:
        return ctypes.string_at(out, n.value)
    finally:
        _lib.fkex_bytes_free(out, n)


def _fingerprint_text(fp):
    text = (ctypes.c_char * 20)()
    _lib.fkex_fingerprint_text(text, fp)
    return text.value.decode()


class _Object:
    """An owned libfkex object, freed with the Python object. A subclass
    names its kind ("mpk", "msk", "key": fkex_<kind>_encode and the like)
    and what it is called in errors."""
    _kind = _what = None

    def __init__(self, handle, owner=None):
        self._handle = ctypes.c_void_p(handle)
        self._owner = owner   # a borrowed handle keeps its owner alive

    def __del__(self):
        if self._owner is None and self._handle:
            getattr(_lib, f"fkex_{self._kind}_free")(self._handle)
            self._handle = None

    @classmethod
    def decode(cls, data):
        h = ctypes.c_void_p()
        _check(getattr(_lib, f"fkex_{cls._kind}_decode")(ctypes.byref(h), data, len(data)),
               cls._what)
        return cls(h.value)

    def encode(self):
        return _encoded(getattr(_lib, f"fkex_{self._kind}_encode"), self._handle)


class PublicParams(_Object):
    """An authority's public parameters (`fkex setup`'s mpk.fkex)."""
    _kind, _what = "mpk", "public parameters"

    @property
    def fingerprint(self):
        """The authority's name for people: "abcd-efgh-ijkl-mnop"."""
        fp = (ctypes.c_uint8 * 32)()
        _lib.fkex_mpk_fingerprint(fp, self._handle)
        return _fingerprint_text(fp)

    @property
    def scheme(self):
        return _lib.fkex_scheme_name(_lib.fkex_mpk_scheme(self._handle)).decode()

    @property
    def identities(self):
        """True if the authority issues identity keys (Boneh-Franklin)."""
        return bool(_lib.fkex_mpk_has_ibe(self._handle))


class MasterKey(_Object):
    """An authority's master key (`fkex setup`'s msk.fkex): keep it secret."""
    _kind, _what = "msk", "master key"


class UserKey(_Object):
    """A user's key: attributes, and an identity if the authority gave one."""
    _kind, _what = "key", "user key"

    @property
    def attributes(self):
        attrs, n = ctypes.POINTER(ctypes.c_char_p)(), ctypes.c_size_t()
        _lib.fkex_key_attrs(ctypes.byref(attrs), ctypes.byref(n), self._handle)
        return [attrs[i].decode() for i in range(n.value)]

    @property
    def identity(self):
        ident = _lib.fkex_key_identity(self._handle)
        return ident.decode() if ident else None

    @property
    def public(self):
        """The public parameters of the authority that issued the key."""
        return PublicParams(_lib.fkex_key_mpk(self._handle), owner=self)


class Authority:
    """A key authority: public parameters and master key."""

    def __init__(self, master):
        self.master = master
        self.public = PublicParams(_lib.fkex_msk_mpk(master._handle), owner=master)

    @classmethod
    def setup(cls, scheme="fame", identities=True):
        """A new authority: "fame" (the default) or "waters11"; identities
        adds Boneh-Franklin parameters (changing the fingerprint)."""
        mpk, msk, rng = ctypes.c_void_p(), ctypes.c_void_p(), _rng()
        _check(_lib.fkex_abe_setup(ctypes.byref(mpk), ctypes.byref(msk), scheme.encode(),
                                   ctypes.byref(rng)), "setup")
        _lib.fkex_mpk_free(mpk)
        master = MasterKey(msk.value)   # freed (wiped) whatever happens next
        if identities:
            _check(_lib.fkex_ibe_setup(ctypes.byref(mpk), master._handle, ctypes.byref(rng)),
                   "setup")
            _lib.fkex_mpk_free(mpk)
        return cls(master)

    def keygen(self, attributes=(), identity=None, expires=None):
        """A user key for attributes ("ONE", "dept:x", "year=5"), an
        identity, or both; expires="YYYY-MM" adds the expiry attribute."""
        attributes = list(attributes)
        if expires is not None:
            month, attr = ctypes.c_uint32(), (ctypes.c_char * 15)()
            _check(_lib.fkex_month_parse(ctypes.byref(month), expires.encode()), "expires")
            _check(_lib.fkex_expiry_attr(attr, month.value), "expires")
            attributes.append(attr.value.decode())
        arr = (ctypes.c_char_p * max(1, len(attributes)))(*[a.encode() for a in attributes])
        key, rng = ctypes.c_void_p(), _rng()
        _check(_lib.fkex_abe_keygen(ctypes.byref(key), self.master._handle, arr, len(attributes),
                                    ctypes.byref(rng)), "keygen")
        user = UserKey(key.value)
        if identity is not None:
            _check(_lib.fkex_ibe_keygen(user._handle, self.master._handle, identity.encode()),
                   "keygen")
        return user


def _policy(text, valid_at):
    h, perr = ctypes.c_void_p(), _PolicyError()
    raw = text.encode()
    code = _lib.fkex_policy_parse(ctypes.byref(h), raw, len(raw), ctypes.byref(perr))
    if code != 0:
        raise Error(code, f"policy: {perr.message.decode()} at column {perr.column}")
    if valid_at is not None:
        month, bounded = ctypes.c_uint32(), ctypes.c_void_p()
        try:
            _check(_lib.fkex_month_parse(ctypes.byref(month), valid_at.encode()), "valid_at")
            perr = _PolicyError()
            code = _lib.fkex_policy_valid_at(ctypes.byref(bounded), h, month.value,
                                             ctypes.byref(perr))
            if code != 0:
                raise Error(code, f"policy: {perr.message.decode() or 'with valid_at'}")
        finally:
            _lib.fkex_policy_free(h)
        h = bounded
    return h


class _Streams:
    """A source over a readable file object and a sink over a writable one;
    an exception inside a callback is kept and raised again afterwards."""

    def __init__(self, src, dst):
        self.error = None

        # Everything a callback raises, an interrupt included, is kept and
        # becomes FKEX_ERR_IO for the library, never a silent end of input.
        def read(_, buf, cap, got):
            try:
                data = src.read(cap) if src is not None else b""
                if not isinstance(data, (bytes, bytearray, memoryview)):
                    raise TypeError("the source must be a binary file (its read gave "
                                    f"{type(data).__name__})")
                data = bytes(data)
                if len(data) > cap:
                    raise ValueError(f"the source's read({cap}) gave {len(data)} bytes")
                ctypes.memmove(buf, data, len(data))
                got[0] = len(data)
                return 0
            except BaseException as e:   # noqa: BLE001 - raised again by check()
                self.error = e
                return 3                 # FKEX_ERR_IO

        def write(_, buf, n):
            try:
                written = dst.write(ctypes.string_at(buf, n))
                if written is not None and written != n:
                    raise OSError(f"the sink took {written} of {n} bytes")
                return 0
            except BaseException as e:   # noqa: BLE001
                self.error = e
                return 3

        self._read, self._write = _READ(read), _WRITE(write)
        self.source = _Source(self._read, None)
        self.sink = _Sink(self._write, None)

    def check(self, code, what, damaged_is_denied=False):
        if self.error is not None:
            raise self.error
        _check(code, what, damaged_is_denied)


def encrypt_stream(params, src, dst, policy=None, identity=None, valid_at=None, armor=False):
    """Reads src (a binary file object) to its end and writes the file that
    only keys satisfying policy (or identity's key) open, to dst."""
    if (policy is None) == (identity is None):
        raise ValueError("encrypt under a policy or to an identity: exactly one")
    if valid_at is not None and identity is not None:
        raise ValueError("valid_at is for policies: an identity's key has no expiry to check")
    params = _params_of(params)
    s, rng = _Streams(src, dst), _rng()
    if policy is not None:
        p = _policy(policy, valid_at)
        try:
            code = _lib.fkex_file_seal_policy(ctypes.byref(s.sink), ctypes.byref(s.source),
                                              params._handle, p, int(armor), ctypes.byref(rng))
        finally:
            _lib.fkex_policy_free(p)
    else:
        code = _lib.fkex_file_seal_identity(ctypes.byref(s.sink), ctypes.byref(s.source),
                                            params._handle, identity.encode(), int(armor),
                                            ctypes.byref(rng))
    s.check(code, "encrypt")


def decrypt_stream(key, src, dst):
    """Opens the encrypted file read from src with key and writes the
    plaintext to dst, each 64 KiB once it has authenticated: on an error,
    discard what dst received. Raises Denied for a key that may not open
    it or a file that was tampered with."""
    if not isinstance(key, UserKey):
        raise TypeError(f"decrypting takes a UserKey, not {type(key).__name__}")
    s, f, info = _Streams(src, dst), ctypes.c_void_p(), _FileInfo()
    code = _lib.fkex_file_open(ctypes.byref(f), ctypes.byref(s.source), ctypes.byref(info))
    # A damaged file (one that says it is a ciphertext and is not a valid
    # one) is refused as the command refuses it (exit 1).
    if s.error is None and code in _DAMAGED:
        raise Denied(code, "decrypt")
    s.check(code, "decrypt")
    try:
        s.check(_lib.fkex_file_unlock(f, key._handle), "decrypt", damaged_is_denied=True)
        s.check(_lib.fkex_file_decrypt(f, ctypes.byref(s.sink)), "decrypt",
                damaged_is_denied=True)
    finally:
        _lib.fkex_file_free(f)


def _params_of(params):
    """The public parameters an Authority, a UserKey or PublicParams stand for."""
    if isinstance(params, (Authority, UserKey)):
        return params.public
    if isinstance(params, PublicParams):
        return params
    raise TypeError(f"encrypting takes PublicParams, an Authority or a UserKey, "
                    f"not {type(params).__name__}")


def encrypt(params, data, policy=None, identity=None, valid_at=None, armor=False):
    """encrypt_stream over bytes: the encrypted file, as bytes."""
    out = io.BytesIO()
    encrypt_stream(params, io.BytesIO(data), out, policy, identity, valid_at, armor)
    return out.getvalue()


def decrypt(key, data):
    """decrypt_stream over bytes: the plaintext, once all of it authenticated."""
    out = io.BytesIO()
    decrypt_stream(key, io.BytesIO(data), out)
    return out.getvalue()


def inspect(data):
    """What an encrypted file says of itself, without a key: its policy or
    identity and its authority's fingerprint."""
    s, f = _Streams(io.BytesIO(data), None), ctypes.c_void_p()
    s.check(_lib.fkex_file_open(ctypes.byref(f), ctypes.byref(s.source), None), "inspect")
    try:
        fp = (ctypes.c_uint8 * 32)()
        _lib.fkex_file_fingerprint(fp, f)
        policy, identity = _lib.fkex_file_policy(f), _lib.fkex_file_identity(f)
        return {"policy": policy.decode() if policy else None,
                "identity": identity.decode() if identity else None,
                "authority": _fingerprint_text(fp)}
    finally:
        _lib.fkex_file_free(f)


# ---- a room member (fkex/client.h, libfkex-io) ------------------------------------

class _ClientEvent(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("epoch", ctypes.c_uint64), ("members", ctypes.c_uint32),
                ("nick", ctypes.c_char_p), ("text", ctypes.c_void_p), ("textlen", ctypes.c_size_t),
                ("code", ctypes.c_char_p), ("message", ctypes.c_char_p),
                ("sent_ms", ctypes.c_uint64), ("count", ctypes.c_uint64), ("own", ctypes.c_int),
                ("exit_code", ctypes.c_int), ("has_leaf", ctypes.c_int),
                ("leaf", ctypes.c_uint8 * 32)]


_EVENTS = {1: "joined", 2: "epoch", 3: "message", 4: "error", 5: "left", 6: "done",
           7: "added", 8: "removed", 9: "connection", 10: "policy", 11: "kicked", 12: "sent"}
_TIMEOUT = 21   # FKEX_ERR_TIMEOUT

if hasattr(_lib, "fkex_client_open"):
    _declare("fkex_client_open", _err, _pvp, ctypes.c_char_p, _vp, ctypes.c_char_p)
    _declare("fkex_client_next", _err, _vp, ctypes.POINTER(_ClientEvent), ctypes.c_uint)
    _declare("fkex_client_send", _err, _vp, ctypes.c_char_p, _sz)
    _declare("fkex_client_leave", None, _vp)
    _declare("fkex_client_verify", _err, _vp, ctypes.POINTER(ctypes.c_uint64), ctypes.c_char * 30)
    _declare("fkex_client_close", None, _vp)


class Room:
    """A member of a room over a relay: it joins by proving its attributes,
    follows every epoch, and gives its events one at a time as dicts
    ({"event": "message", "nick": ..., "text": ..., "epoch": ...}); "done"
    ends them, with "exit_code" (0, 1 refused, 2 other)."""

    def __init__(self, invite, key, nick="anonymous"):
        self._handle = None
        if not isinstance(key, UserKey):
            raise TypeError(f"a room takes a UserKey, not {type(key).__name__}")
        if not hasattr(_lib, "fkex_client_open"):
            raise Error(6, "rooms need libfkex-io.so")   # FKEX_ERR_UNSUPPORTED
        self._key = key   # the key must outlive the session
        self._handle = ctypes.c_void_p()
        _check(_lib.fkex_client_open(ctypes.byref(self._handle), invite.encode(), key._handle,
                                     nick.encode()), "room")

    def _open(self):
        if not self._handle:
            raise Error(18, "the room was closed")   # FKEX_ERR_UNEXPECTED
        return self._handle

    def next(self, timeout=30.0):
        """The next event, or None if none came within timeout seconds."""
        if timeout < 0:
            raise ValueError("a timeout is not negative")
        self._open()
        ev = _ClientEvent()
        code = _lib.fkex_client_next(self._handle, ctypes.byref(ev), int(timeout * 1000))
        if code == _TIMEOUT:
            return None
        _check(code, "room")
        out = {"event": _EVENTS.get(ev.kind, str(ev.kind)), "epoch": ev.epoch,
               "members": ev.members}
        if ev.kind in (3, 10, 11):
            out["text"] = ctypes.string_at(ev.text, ev.textlen).decode()
        if ev.kind in (3, 8):
            out["nick"] = ev.nick.decode()
        if ev.kind in (3, 11):
            out["own"] = bool(ev.own)
        if ev.kind in (4, 5, 9):
            out["code"] = ev.code.decode()
        if ev.kind == 4:
            out["message"] = ev.message.decode()
        if ev.kind == 6:
            out["exit_code"] = ev.exit_code
        if ev.kind == 12:
            out["count"] = ev.count
        if ev.has_leaf:
            out["leaf"] = bytes(ev.leaf)
        return out

    def events(self, timeout=30.0):
        """Events until "done" (included); TimeoutError if none comes
        within timeout seconds of the last."""
        while True:
            ev = self.next(timeout)
            if ev is None:
                raise TimeoutError(f"no event from the room within {timeout} s")
            yield ev
            if ev["event"] == "done":
                return

    def send(self, text):
        self._open()
        _check(_lib.fkex_client_send(self._handle, text.encode(), len(text.encode())), "send")

    def leave(self):
        """Leaves the room: "left", then "done", come as events."""
        _lib.fkex_client_leave(self._open())

    def verify(self):
        """(epoch, fingerprint): members compare the fingerprint out of band."""
        epoch, fp = ctypes.c_uint64(), (ctypes.c_char * 30)()
        _check(_lib.fkex_client_verify(self._open(), ctypes.byref(epoch), fp), "verify")
        return epoch.value, fp.value.decode()

    def close(self):
        if self._handle:
            _lib.fkex_client_close(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
