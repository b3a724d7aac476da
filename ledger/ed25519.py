"""The ledger's Ed25519 rule, and its signature checks through well-kept libraries.

Every Ed25519 check the ledger makes (statements, checkpoint signatures, cosignatures) accepts
a signature exactly when RFC 8032's check (section 5.1.7, cofactorless) passes and the ledger's
rule holds (docs/FORMAT.md §3.4):

* the public key is a canonical encoding (y < p) and not of small order, and R is not of small
  order: comparisons of bytes, made here (:func:`rule_violation`);
* S < L and the equation ``[S]B = R + [k]A``, compared on R's encoding: the library's.

Two libraries check the equation, and under the rule they accept exactly the same signatures
(the tests hold every path to one verdict on Wycheproof's and speccheck's vectors):

* OpenSSL, through ``cryptography`` (:func:`verify_openssl`), for single checks: the offline
  verifier, checkpoints and cosignatures (:func:`verify`).
* libsodium, through PyNaCl's public API (:func:`verify_sodium`), for bulk checks only: the
  append and audit workers (:func:`ledger.events.verify_signature_fast`): about twice as
  fast as OpenSSL here, and batch issuance and audits are bound by these checks
  (benchmarks/README.md, "Measurements behind the code"). It is imported only when first
  used, so a cold verify does not load it.

This module does no curve arithmetic and never handles a secret (signing is OpenSSL's).
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

P = (1 << 255) - 19
"""The field prime."""
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
    the cofactorless equation, compared on R's encoding, are checked by OpenSSL and libsodium
    alike; with this rule both accept exactly the same signatures.)
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


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``public_key``'s signature over ``message`` under the ledger's
    rule (:func:`acceptable`, then OpenSSL's check). Never raises for a bad signature."""
    if type(public_key) is not bytes or type(signature) is not bytes:  # bytearray, memoryview
        public_key, signature = bytes(public_key), bytes(signature)
    if type(message) is not bytes:
        message = bytes(message)
    return acceptable(public_key, signature) and verify_openssl(public_key, message, signature)


def verify_openssl(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032's check (S < L, the cofactorless equation) with OpenSSL (``cryptography``),
    without the ledger's rule: bare OpenSSL accepts keys and R of small order."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_sodium(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032's check with libsodium (PyNaCl's ``crypto_sign_open``), for bulk checks,
    without the ledger's rule (bare libsodium refuses keys and R of small order, and keys that
    are not canonical, itself)."""
    sign_open, crypto_error = _sodium or _load_sodium()
    # crypto_sign_open takes the signature and the message as one buffer, and does not check
    # the key's length.
    if len(signature) != 64 or len(public_key) != 32:
        return False
    try:
        sign_open(bytes(signature) + bytes(message), bytes(public_key))
    except crypto_error:
        return False
    return True


_sodium: tuple[Any, type[Exception]] | None = None
"""PyNaCl's ``crypto_sign_open`` and ``CryptoError``, once a bulk check has loaded them (a cold
verify never does)."""


def _load_sodium() -> tuple[Any, type[Exception]]:
    global _sodium
    from nacl.bindings import crypto_sign_open
    from nacl.exceptions import CryptoError

    _sodium = (crypto_sign_open, CryptoError)
    return _sodium
