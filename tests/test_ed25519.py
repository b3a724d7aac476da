"""The pure-Python Ed25519 check (ledger.ed25519) against RFC 8032's test vectors, against
OpenSSL and libsodium on good, tampered and adversarial signatures, and the choice between it
and libsodium a process makes."""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import ed25519
from ledger.ed25519 import (
    B,
    L,
    P,
    acceptable,
    decode_point,
    encode_point,
    verify_openssl,
    verify_pure,
    verify_sodium,
)

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

# A point of order 8 (in libsodium's blocklist of small-order encodings).
T8 = decode_point(bytes.fromhex(
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"))


def _mul(k: int, point: ed25519.Point = B) -> ed25519.Point:
    """[k]point by plain double-and-add (a slow reference, independent of the windowed one)."""
    out = ed25519._IDENTITY
    for bit in bin(k)[2:]:
        out = ed25519._add(out, out)
        if bit == "1":
            out = ed25519._add(out, point)
    return out


def _three(pub: bytes, msg: bytes, sig: bytes) -> tuple[bool, bool, bool]:
    """The equation checked three ways (no ledger rule): pure Python, OpenSSL, libsodium.
    libsodium is asked both ways, crypto_sign_verify_detached (through ctypes, what the
    workers use) and PyNaCl's crypto_sign_open (the fallback), which must agree."""
    sodium = verify_sodium(pub, msg, sig)
    assert ed25519._detached, "crypto_sign_verify_detached was not found"
    ed25519._detached = False
    try:
        assert verify_sodium(pub, msg, sig) == sodium, "libsodium's two entry points differ"
    finally:
        ed25519._detached = None
    return verify_pure(pub, msg, sig), verify_openssl(pub, msg, sig), sodium


def _sign(a: int, pub: bytes, msg: bytes, r: int, extra_r: ed25519.Point | None = None) -> bytes:
    """A signature by scalar ``a`` for ``pub`` with nonce ``r`` (R moved by ``extra_r``)."""
    point = _mul(r)
    if extra_r is not None:
        point = ed25519._add(point, extra_r)
    r_enc = encode_point(point)
    k = int.from_bytes(hashlib.sha512(r_enc + pub + msg).digest(), "little") % L
    return r_enc + ((r + k * a) % L).to_bytes(32, "little")


@pytest.mark.parametrize("secret, public, message, signature", RFC8032,
                         ids=["test1", "test2", "test3"])
def test_rfc8032_vectors(secret: str, public: str, message: str, signature: str) -> None:
    pub, msg, sig = bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature)
    assert _three(pub, msg, sig) == (True, True, True)
    assert ed25519.verify(pub, msg, sig)
    # The public key is [a]B for the clamped hash of the secret (RFC 8032 5.1.5): the slow
    # reference multiplication and the encoding agree with the vector.
    h = hashlib.sha512(bytes.fromhex(secret)).digest()
    a = (int.from_bytes(h[:32], "little") & ((1 << 254) - 8)) | (1 << 254)
    assert encode_point(_mul(a)) == pub
    for i in range(0, 64, 7):  # any flipped bit fails, everywhere
        bad = bytearray(sig)
        bad[i] ^= 0x10
        assert _three(pub, msg, bytes(bad)) == (False, False, False)
    assert _three(pub, msg + b"\x00", sig) == (False, False, False)


def test_base_point_and_constants() -> None:
    assert encode_point(B).hex() == (
        "5866666666666666666666666666666666666666666666666666666666666666")
    assert encode_point(_mul(L)) == encode_point(ed25519._IDENTITY)  # B has order L
    assert (P - 5) % 8 == 0 and pow(ed25519._SQRT_M1, 2, P) == P - 1
    assert ed25519._SQRT_M1 == pow(2, (P - 1) // 4, P)
    assert ed25519._D == -121665 * pow(121666, P - 2, P) % P
    assert B == decode_point((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))


def test_windowed_multiplication_matches_the_slow_reference() -> None:
    rng = [int.from_bytes(hashlib.sha256(b"k%d" % i).digest(), "little") % L for i in range(6)]
    a = _mul(rng[0])
    for s, k in itertools.pairwise(rng[1:]):
        fast = ed25519._double_scalar_mult(s, a, k)
        slow = ed25519._add(_mul(s), _mul(k, a))
        assert encode_point(fast) == encode_point(slow)
    assert encode_point(ed25519._double_scalar_mult(0, a, 0)) == encode_point(ed25519._IDENTITY)


@settings(max_examples=40, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), msg=st.binary(max_size=300),
       where=st.integers(0, 127), bit=st.integers(0, 7))
def test_all_three_agree_on_good_and_tampered_signatures(seed: bytes, msg: bytes, where: int,
                                                         bit: int) -> None:
    from nacl.signing import SigningKey

    key = SigningKey(seed)
    pub, sig = bytes(key.verify_key), key.sign(msg).signature
    assert _three(pub, msg, sig) == (True, True, True)
    sig_b, pub_b = bytearray(sig), bytearray(pub)
    if where < 64:
        sig_b[where] ^= 1 << bit
    else:
        pub_b[where % 32] ^= 1 << bit
    got = _three(bytes(pub_b), msg, bytes(sig_b))
    assert got == (False, False, False) or not acceptable(bytes(pub_b), bytes(sig_b)), got


def test_mixed_order_keys_follow_the_cofactorless_equation() -> None:
    # A = [a]B + T8 is on the curve, canonical and not of small order, so the rule lets it
    # through. A signature S = r + k*a then verifies under the cofactorless equation exactly
    # when [k]T8 is the identity, k = 0 mod 8: all three must say so (a cofactored or a batch
    # check would accept all of them).
    a = int.from_bytes(hashlib.sha256(b"mixed").digest(), "little") % L
    assert T8 is not None
    pub = encode_point(ed25519._add(_mul(a), T8))
    answers = []
    for i in range(48):
        msg = b"message %d" % i
        sig = _sign(a, pub, msg, r=1000 + i)
        k = int.from_bytes(hashlib.sha512(sig[:32] + pub + msg).digest(), "little") % L
        got = _three(pub, msg, sig)
        assert acceptable(pub, sig)
        assert got == (k % 8 == 0,) * 3, (i, got)
        answers.append(got[0])
    assert any(answers) and not all(answers)  # both outcomes were exercised


def test_mixed_order_r_is_refused_by_all() -> None:
    # R = [r]B + T8 with S = r + k*a: [S]B - [k]A = [r]B, not R. Cofactorless checks refuse it.
    from nacl.signing import SigningKey

    key = SigningKey(b"\x07" * 32)
    pub = bytes(key.verify_key)
    h = hashlib.sha512(b"\x07" * 32).digest()
    a = (int.from_bytes(h[:32], "little") & ((1 << 254) - 8)) | (1 << 254)
    sig = _sign(a, pub, b"m", r=12345, extra_r=T8)
    assert acceptable(pub, sig)
    assert _three(pub, b"m", sig) == (False, False, False)
    assert _three(pub, b"m", _sign(a, pub, b"m", r=12345)) == (True, True, True)


def test_non_canonical_s_and_points() -> None:
    from nacl.signing import SigningKey

    key = SigningKey(b"\x09" * 32)
    pub, sig = bytes(key.verify_key), key.sign(b"x").signature
    s = int.from_bytes(sig[32:], "little")
    assert _three(pub, b"x", sig[:32] + (s + L).to_bytes(32, "little")) == (False,) * 3
    # y >= p does not name a point here (libsodium and the rule refuse such keys too).
    for y in (P, P + 1, (1 << 255) - 1):
        assert decode_point(y.to_bytes(32, "little")) is None
    # x = 0 with the sign bit set: no such point.
    assert decode_point((1 | 1 << 255).to_bytes(32, "little")) is None
    # A y with no x on the curve (2 is not: u/v is not a square).
    assert decode_point((2).to_bytes(32, "little")) is None
    assert decode_point(b"\x00" * 31) is None
    assert not verify_pure(pub, b"x", sig[:63]) and not verify_pure(pub[:31], b"x", sig)


def test_every_decodable_point_reencodes_to_itself() -> None:
    hits = 0
    for y in range(200):
        for sign in (0, 1):
            enc = (y | sign << 255).to_bytes(32, "little")
            point = decode_point(enc)
            if point is not None:
                hits += 1
                assert encode_point(point) == enc
                x, yy, _, _ = point
                assert (-x * x + yy * yy - 1 - ed25519._D * x * x * yy * yy) % P == 0
    assert hits > 50


def test_the_rule_refuses_small_order_keys_and_r() -> None:
    from nacl.signing import SigningKey

    key = SigningKey(b"\x0b" * 32)
    pub, sig = bytes(key.verify_key), key.sign(b"x").signature
    assert acceptable(pub, sig) and ed25519.verify(pub, b"x", sig)
    for weak in ed25519.SMALL_ORDER:
        assert not acceptable(weak, sig) and not ed25519.verify(weak, b"x", weak + bytes(32))
        assert not acceptable(pub, weak + sig[32:])
    assert not acceptable(((1 << 255) - 1).to_bytes(32, "little"), sig)  # non-canonical key


def test_a_process_checks_its_first_signatures_in_python_then_loads_libsodium() -> None:
    code = (
        "import sys\n"
        "from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey\n"
        "key = Ed25519PrivateKey.from_private_bytes(b'\\x05' * 32)\n"
        "pub = key.public_key().public_bytes_raw(); sig = key.sign(b'm')\n"
        "from ledger import ed25519\n"
        "assert 'nacl.bindings' not in sys.modules\n"
        "seen = []\n"
        "for i in range(ed25519.PURE_CHECKS + 1):\n"
        "    assert ed25519.verify(pub, b'm', sig)\n"
        "    assert not ed25519.verify(pub, b'n', sig)\n"
        "    seen.append('nacl.bindings' in sys.modules)\n"
        "print(seen.index(True), ed25519.PURE_CHECKS // 2)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    first, expected = out.stdout.split()
    assert first == expected  # two checks per round: libsodium from check PURE_CHECKS + 1 on


def test_verify_takes_any_bytes_like_value() -> None:
    # note.Verifier.verify never raises for a bad signature; a bytearray or memoryview
    # signature is checked like bytes (review finding: a bytearray was unhashable in the rule).
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(b"\x0c" * 32)
    pub, sig = key.public_key().public_bytes_raw(), key.sign(b"m")
    for wrap in (bytes, bytearray, memoryview):
        assert ed25519.verify(wrap(pub), wrap(b"m"), wrap(sig))
        assert not ed25519.verify(wrap(pub), wrap(b"n"), wrap(sig))
