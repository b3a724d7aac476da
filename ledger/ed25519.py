"""Ed25519 signature verification in pure Python (RFC 8032, section 5.1.7), for a cold start.

A ``credledger verify`` checks three signatures. Loading either compiled Ed25519 binding
(OpenSSL's through ``cryptography``, or libsodium's through PyNaCl) takes about 25 ms here,
more than the rest of the verifier's start-up; this module checks a signature in about a
millisecond with Python's integers and needs no import beyond the interpreter's own SHA-512.
:func:`ledger.events.verify_signature` uses it for the first few checks in a process, then
the binding, so bulk work never runs here.

It accepts exactly what the bindings accept under the ledger's rule (:func:`acceptable`):
the cofactorless equation ``[S]B = R + [k]A``, checked by
comparing the encoding of ``[S]B - [k]A`` with the signature's R bytes, S below the group
order L, and A a point on the curve. The tests compare it with both bindings.

No secret is ever handled here: variable-time arithmetic is fine for checking public data.
"""

from __future__ import annotations

import sys
from hashlib import sha512 as _sha512

TYPE_CHECKING = False  # (not typing's: a cold verify does not import typing)
if TYPE_CHECKING:
    from typing import Any

P = (1 << 255) - 19
"""The field prime."""
L = (1 << 252) + 27742317777372353535851937790883648493
"""The order of the base point's group."""
SMALL_ORDER = frozenset(bytes.fromhex(h) for h in (
    "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
    "0100000000000000000000000000000000000000000000000000000000000000",  # identity
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # p - 1, order 2
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # p (= 0), order 4
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # p + 1 (= 1)
))
"""Encodings of the points of small order, sign bit clear (libsodium's blocklist)."""

# Constants as literals (RFC 8032 §5.1; the tests derive them): computing them took about
# 0.7 ms of every cold start.
_D = 37095705934669439343138083508754565189542113879843219016388785533085940283555
"""-121665 / 121666 mod p."""
_D2 = 2 * _D % P
_SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752
"""2^((p - 1) / 4) mod p, a square root of -1."""

# Points in extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, x*y = T/Z.
Point = tuple[int, int, int, int]
_IDENTITY: Point = (0, 1, 1, 0)


def _add(p: Point, q: Point) -> Point:
    """p + q (the unified addition for a = -1: any two points, doubling included)."""
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = t1 * _D2 * t2 % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return e * f % P, g * h % P, f * g % P, e * h % P


def _neg(p: Point) -> Point:
    x, y, z, t = p
    return (P - x) % P, y, z, (P - t) % P


def decode_point(encoding: bytes) -> Point | None:
    """The point a 32-byte encoding names, or None if it names none (y >= p, no square root,
    or x = 0 with the sign bit set)."""
    if len(encoding) != 32:
        return None
    n = int.from_bytes(encoding, "little")
    sign = n >> 255
    y = n & ((1 << 255) - 1)
    if y >= P:
        return None
    yy = y * y % P
    u = (yy - 1) % P
    v = (_D * yy + 1) % P
    # x = sqrt(u / v) = u v^3 (u v^7)^((p - 5) / 8), up to a factor sqrt(-1)
    v3 = v * v * v % P
    x = u * v3 * pow(u * v3 * v3 * v % P, (P - 5) // 8, P) % P
    vxx = v * x * x % P
    if vxx == u:
        pass
    elif vxx == (P - u) % P:
        x = x * _SQRT_M1 % P
    else:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return x, y, 1, x * y % P


def encode_point(p: Point) -> bytes:
    x, y, z, _ = p
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


_BX = 15112221349535400772501151409588531511454012693041857206046113283949847762202
_BY = 46316835694926478169428394003475163141307993866256225615783033603165251855960
B: Point = (_BX, _BY, 1, _BX * _BY % P)
"""The base point: y = 4/5, x positive (even)."""

_WIDTH = 5  # window of the signed digits: tables of 2^(w-2) = 8 odd multiples


def _window_table(p: Point) -> dict[int, Point]:
    """digit -> [digit]p for the odd digits of a signed window: +-1, +-3, ..., +-15."""
    twice = _add(p, p)
    out = {1: p}
    for d in range(3, 1 << (_WIDTH - 1), 2):
        out[d] = _add(out[d - 2], twice)
    for d in range(1, 1 << (_WIDTH - 1), 2):
        out[-d] = _neg(out[d])
    return out


def _naf(k: int, length: int) -> list[int]:
    """The width-w non-adjacent form of 0 <= k < 2^(length - 1), least significant digit
    first, padded with zeros to ``length`` digits."""
    out = []
    half, full = 1 << (_WIDTH - 1), 1 << _WIDTH
    while k:
        if k & 1:
            digit = k & (full - 1)
            if digit >= half:
                digit -= full
            k -= digit
        else:
            digit = 0
        out.append(digit)
        k >>= 1
    out.extend([0] * (length - len(out)))
    return out


_B_TABLE: dict[int, Point] | None = None


def _double_scalar_mult(s: int, a: Point, k: int) -> Point:
    """[s]B + [k]a for s, k < L, both scalars together (Straus), with signed windows."""
    global _B_TABLE
    if _B_TABLE is None:
        _B_TABLE = _window_table(B)
    tb, ta = _B_TABLE, _window_table(a)
    add = _add
    x, y, z, t = _IDENTITY
    p = P
    for ds, dk in zip(reversed(_naf(s, 254)), reversed(_naf(k, 254)), strict=True):
        # 2Q (dbl-2008-hwcd for a = -1), inline: three quarters of the work; T only when an
        # addition follows
        aa = x * x % p
        bb = y * y % p
        cc = 2 * z * z % p
        h = aa + bb
        e = h - (x + y) * (x + y) % p
        g = aa - bb
        f = cc + g
        x, y, z = e * f % p, g * h % p, f * g % p
        t = e * h  # reduced only when an addition reads it
        if ds:
            x, y, z, t = add((x, y, z, t % p), tb[ds])
        if dk:
            x, y, z, t = add((x, y, z, t % p), ta[dk])
    return x, y, z, t % p


def is_small_order(encoding: bytes) -> bool:
    """Whether ``encoding`` names an Ed25519 point of small order (libsodium's blocklist).

    With such a public key, a signature (R = a small-order point, S = 0) verifies for many or
    all messages under RFC 8032's cofactorless check, so nobody may register or use one. The
    sign bit (the top bit of the last byte) is ignored, as in libsodium.
    """
    if len(encoding) != 32:
        return False
    return encoding[:31] + bytes((encoding[31] & 0x7F,)) in SMALL_ORDER


def is_canonical_point(encoding: bytes) -> bool:
    """Whether a 32-byte point encoding has its y coordinate below the field prime ``p``."""
    return int.from_bytes(encoding, "little") & ((1 << 255) - 1) < P


def rule_violation(public_key: bytes, signature: bytes) -> str | None:
    """Which part of the ledger's rule beyond RFC 8032's equation fails: ``"key"`` (not a
    canonical encoding, or of small order), ``"r"`` (R of small order), or None. (S < L and
    the cofactorless equation, compared on R's encoding, are checked by OpenSSL, libsodium and
    :func:`verify_pure` alike; with this rule all three accept exactly the same signatures.)
    """
    if is_small_order(public_key) or not is_canonical_point(public_key):
        return "key"
    if is_small_order(signature[:32]):
        return "r"
    return None


def acceptable(public_key: bytes, signature: bytes) -> bool:
    """Whether the key and the signature have the right sizes and pass the ledger's rule
    (:func:`rule_violation`)."""
    return (len(public_key) == 32 and len(signature) == 64
            and rule_violation(public_key, signature) is None)


PURE_CHECKS = 16
"""How many checks a process makes in pure Python before it loads libsodium: about as long
as loading it takes."""
_pure_left = PURE_CHECKS


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``public_key``'s signature over ``message`` under the ledger's
    rule (:func:`acceptable`, then the equation). The first :data:`PURE_CHECKS` checks of a
    process that has not loaded libsodium run in pure Python; the rest with libsodium."""
    if type(public_key) is not bytes or type(signature) is not bytes:  # bytearray, memoryview
        public_key, signature = bytes(public_key), bytes(signature)
    if type(message) is not bytes:
        message = bytes(message)
    if not acceptable(public_key, signature):
        return False
    return verify_equation(public_key, message, signature)


def verify_equation(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032's check (S < L, the cofactorless equation) without the ledger's rule, in pure
    Python or with libsodium as :func:`verify` says."""
    global _pure_left
    if _pure_left > 0 and "nacl.bindings" not in sys.modules:
        _pure_left -= 1
        return verify_pure(public_key, message, signature)
    return verify_sodium(public_key, message, signature)


def verify_sodium(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032's check with libsodium (PyNaCl): about 20 times as fast as :func:`verify_pure`
    once loaded. (libsodium also refuses small-order keys and R, and non-canonical keys.)"""
    if len(signature) != 64 or len(public_key) != 32:
        return False
    detached = _detached if _detached is not None else _find_detached()
    if detached:
        if type(message) is not bytes or type(public_key) is not bytes or type(
                signature) is not bytes:
            message, public_key, signature = bytes(message), bytes(public_key), bytes(signature)
        return bool(detached(signature, message, len(message), public_key) == 0)
    from nacl.bindings import crypto_sign_open
    from nacl.exceptions import CryptoError

    try:
        crypto_sign_open(bytes(signature) + bytes(message), bytes(public_key))
    except (CryptoError, ValueError, TypeError):
        return False
    return True


_detached: Any = None
"""libsodium's ``crypto_sign_verify_detached`` through ctypes once looked up (False if the
library PyNaCl loads does not export it)."""


def _find_detached() -> Any:
    """Look up ``crypto_sign_verify_detached`` in the libsodium PyNaCl loads (built into its
    extension module, or a system library it links). PyNaCl itself offers only
    ``crypto_sign_open``, which copies the signed message into a new buffer and back out:
    about 4 µs of a 95 µs check here (median of 30 interleaved rounds). Same function
    underneath: both accept exactly the same signatures."""
    global _detached
    try:
        import ctypes

        import nacl.bindings  # noqa: F401 - runs sodium_init() before any libsodium call
        from nacl import _sodium

        fn = ctypes.CDLL(_sodium.__file__).crypto_sign_verify_detached
        fn.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_char_p)
        fn.restype = ctypes.c_int
        _detached = fn
    except (ImportError, OSError, AttributeError):
        _detached = False
    return _detached


def verify_openssl(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032's check with OpenSSL (cryptography): for the tests, which hold all three
    implementations to the same answers."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_pure(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032's check in Python's integers: S < L, A a point, and the encoding of
    ``[S]B - [k]A`` equal to R's bytes, k = SHA-512(R || A || message) mod L."""
    if len(signature) != 64 or len(public_key) != 32:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    a = decode_point(public_key)
    if a is None:
        return False
    k = int.from_bytes(_sha512(signature[:32] + public_key + message).digest(), "little") % L
    return encode_point(_double_scalar_mult(s, _neg(a), k)) == signature[:32]
