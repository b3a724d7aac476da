"""The ledger's Ed25519 rule (ledger.ed25519) and its two bindings: RFC 8032's test vectors,
OpenSSL and libsodium agreeing under the rule on good, tampered and adversarial signatures, and
which binding a process loads for which check. (tests/test_ed25519_vectors.py runs Wycheproof's
and speccheck's vectors through every signature path.)

The adversarial signatures (mixed-order keys and R) are built with a slow reference of the
curve kept here, in the tests only: the ledger itself does no curve arithmetic.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import ed25519
from ledger.ed25519 import acceptable, verify_openssl, verify_sodium

ROOT = Path(__file__).resolve().parent.parent

# RFC 8032, section 7.1, TEST 1, 2 and 3: (secret key, public key, message, signature).
RFC8032 = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
     "",
     ("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf"
      "9b46bd25bf5f0595bbe24655141438e7a100b")),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
     "72",
     ("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f"
      "11d8c387b2eaeb4302aeeb00d291612bb0c00")),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
     "af82",
     ("6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984"
      "dc6594a7c15e9716ed28dc027beceea1ec40a")),
]

# ----------------------------------------------------------------------------- slow reference
#
# Edwards25519 in affine coordinates with Python's integers (RFC 8032 §5.1), only to build
# test signatures: slow, variable-time, and never used to check one.

P = (1 << 255) - 19
L = (1 << 252) + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
Point = tuple[int, int]
IDENTITY: Point = (0, 1)


def _add(p: Point, q: Point) -> Point:
    (x1, y1), (x2, y2) = p, q
    t = D * x1 * x2 * y1 * y2 % P
    x = (x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P) % P
    y = (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P
    return x, y


def _mul(k: int, point: Point) -> Point:
    """[k]point by double-and-add."""
    out = IDENTITY
    for bit in bin(k)[2:]:
        out = _add(out, out)
        if bit == "1":
            out = _add(out, point)
    return out


def _decode(encoding: bytes) -> Point | None:
    """The point a canonical encoding names, or None."""
    n = int.from_bytes(encoding, "little")
    y, sign = n & ((1 << 255) - 1), n >> 255
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, P - 2, P) % P  # x^2
    x = pow(x, (P + 3) // 8, P) if x else 0
    if (v * x * x - u) % P:
        x = x * SQRT_M1 % P
    if (v * x * x - u) % P or (x == 0 and sign):
        return None
    return (P - x if x & 1 != sign else x), y


def _encode(p: Point) -> bytes:
    x, y = p
    return (y | (x & 1) << 255).to_bytes(32, "little")


B = _decode((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))
assert B is not None
T8 = _decode(bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"))
"""A point of order 8 (in libsodium's blocklist of small-order encodings)."""
assert T8 is not None


def _secret_scalar(seed: bytes) -> int:
    h = hashlib.sha512(seed).digest()
    return (int.from_bytes(h[:32], "little") & ((1 << 254) - 8)) | (1 << 254)


def _sign(a: int, pub: bytes, msg: bytes, r: int, extra_r: Point | None = None) -> bytes:
    """A signature by scalar ``a`` for ``pub`` with nonce ``r`` (R moved by ``extra_r``)."""
    point = _mul(r, B)
    if extra_r is not None:
        point = _add(point, extra_r)
    r_enc = _encode(point)
    k = int.from_bytes(hashlib.sha512(r_enc + pub + msg).digest(), "little") % L
    return r_enc + ((r + k * a) % L).to_bytes(32, "little")


def test_the_reference() -> None:
    assert _encode(B).hex() == "58" + "66" * 31
    assert _mul(L, B) == IDENTITY and _mul(8, T8) == IDENTITY and _mul(4, T8) != IDENTITY
    for pub in (bytes.fromhex(v[1]) for v in RFC8032):
        point = _decode(pub)
        assert point is not None and _encode(point) == pub
    assert P - 5 == 8 * ((P - 5) // 8) and SQRT_M1 * SQRT_M1 % P == P - 1


# ----------------------------------------------------------------------------- the two bindings


def _two(pub: bytes, msg: bytes, sig: bytes) -> tuple[bool, bool]:
    """RFC 8032's check (no ledger rule) by OpenSSL and by libsodium."""
    return verify_openssl(pub, msg, sig), verify_sodium(pub, msg, sig)


@pytest.mark.parametrize("secret, public, message, signature", RFC8032,
                         ids=["test1", "test2", "test3"])
def test_rfc8032_vectors(secret: str, public: str, message: str, signature: str) -> None:
    pub, msg, sig = bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature)
    assert _two(pub, msg, sig) == (True, True)
    assert ed25519.verify(pub, msg, sig)
    # The public key is [a]B for the clamped hash of the secret (RFC 8032 5.1.5), and the
    # reference signs as the vector does.
    a = _secret_scalar(bytes.fromhex(secret))
    assert _encode(_mul(a, B)) == pub
    for i in range(0, 64, 7):  # any flipped bit fails, everywhere
        bad = bytearray(sig)
        bad[i] ^= 0x10
        assert _two(pub, msg, bytes(bad)) == (False, False)
        assert not ed25519.verify(pub, msg, bytes(bad))
    assert _two(pub, msg + b"\x00", sig) == (False, False)


@settings(max_examples=40, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), msg=st.binary(max_size=300),
       where=st.integers(0, 127), bit=st.integers(0, 7))
def test_both_agree_on_good_and_tampered_signatures(seed: bytes, msg: bytes, where: int,
                                                    bit: int) -> None:
    from nacl.signing import SigningKey

    key = SigningKey(seed)
    pub, sig = bytes(key.verify_key), key.sign(msg).signature
    assert _two(pub, msg, sig) == (True, True)
    sig_b, pub_b = bytearray(sig), bytearray(pub)
    if where < 64:
        sig_b[where] ^= 1 << bit
    else:
        pub_b[where % 32] ^= 1 << bit
    got = _two(bytes(pub_b), msg, bytes(sig_b))
    assert got == (False, False) or not acceptable(bytes(pub_b), bytes(sig_b)), got


def test_mixed_order_keys_follow_the_cofactorless_equation() -> None:
    # A = [a]B + T8 is on the curve, canonical and not of small order, so the rule lets it
    # through. A signature S = r + k*a then verifies under the cofactorless equation exactly
    # when [k]T8 is the identity, k = 0 mod 8: both must say so (a cofactored or a batch
    # check would accept all of them).
    a = int.from_bytes(hashlib.sha256(b"mixed").digest(), "little") % L
    pub = _encode(_add(_mul(a, B), T8))
    answers = []
    for i in range(48):
        msg = b"message %d" % i
        sig = _sign(a, pub, msg, r=1000 + i)
        k = int.from_bytes(hashlib.sha512(sig[:32] + pub + msg).digest(), "little") % L
        got = _two(pub, msg, sig)
        assert acceptable(pub, sig)
        assert got == (k % 8 == 0,) * 2, (i, got)
        assert ed25519.verify(pub, msg, sig) == (k % 8 == 0)
        answers.append(got[0])
    assert any(answers) and not all(answers)  # both outcomes were exercised


def test_mixed_order_r_is_refused_by_both() -> None:
    # R = [r]B + T8 with S = r + k*a: [S]B - [k]A = [r]B, not R. Cofactorless checks refuse it.
    seed = b"\x07" * 32
    a = _secret_scalar(seed)
    pub = _encode(_mul(a, B))
    sig = _sign(a, pub, b"m", r=12345, extra_r=T8)
    assert acceptable(pub, sig)
    assert _two(pub, b"m", sig) == (False, False)
    good = _sign(a, pub, b"m", r=12345)
    assert _two(pub, b"m", good) == (True, True)
    from nacl.signing import SigningKey

    assert bytes(SigningKey(seed).verify_key) == pub  # the reference's key is the library's


def test_non_canonical_s_keys_and_wrong_sizes() -> None:
    from nacl.signing import SigningKey

    key = SigningKey(b"\x09" * 32)
    pub, sig = bytes(key.verify_key), key.sign(b"x").signature
    s = int.from_bytes(sig[32:], "little")
    assert _two(pub, b"x", sig[:32] + (s + L).to_bytes(32, "little")) == (False, False)
    # y >= p is not a canonical key (the rule refuses it; so does bare libsodium).
    for y in (P, P + 1, P + 2, (1 << 255) - 1):
        enc = y.to_bytes(32, "little")
        assert not acceptable(enc, sig) and not ed25519.verify(enc, b"x", sig)
        assert not verify_sodium(enc, b"x", sig)
    # A y with no x on the curve (2: u/v is not a square) is no key at all.
    assert _decode((2).to_bytes(32, "little")) is None
    assert _two((2).to_bytes(32, "little"), b"x", sig) == (False, False)
    for bad_sig in (sig[:63], sig + b"\x00", b""):
        assert _two(pub, b"x", bad_sig) == (False, False)
        assert not ed25519.verify(pub, b"x", bad_sig)
    for bad_pub in (pub[:31], pub + b"\x00", b""):
        assert _two(bad_pub, b"x", sig) == (False, False)
        assert not ed25519.verify(bad_pub, b"x", sig)


def test_the_rule_refuses_small_order_keys_and_r() -> None:
    from nacl.signing import SigningKey

    key = SigningKey(b"\x0b" * 32)
    pub, sig = bytes(key.verify_key), key.sign(b"x").signature
    assert acceptable(pub, sig) and ed25519.verify(pub, b"x", sig)
    for weak in ed25519.SMALL_ORDER:
        assert not acceptable(weak, sig) and not ed25519.verify(weak, b"x", weak + bytes(32))
        assert not acceptable(pub, weak + sig[32:])
        signed = bytearray(weak)
        signed[31] |= 0x80  # the sign bit is ignored
        assert ed25519.is_small_order(bytes(signed))
        assert not acceptable(bytes(signed), sig) and not acceptable(pub, bytes(signed) + sig[32:])
    assert not acceptable(((1 << 255) - 1).to_bytes(32, "little"), sig)  # non-canonical key
    # The rule's own refusals: R = the identity with S = k*a is accepted by bare OpenSSL.
    a = _secret_scalar(b"\x0b" * 32)
    r_enc = _encode(IDENTITY)
    k = int.from_bytes(hashlib.sha512(r_enc + pub + b"x").digest(), "little") % L
    identity_r = r_enc + (k * a % L).to_bytes(32, "little")
    assert _two(pub, b"x", identity_r) == (True, False)
    assert ed25519.rule_violation(pub, identity_r) == "r"
    assert not ed25519.verify(pub, b"x", identity_r)


def test_single_checks_use_openssl_and_bulk_checks_libsodium() -> None:
    # A cold verify loads OpenSSL's binding and not PyNaCl; the bulk path loads PyNaCl. No path
    # reaches into a library through ctypes.
    code = (
        "import sys\n"
        "from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey\n"
        "key = Ed25519PrivateKey.from_private_bytes(b'\\x05' * 32)\n"
        "pub = key.public_key().public_bytes_raw(); sig = key.sign(b'm')\n"
        "from ledger import ed25519, events\n"
        "assert ed25519.verify(pub, b'm', sig) and not ed25519.verify(pub, b'n', sig)\n"
        "events.verify_signature(pub, b'm', sig)\n"
        "print('nacl' in sys.modules, 'ctypes' in sys.modules)\n"
        "events.verify_signature_fast(pub, b'm', sig)\n"
        "print('nacl.bindings' in sys.modules, 'ctypes' in sys.modules)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.split() == ["False", "False", "True", "False"]


def test_verify_takes_any_bytes_like_value() -> None:
    # note.Verifier.verify never raises for a bad signature; a bytearray or memoryview
    # signature is checked like bytes (review finding: a bytearray was unhashable in the rule).
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(b"\x0c" * 32)
    pub, sig = key.public_key().public_bytes_raw(), key.sign(b"m")
    for wrap in (bytes, bytearray, memoryview):
        assert ed25519.verify(wrap(pub), wrap(b"m"), wrap(sig))
        assert not ed25519.verify(wrap(pub), wrap(b"n"), wrap(sig))
        assert verify_sodium(wrap(pub), wrap(b"m"), wrap(sig))
        assert not verify_sodium(wrap(pub), wrap(b"n"), wrap(sig))
