r"""The status map: a binary sparse Merkle tree over 256-bit keys, in compact form (docs/FORMAT.md §5).

Keys ``K`` and value hashes ``V`` are 32 bytes. Bit ``i`` of a key (the most significant bit of
byte 0 first) picks the side at depth ``i``: 0 is left, 1 is right. A full tree would be 256
levels deep; the compact form stops as soon as a subtree holds at most one key:

- a subtree holding no key hashes to ``EMPTY`` (32 zero bytes);
- a subtree holding exactly one key hashes to ``SHA-256(0x02 || K || V)``, whatever its depth;
- a subtree holding two or more keys hashes to ``SHA-256(0x03 || left || right)``.

Four keys ``A = 0...``, ``P = 1010...``, ``Q = 1011...`` and ``R = 100...``::

                    root                    depth 0 splits on bit 0
                  /      \
           leaf(A)        b1                depth 1 splits on bit 1
                        /    \
                      b2      EMPTY         depth 2 splits on bit 2
                    /    \
              leaf(R)     b3                depth 3 splits on bit 3
                        /    \
                  leaf(P)    leaf(Q)

``A`` is alone under ``bit 0 = 0``, so its leaf sits at depth 1. ``P`` and ``Q`` share three bits,
so they hang below a chain of branches down to bit 3, the first bit where they differ; without
``R`` that chain would have an ``EMPTY`` side at every level (``b2`` would be ``EMPTY | b3``).

A proof for key ``K`` is the terminal found on K's path (``EMPTY``, the leaf of ``K``, or the leaf
of another key sharing K's first ``depth`` bits) and the ``depth`` sibling hashes from the root
downwards. The proof for ``P`` is ``leaf(A), EMPTY, leaf(R), leaf(Q)`` with terminal ``leaf(P)``;
the proof for the absent key ``11...`` is ``leaf(A), b2`` with terminal ``EMPTY``.

Storage: a node is addressed by its hash and encoded as its hash preimage, 65 bytes: a leaf is
``0x02 || K || V``, a branch ``0x03 || left || right``. ``EMPTY`` is never stored. Nodes are
immutable, so every old root stays readable and provable. :class:`MapWriter` inserts, keeping
the nodes it creates in memory until the caller stores them; :class:`SparseMap` looks up and
proves. Both read nodes through a caller-supplied getter; this module does no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from ledger.errors import (
    EncodingError,
    NotFoundError,
    ProofError,
    RootMismatchError,
    StoreCorruptError,
)

__all__ = [
    "EMPTY",
    "KEY_SIZE",
    "MapProof",
    "MapWriter",
    "NodeGetter",
    "SparseMap",
    "branch_hash",
    "leaf_hash",
    "verify_proof",
]

EMPTY: bytes = bytes(32)
"""The hash of a subtree that holds no key, and the root of an empty map."""

KEY_SIZE = 32
"""Bytes in a map key, in a value hash and in a node hash."""

MAX_DEPTH = 8 * KEY_SIZE
"""A terminal sits at depth at most 256: a branch at depth ``i`` splits on bit ``i`` < 256."""

NODE_SIZE = 1 + 2 * KEY_SIZE
"""Bytes in a stored node encoding (tag, then two 32-byte fields)."""

_LEAF = b"\x02"
_BRANCH = b"\x03"
_LEAF_TAG = 2
_BRANCH_TAG = 3
_TAGS = frozenset((_LEAF_TAG, _BRANCH_TAG))

NodeGetter = Callable[[bytes], bytes | None]
"""Reads a stored node: node hash -> its 65-byte encoding, or None if the store lacks it."""

_sha256 = sha256


def _check_size(value: bytes, what: str) -> None:
    """Raise EncodingError unless ``value`` is a 32-byte ``bytes``."""
    if not isinstance(value, bytes) or len(value) != KEY_SIZE:
        raise EncodingError(f"{what} must be {KEY_SIZE} bytes, got {_describe(value)}")


def _describe(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return f"{len(value)} bytes"
    return type(value).__name__


def leaf_hash(key: bytes, value_hash: bytes) -> bytes:
    """Hash of a subtree that holds exactly ``key`` with ``value_hash``: SHA-256(0x02 || K || V)."""
    _check_size(key, "map key")
    _check_size(value_hash, "value hash")
    return _sha256(_LEAF + key + value_hash).digest()


def branch_hash(left: bytes, right: bytes) -> bytes:
    """Hash of a subtree that holds two or more keys: SHA-256(0x03 || left || right)."""
    _check_size(left, "left hash")
    _check_size(right, "right hash")
    return _sha256(_BRANCH + left + right).digest()


class SparseMap:
    """A read-only view of the map at ``root``: lookups and proofs, reading nodes through ``get``.

    ``get`` must return the encoding stored under a node hash (the store is content-addressed and
    trusted: node hashes are not recomputed on read). A missing root node raises NotFoundError; a
    missing or malformed node below the root raises StoreCorruptError. Inserting is
    :class:`MapWriter`'s.
    """

    __slots__ = ("_get", "_root")

    def __init__(self, get: NodeGetter, root: bytes = EMPTY) -> None:
        _check_size(root, "map root")
        self._get = get
        self._root = root

    @property
    def root(self) -> bytes:
        """The root hash of this view (EMPTY for an empty map)."""
        return self._root

    def lookup(self, key: bytes) -> bytes | None:
        """Return the value hash stored for ``key``, or None if the map does not hold it."""
        _check_size(key, "map key")
        _, _, leaf = self._descend(key, self._root)
        if leaf is not None and leaf[1:33] == key:
            return leaf[33:]
        return None

    def prove(self, key: bytes, root: bytes | None = None) -> MapProof:
        """Return the proof for ``key`` against ``root`` (default: this view's root).

        Any root whose nodes ``get`` can read works, so old map versions stay provable. Reads
        O(depth) nodes.
        """
        _check_size(key, "map key")
        if root is None:
            root = self._root
        else:
            _check_size(root, "map root")
        siblings, _, leaf = self._descend(key, root)
        if leaf is None:
            return MapProof(key=key, leaf_key=None, leaf_value=None, siblings=tuple(siblings))
        return MapProof(
            key=key, leaf_key=leaf[1:33], leaf_value=leaf[33:], siblings=tuple(siblings)
        )

    def _descend(self, key: bytes, root: bytes) -> tuple[list[bytes], bytes, bytes | None]:
        """Walk key's path from ``root``; return the siblings from the root down, the terminal's
        hash, and the terminal leaf's encoding (None for an EMPTY terminal)."""
        k = int.from_bytes(key, "big")
        get = self._get
        siblings: list[bytes] = []
        node = root
        depth = 0
        while node != EMPTY:
            encoding = get(node)
            if encoding is None or len(encoding) != NODE_SIZE or encoding[0] not in _TAGS:
                raise _bad_node(node, depth, encoding)
            if encoding[0] == _LEAF_TAG:
                return siblings, node, encoding
            if depth == MAX_DEPTH:
                raise StoreCorruptError(
                    f"map branch {node.hex()} at depth {depth}: a branch must be above depth"
                    f" {MAX_DEPTH}"
                )
            if (k >> (MAX_DEPTH - 1 - depth)) & 1:
                siblings.append(encoding[1:33])
                node = encoding[33:]
            else:
                siblings.append(encoding[33:])
                node = encoding[1:33]
            depth += 1
        return siblings, EMPTY, None


class MapWriter:
    """The one way to insert: the map as a run of :meth:`set` calls sees it, a mutable tree in
    memory over the store.

    For the append path and the audit replay, where every entry needs the root after its own
    change (tests/test_smt.py checks its roots and new nodes against a slow reference). Nodes
    are read from the store once, on first visit, and kept as Python lists linked to their
    children, so a walk is list indexing rather than a content-addressed lookup and slicing per
    level; a node rehashed many times in a batch is encoded for the store once, by
    :meth:`new_nodes`.

    A branch is ``[hash, left_hash, right_hash, left_node, right_node, changed]`` (a child
    node is None until visited, and for an EMPTY side); a leaf is the tuple
    ``(hash, key, value_hash, changed)``. ``get`` is trusted as :class:`SparseMap`'s is; a
    missing root node raises NotFoundError, a missing or malformed node below it, or a leaf off
    its key's path, StoreCorruptError. Not thread-safe.
    """

    __slots__ = ("_get", "_hash", "_node")

    def __init__(self, get: NodeGetter, root: bytes = EMPTY) -> None:
        _check_size(root, "map root")
        self._get = get
        self._hash = root
        self._node: Any = None  # the root node: a branch list, a leaf tuple, or None

    @property
    def root(self) -> bytes:
        """The current root hash (EMPTY for an empty map)."""
        return self._hash

    def _load(self, h: bytes, depth: int) -> Any:
        encoding = self._get(h)
        if encoding is None or len(encoding) != NODE_SIZE or encoding[0] not in _TAGS:
            raise _bad_node(h, depth, encoding)
        if encoding[0] == _LEAF_TAG:
            return (h, encoding[1:33], encoding[33:], False)
        if depth >= MAX_DEPTH:
            raise StoreCorruptError(
                f"map branch {h.hex()} at depth {depth}: a branch must be above depth {MAX_DEPTH}"
            )
        return [h, encoding[1:33], encoding[33:], None, None, False]

    def set(self, key: bytes, value_hash: bytes) -> bytes:
        """Insert ``key`` or replace its value hash, and return the new root (O(depth))."""
        if type(key) is not bytes or len(key) != KEY_SIZE:
            _check_size(key, "map key")
        if type(value_hash) is not bytes or len(value_hash) != KEY_SIZE:
            _check_size(value_hash, "value hash")
        k = int.from_bytes(key, "big")
        node: Any = self._node
        if node is None and self._hash != EMPTY:
            node = self._node = self._load(self._hash, 0)
        path: list[list[Any]] = []
        slots: list[int] = []  # per branch on the path: where the hash of our side is (1 or 2)
        shift = MAX_DEPTH - 1  # bit (MAX_DEPTH - 1 - shift) of the key picks the side
        h: bytes
        # Down: branches are lists, the terminal is a leaf tuple or None (EMPTY).
        while type(node) is list:
            slot = 1 + ((k >> shift) & 1)
            shift -= 1
            path.append(node)
            slots.append(slot)
            child = node[slot + 2]
            if child is None:
                h = node[slot]
                if h != EMPTY:
                    child = node[slot + 2] = self._load(h, MAX_DEPTH - 1 - shift)
            node = child
        depth = MAX_DEPTH - 1 - shift
        sha256 = _sha256
        encoding = _LEAF + key + value_hash
        leaf = (sha256(encoding).digest(), key, value_hash, True)
        new: Any = leaf
        if node is not None:
            old_key = node[1]
            if old_key == key:
                if node[2] == value_hash:
                    return self._hash
            else:
                # Split: the old leaf and the new one part at the first bit where their keys
                # differ, below a chain of branches with an EMPTY side for every bit they share
                # below ``depth``.
                first_diff = MAX_DEPTH - (k ^ int.from_bytes(old_key, "big")).bit_length()
                if first_diff < depth:
                    raise StoreCorruptError(
                        f"map leaf for key {old_key.hex()} at depth {depth} is off the path of"
                        f" key {key.hex()}: they share only {first_diff} bits"
                    )
                b: list[Any]
                if (k >> (MAX_DEPTH - 1 - first_diff)) & 1:
                    b = [None, node[0], leaf[0], node, leaf, True]
                else:
                    b = [None, leaf[0], node[0], leaf, node, True]
                b[0] = sha256(_BRANCH + b[1] + b[2]).digest()
                for d in range(first_diff - 1, depth - 1, -1):
                    if (k >> (MAX_DEPTH - 1 - d)) & 1:
                        b = [None, EMPTY, b[0], None, b, True]
                    else:
                        b = [None, b[0], EMPTY, b, None, True]
                    b[0] = sha256(_BRANCH + b[1] + b[2]).digest()
                new = b
        # Up: rehash the path, deepest branch first.
        h = new[0]
        if path:
            path[-1][slots[-1] + 2] = new
            branch = _BRANCH
            for b, slot in zip(reversed(path), reversed(slots)):
                b[slot] = h
                h = b[0] = sha256(branch + b[1] + b[2]).digest()
                b[5] = True
        else:
            self._node = new
        self._hash = h
        return h

    def new_nodes(self) -> dict[bytes, bytes]:
        """The nodes created since the start (or :meth:`clear_new`) that the current root
        reaches, node hash -> encoding: what the store must add, every node after its
        children (the order the store adds them in)."""
        out: list[tuple[bytes, bytes]] = []
        stack: list[Any] = [self._node]
        while stack:
            node = stack.pop()
            if node is None or not node[-1]:
                continue  # EMPTY, not visited, or unchanged (so is everything below it)
            if type(node) is tuple:
                out.append((node[0], _LEAF + node[1] + node[2]))
            else:
                out.append((node[0], _BRANCH + node[1] + node[2]))
                stack.append(node[3])
                stack.append(node[4])
        # Walked parents first: reversed, every node comes after all the nodes below it.
        out.reverse()
        return dict(out)

    def clear_new(self) -> None:
        """Forget the created nodes (the store has committed them): drop the tree from memory."""
        self._node = None


def _bad_node(node: bytes, depth: int, encoding: bytes | None) -> Exception:
    """The error for a node the store lacks (NotFoundError at the root) or holds malformed."""
    if encoding is None:
        if depth == 0:
            return NotFoundError(f"map root {node.hex()} is not in the store")
        return StoreCorruptError(f"map node {node.hex()} at depth {depth} is missing")
    return StoreCorruptError(
        f"map node {node.hex()} at depth {depth}: want {NODE_SIZE} bytes starting 0x02 or 0x03,"
        f" got {len(encoding)} bytes starting {encoding[:1].hex() or 'nothing'}"
    )


@dataclass(frozen=True, slots=True)
class MapProof:
    """A proof of what the map holds for ``key``, or that it holds nothing.

    ``leaf_key``/``leaf_value`` are the terminal leaf found on key's path (both None when the
    terminal is EMPTY); ``siblings`` are the sibling hashes from the root downwards, one per
    level above the terminal. The shape (sizes, pairing, at most 256 siblings) is checked on
    construction and raises ProofError; a list of siblings is turned into a tuple.
    """

    key: bytes
    leaf_key: bytes | None
    leaf_value: bytes | None
    siblings: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.siblings, tuple):
            object.__setattr__(self, "siblings", tuple(self.siblings))
        _check_shape(self)

    def value(self) -> bytes | None:
        """The value hash this proof shows for ``key``, or None for absence."""
        if self.leaf_key == self.key:
            return self.leaf_value
        return None


def _check_proof_size(value: object, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != KEY_SIZE:
        raise ProofError(f"map proof {what} must be {KEY_SIZE} bytes, got {_describe(value)}")


def _check_shape(proof: MapProof) -> None:
    """Raise ProofError unless every field has the size and type a map proof requires."""
    _check_proof_size(proof.key, "key")
    if (proof.leaf_key is None) != (proof.leaf_value is None):
        raise ProofError(
            "map proof leaf_key and leaf_value must both be given or both be None, got"
            f" leaf_key {'None' if proof.leaf_key is None else 'set'}, leaf_value"
            f" {'None' if proof.leaf_value is None else 'set'}"
        )
    if proof.leaf_key is not None:
        _check_proof_size(proof.leaf_key, "leaf_key")
        _check_proof_size(proof.leaf_value, "leaf_value")
    if not isinstance(proof.siblings, tuple):
        raise ProofError(f"map proof siblings must be a tuple, got {_describe(proof.siblings)}")
    if len(proof.siblings) > MAX_DEPTH:
        raise ProofError(f"map proof has {len(proof.siblings)} siblings, want at most {MAX_DEPTH}")
    for i, sibling in enumerate(proof.siblings):
        _check_proof_size(sibling, f"sibling {i}")


def verify_proof(root: bytes, proof: MapProof) -> bytes | None:
    """Check ``proof`` against the map ``root``; return the proven value hash, or None for absence.

    Raises RootMismatchError if the recomputed root differs, and ProofError for a malformed
    proof or a shape the compact tree never produces. With ``d = len(proof.siblings)``:

    1. sizes: root, key, leaf_key, leaf_value and siblings are 32 bytes; leaf_key and leaf_value
       come together; ``d <= 256``.
    2. a terminal at depth ``d > 0`` has a non-EMPTY deepest sibling: otherwise its parent would
       hold one key (leaf terminal) or none (EMPTY terminal) and would not be a branch.
    3. an EMPTY terminal is not at depth 256: its parent, at depth 255, would hold at most the
       one key of its other child.
    4. an absence leaf (leaf_key != key) shares key's first ``d`` bits: it must lie on key's path.
       (So an absence leaf is never at depth 256.)

    What the proof cannot show is not checked: whether a sibling is a leaf or a branch (the
    sibling of an EMPTY terminal must be a branch, a sibling at depth 256 must not be). That
    never changes the answer: SHA-256 fixes the nodes on key's path under ``root``, so at most one
    proof per (root, key) verifies. That the whole tree is canonical is the auditor's check, by
    replaying the log and recomputing every ``state_root``.
    """
    # 1. Shape.
    _check_proof_size(root, "root")
    _check_shape(proof)
    key, siblings = proof.key, proof.siblings
    depth = len(siblings)
    k = int.from_bytes(key, "big")

    # 2-4. Canonical form of the terminal and its parent.
    if depth > 0 and siblings[-1] == EMPTY:
        kind = "empty" if proof.leaf_key is None else "leaf"
        raise ProofError(
            f"map proof {kind} terminal at depth {depth} has an EMPTY sibling: its parent would"
            f" hold {'no key' if proof.leaf_key is None else 'one key'} and not be a branch"
        )
    if proof.leaf_key is None or proof.leaf_value is None:
        if depth == MAX_DEPTH:
            raise ProofError(
                f"map proof empty terminal at depth {MAX_DEPTH}: its parent would hold at most"
                " one key and not be a branch"
            )
        node = EMPTY
    else:
        shared = MAX_DEPTH - (k ^ int.from_bytes(proof.leaf_key, "big")).bit_length()
        if shared < depth:
            raise ProofError(
                f"map proof absence leaf {proof.leaf_key.hex()} at depth {depth} shares only"
                f" {shared} leading bits with key {key.hex()}, want at least {depth}"
            )
        node = _sha256(_LEAF + proof.leaf_key + proof.leaf_value).digest()

    # 5. Recompute the root from the terminal up; bit i of the key picks the side at depth i.
    for i in range(depth - 1, -1, -1):
        if (k >> (MAX_DEPTH - 1 - i)) & 1:
            node = _sha256(_BRANCH + siblings[i] + node).digest()
        else:
            node = _sha256(_BRANCH + node + siblings[i]).digest()
    if node != root:
        raise RootMismatchError(f"map proof for key {key.hex()}", expected=root, calculated=node)
    return proof.value()
