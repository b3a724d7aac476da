"""SHA-256 and SHA-512 from the interpreter's own modules, not OpenSSL's.

:mod:`hashlib` loads OpenSSL's libcrypto, about 5 ms of a cold ``credledger verify`` (a tenth
of it), so the verifier's path hashes with the interpreter's own SHA-256: a few hundred hashes
a run. Bulk work (the writer, the audit replay: some 25 hashes an event) passes
:func:`bulk_sha256` instead, OpenSSL's, which uses the CPU's SHA extensions where it has them:
measured here 0.50 against 0.65-0.96 µs for a 65-byte node and 0.64 against 1.44 µs for a
300-byte entry.
"""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:  # the same interface
    from hashlib import sha256, sha512
else:
    try:  # CPython 3.12 and later
        from _sha2 import sha256, sha512
    except ImportError:
        try:  # CPython 3.11
            from _sha256 import sha256
            from _sha512 import sha512
        except ImportError:  # an interpreter without them
            from hashlib import sha256, sha512

__all__ = ["Hasher", "bulk_sha256", "sha256", "sha512"]

if TYPE_CHECKING:
    from typing import Protocol

    class _Hash(Protocol):
        def digest(self) -> bytes: ...

    Hasher = Callable[[bytes], _Hash]
else:
    Hasher = Callable
"""A SHA-256 constructor: :data:`sha256` or :func:`bulk_sha256`'s answer."""


def bulk_sha256() -> Hasher:
    """OpenSSL's SHA-256 constructor (:func:`hashlib.sha256`), for work that hashes per event.

    Identical output; imports :mod:`hashlib` (and so libcrypto) on first use.
    """
    import hashlib

    return hashlib.sha256
