"""SHA-256 and SHA-512 from the interpreter's own modules, not OpenSSL's.

:mod:`hashlib` loads OpenSSL's libcrypto, about 5 ms of a cold ``credledger verify`` (a tenth
of it). The interpreter's own SHA-256 hashes the 65-byte tree and map nodes, the ledger's
commonest input, as fast as OpenSSL (about 0.9 µs each, measured here); it is slower only on
long inputs (1.9 µs against 1.0 µs for 300 bytes, an entry's leaf hash), which costs the
writer about 1 µs per event.
"""

from __future__ import annotations

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

__all__ = ["sha256", "sha512"]
