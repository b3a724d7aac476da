"""Merkle tree math of RFC 9162 §2.1 (SHA-256): hashing, compact ranges, proof paths, verification.

- RFC 9162 §2.1.1: the Merkle Tree Hash. A leaf hashes as ``SHA-256(0x00 || entry)``, an inner
  node as ``SHA-256(0x01 || left || right)``, the empty tree as ``SHA-256("")``; a tree of n > 1
  leaves splits at k, the largest power of two smaller than n.
- RFC 9162 §2.1.3: inclusion proofs (``PATH``), verified with the algorithm of §2.1.3.2.
- RFC 9162 §2.1.4: consistency proofs (``PROOF``), verified with the algorithm of §2.1.4.2.

The module does no I/O. Building a proof is split in two, as in transparency-dev/merkle: the math
says *which* subtrees a proof needs (:func:`inclusion_path`, :func:`consistency_path`, as
``[begin, end)`` leaf ranges, and :func:`range_nodes`, as perfect-subtree node ids), and the
caller fetches those hashes (:func:`proof_hashes` takes a getter), so storage never enters the
math. Every perfect subtree is named by a :data:`NodeId` ``(level, index)``: it covers leaves
``[index << level, (index + 1) << level)``. :class:`CompactRange` is the append-only frontier that
produces each of these hashes exactly once, as the leaves arrive.

Every failure raises :class:`~ledger.errors.ProofError` (a proof, range or size of the wrong
shape) or :class:`~ledger.errors.RootMismatchError` (a recomputed root differs).

Note that a root commits to the leaves, not to the tree size: two (index, size) claims whose
proofs have the same shape (e.g. index 0 in trees of 3 and of 4 leaves) compute the same root from
the same hashes. The size is authenticated by the signed checkpoint that carries it with the root.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from hashlib import sha256

from ledger.errors import ProofError, RootMismatchError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "NodeId",
    "consistency_path",
    "fold_proof_nodes",
    "fold_range",
    "inclusion_path",
    "leaf_hash",
    "node_hash",
    "proof_hashes",
    "proof_nodes",
    "range_nodes",
    "root_from_inclusion",
    "root_of",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Length in bytes of every hash (SHA-256)."""

EMPTY_ROOT: bytes = sha256(b"").digest()
"""The root of the empty tree, ``SHA-256("")`` (RFC 9162 §2.1.1)."""

NodeId = tuple[int, int]
"""``(level, index)``: the perfect subtree covering leaves ``[index << level, (index + 1) << level)``."""

# Bound once: these run once or more per appended event.
_sha256 = sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 || entry)``."""
    return _sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 inner node hash ``SHA-256(0x01 || left || right)``."""
    # One concatenation, not a chain of update() calls: faster for 65 bytes (benchmarks/README.md).
    return _sha256(_NODE_PREFIX + left + right).digest()


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle Tree Hash of a whole list of leaf hashes (:data:`EMPTY_ROOT` for none).

    Works level by level in O(n): hash adjacent pairs, and carry an odd last node up unchanged.
    That is the same tree as RFC 9162's split at the largest power of two below n, because that
    split keeps every left subtree perfect, so the only node without a sibling at any level is the
    last one.
    """
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    sha256 = _sha256
    prefix = _NODE_PREFIX
    while len(level) > 1:
        paired = [
            sha256(prefix + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) & 1:
            paired.append(level[-1])
        level = paired
    return level[0]


def range_nodes(begin: int, end: int) -> list[NodeId]:
    """Return the perfect subtrees that cover leaves ``[begin, end)``, left to right.

    This is the canonical decomposition: from the current position, take the largest perfect
    subtree that is aligned there and fits before ``end``, and repeat. For a subtree of the
    RFC 9162 tree it yields the subtrees its recursive split ends in, so :func:`fold_range` of
    their hashes is that subtree's hash. Requires ``0 <= begin <= end``.
    """
    if begin < 0 or end < begin:
        raise ProofError(f"leaf range [{begin}, {end}): want 0 <= begin <= end")
    ids: list[NodeId] = []
    while begin < end:
        # The largest power of two that fits: the top set bit of the remaining width.
        level = (end - begin).bit_length() - 1
        if begin:
            # begin & -begin isolates the lowest set bit of begin: the largest power of two that
            # begin is a multiple of, so the largest subtree that can start at begin.
            level = min(level, (begin & -begin).bit_length() - 1)
        ids.append((level, begin >> level))
        begin += 1 << level
    return ids


def fold_range(hashes: Sequence[bytes]) -> bytes:
    """Return the hash of a range from the hashes of its :func:`range_nodes`, left to right.

    The nodes of a range shrink from left to right, and RFC 9162 splits every subtree at its
    largest power of two, so the range's hash folds them right to left:
    ``node_hash(h0, node_hash(h1, ... node_hash(h[n-2], h[n-1])))``. A single hash is returned
    as is. Requires ``len(hashes) >= 1``.
    """
    n = len(hashes)
    if n == 0:
        raise ProofError("fold of a range: got 0 hashes, want at least 1")
    sha256 = _sha256
    prefix = _NODE_PREFIX
    acc = hashes[n - 1]
    for i in range(n - 2, -1, -1):
        acc = sha256(prefix + hashes[i] + acc).digest()
    return acc


def _split(n: int) -> int:
    """Return the largest power of two strictly smaller than ``n`` (RFC 9162's k), for n >= 2."""
    # (n - 1).bit_length() - 1 is the index of the top set bit of n - 1; for n a power of two,
    # n - 1 drops below n, which is what makes the result strictly smaller.
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_path(index: int, size: int) -> list[tuple[int, int]]:
    """Return RFC 9162 ``PATH(index, D[0:size])`` as ``[begin, end)`` leaf ranges, in proof order.

    Proof order is the order of the proof's hashes: the leaf's sibling first, the root's child
    last. At most one range is not a perfect subtree (the right border), so fetching the hashes
    through :func:`range_nodes` reads O(log size) nodes. Requires ``0 <= index < size``.
    """
    if index < 0 or index >= size:
        raise ProofError(
            f"inclusion path for leaf index {index} in tree size {size}: want 0 <= index < size"
        )
    ranges: list[tuple[int, int]] = []
    begin, end = 0, size
    # Walk down from the root, as the recursion of RFC 9162 §2.1.3.1 does, recording the sibling
    # of the half that holds the leaf; the recursion emits them bottom-up, hence the reverse.
    while end - begin > 1:
        mid = begin + _split(end - begin)
        if index < mid:
            ranges.append((mid, end))
            end = mid
        else:
            ranges.append((begin, mid))
            begin = mid
    ranges.reverse()
    return ranges


def consistency_path(size1: int, size2: int) -> list[tuple[int, int]]:
    """Return RFC 9162 ``PROOF(size1, D[0:size2])`` as ``[begin, end)`` leaf ranges, in proof order.

    Requires ``0 < size1 <= size2``; equal sizes give an empty path. RFC 9162 §2.1.4 defines no
    proof from the empty tree (every tree extends it, so there is nothing to prove), hence
    ``size1 == 0`` raises :class:`~ledger.errors.ProofError`; :func:`verify_consistency` accepts
    the empty proof for it.
    """
    if size1 <= 0 or size2 < size1:
        raise ProofError(
            f"consistency path from tree size {size1} to {size2}: want 0 < size1 <= size2"
        )
    ranges: list[tuple[int, int]] = []
    begin, end = 0, size2
    # SUBPROOF(m, D[begin:end], b) of RFC 9162 §2.1.4.1, unrolled. begin + m == size1 throughout;
    # `known` is b: the subtree is still a prefix of the old tree, whose root the verifier holds.
    m = size1
    known = True
    while m != end - begin:
        k = _split(end - begin)
        if m <= k:
            ranges.append((begin + k, end))
            end = begin + k
        else:
            ranges.append((begin, begin + k))
            begin += k
            m -= k
            known = False
    if not known:
        ranges.append((begin, end))
    ranges.reverse()
    return ranges


def proof_hashes(
    ranges: Sequence[tuple[int, int]], get_node: Callable[[int, int], bytes]
) -> list[bytes]:
    """Return the proof for ``ranges``: each range's hash, from node hashes read via ``get_node``.

    ``get_node(level, index)`` returns the hash of a perfect subtree (see :data:`NodeId`); it is
    called for each node of :func:`range_nodes` of each range, and the nodes are folded with
    :func:`fold_range`. This is how a store turns a path into a proof reading O(log n) keys.
    """
    return fold_proof_nodes(
        groups := proof_nodes(ranges), [get_node(level, i) for group in groups for level, i in group]
    )


def proof_nodes(ranges: Sequence[tuple[int, int]]) -> list[list[NodeId]]:
    """The perfect subtrees whose hashes make each range's hash (:func:`range_nodes`): one
    for every range of a path but the right edge's. :func:`fold_proof_nodes` folds them."""
    out: list[list[NodeId]] = []
    for begin, end in ranges:
        width = end - begin
        if width and width & (width - 1) == 0 and begin & (width - 1) == 0:
            level = width.bit_length() - 1  # a perfect subtree, aligned: one node
            out.append([(level, begin >> level)])
        else:
            out.append(range_nodes(begin, end))
    return out


def fold_proof_nodes(groups: Sequence[Sequence[NodeId]], hashes: Sequence[bytes]) -> list[bytes]:
    """The proof from the hashes of :func:`proof_nodes`'s groups, all in one flat list."""
    out: list[bytes] = []
    at = 0
    for group in groups:
        n = len(group)
        out.append(hashes[at] if n == 1 else fold_range(hashes[at:at + n]))
        at += n
    return out


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what}: got {len(value)} bytes, want {HASH_SIZE}")


def _inclusion_proof_size(index: int, size: int) -> int:
    # The leaf's path climbs one level per bit up to the highest bit where index and size - 1
    # differ (the "inner" part, each level with a sibling), then takes one more hash for each set
    # bit of index above that (the "border": left siblings along the tree's right edge, where the
    # levels with no right sibling are skipped).
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _consistency_proof_size(size1: int, size2: int) -> int:
    # As an inclusion proof of the old tree's last leaf, minus the levels below the largest
    # perfect subtree that ends the old tree (its hash comes whole), plus that hash itself unless
    # it is the old root, which the verifier already holds (size1 a power of two).
    inner = ((size1 - 1) ^ (size2 - 1)).bit_length()
    border = ((size1 - 1) >> inner).bit_count()
    shift = (size1 & -size1).bit_length() - 1
    seed = 0 if size1 & (size1 - 1) == 0 else 1
    return seed + inner - shift + border


def root_from_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """Return the root that an inclusion proof implies, as RFC 9162 §2.1.3.2 computes it.

    Makes every check of :func:`verify_inclusion` except the final comparison with a root, and
    raises :class:`~ledger.errors.ProofError` on a bad shape: ``index`` not in ``[0, size)``, a
    proof of the wrong length, or a hash that is not 32 bytes.
    """
    # 1. leaf_index must be < tree_size.
    if index < 0 or index >= size:
        raise ProofError(f"inclusion proof: leaf index {index} not in tree size {size}")
    _check_hash("inclusion proof leaf hash", leaf_hash)
    for i, p in enumerate(proof):
        _check_hash(f"inclusion proof hash {i}", p)
    # 2.-3. fn walks the leaf's position up the tree, sn the last leaf's; r is the running hash.
    fn = index
    sn = size - 1
    r = leaf_hash
    sha256 = _sha256
    prefix = _NODE_PREFIX
    # 4. One step per proof hash.
    for p in proof:
        # a. The path reached the root with hashes left over.
        if sn == 0:
            raise ProofError(
                f"inclusion proof for index {index} in tree size {size}: "
                f"got {len(proof)} hashes, want {_inclusion_proof_size(index, size)}"
            )
        # b. The sibling is on the left when fn is a right child (odd) or the last node of its
        # level (fn == sn); the last node then climbs, without hashing, the levels where it has
        # no sibling (until fn is odd again, or 0).
        if fn & 1 or fn == sn:
            r = sha256(prefix + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha256(prefix + r + p).digest()
        # c. One level up.
        fn >>= 1
        sn >>= 1
    # 5. The proof must end at the root: sn == 0.
    if sn != 0:
        raise ProofError(
            f"inclusion proof for index {index} in tree size {size}: "
            f"got {len(proof)} hashes, want {_inclusion_proof_size(index, size)}"
        )
    return r


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    RFC 9162 §2.1.3.2 exactly: ``index < size``, a tree of size 1 has an empty proof, and the
    walk must end at the root (``sn == 0``). Raises :class:`~ledger.errors.ProofError` on a bad
    shape (see :func:`root_from_inclusion`) and :class:`~ledger.errors.RootMismatchError` if the
    proof leads to another root.
    """
    _check_hash("inclusion proof root", root)
    calculated = root_from_inclusion(index, size, leaf_hash, proof)
    if calculated != root:
        raise RootMismatchError(
            f"inclusion proof for index {index} in tree size {size}",
            expected=root,
            calculated=calculated,
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size2`` leaves with ``root2`` extends the one of ``size1``, ``root1``.

    RFC 9162 §2.1.4.2 exactly, including the final ``sn == 0`` check. Equal sizes need an empty
    proof and equal roots. From the empty tree (``size1 == 0``, for which RFC 9162 defines no
    proof) only the empty proof is accepted, and ``root1`` must be :data:`EMPTY_ROOT`. Raises
    :class:`~ledger.errors.ProofError` on a bad shape (``size1 > size2``, a negative size, a proof
    of the wrong length, a hash that is not 32 bytes) and
    :class:`~ledger.errors.RootMismatchError` if the proof leads to other roots.
    """
    what = f"consistency proof from tree size {size1} to {size2}"
    if size1 < 0 or size2 < size1:
        raise ProofError(f"{what}: want 0 <= size1 <= size2")
    _check_hash(f"{what}: old root", root1)
    _check_hash(f"{what}: new root", root2)
    for i, c in enumerate(proof):
        _check_hash(f"{what}: hash {i}", c)
    if size1 == 0:
        if proof:
            raise ProofError(f"{what}: got {len(proof)} hashes, want 0")
        if root1 != EMPTY_ROOT:
            raise RootMismatchError(f"{what}: old root", expected=root1, calculated=EMPTY_ROOT)
        if size2 == 0 and root2 != EMPTY_ROOT:
            raise RootMismatchError(f"{what}: new root", expected=root2, calculated=EMPTY_ROOT)
        return
    if size1 == size2:
        if proof:
            raise ProofError(f"{what}: got {len(proof)} hashes, want 0")
        if root1 != root2:
            raise RootMismatchError(what, expected=root2, calculated=root1)
        return
    # 1. An empty path fails (the sizes differ here).
    if not proof:
        raise ProofError(f"{what}: got 0 hashes, want {_consistency_proof_size(size1, size2)}")
    # 2. When size1 is a power of two, the old tree is a subtree of the new one and the proof
    # leaves its hash out: the verifier starts from root1. (x & (x - 1) clears the lowest set
    # bit, so it is 0 exactly for powers of two.)
    if size1 & (size1 - 1) == 0:
        fr = sr = root1
        rest: Sequence[bytes] = proof
    else:
        # 5. Otherwise both runs start from the first hash of the path.
        fr = sr = proof[0]
        rest = proof[1:]
    # 3. fn is the old tree's last leaf, sn the new tree's.
    fn = size1 - 1
    sn = size2 - 1
    # 4. Skip the levels inside the perfect subtree that ends the old tree (trailing 1 bits of fn):
    # the path starts from that subtree's hash.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    sha256 = _sha256
    prefix = _NODE_PREFIX
    # 6. fr rebuilds the old root, sr the new one, from the same walk.
    for c in rest:
        # a. The path reached the root with hashes left over.
        if sn == 0:
            raise ProofError(
                f"{what}: got {len(proof)} hashes, want {_consistency_proof_size(size1, size2)}"
            )
        # b. A sibling on the left belongs to both trees; one on the right only to the new one.
        if fn & 1 or fn == sn:
            fr = sha256(prefix + c + fr).digest()
            sr = sha256(prefix + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = sha256(prefix + sr + c).digest()
        # c. One level up.
        fn >>= 1
        sn >>= 1
    # 7. The walk must end at the root (sn == 0), at both roots.
    if sn != 0:
        raise ProofError(
            f"{what}: got {len(proof)} hashes, want {_consistency_proof_size(size1, size2)}"
        )
    if fr != root1:
        raise RootMismatchError(f"{what}: old root", expected=root1, calculated=fr)
    if sr != root2:
        raise RootMismatchError(f"{what}: new root", expected=root2, calculated=sr)


class CompactRange:
    """The append-only frontier of ``[0, size)``: one perfect-subtree hash per set bit of size.

    ``hashes`` holds the hashes of :meth:`frontier_ids` of ``size``, leftmost (largest) first.
    For size 6 (binary 110)::

                 root
                /    \\
            [0,4)    [4,6)        hashes = [h[0,4), h[4,6)]
            /  \\     /  \\
          ...  ...  l4  l5

    Appending a leaf merges it with the trailing perfect subtrees it completes, as a binary
    counter carries: one node hash per trailing 1 bit of size.
    """

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: list[bytes] | None = None) -> None:
        """Make the frontier of ``size`` leaves from its hashes (see :meth:`frontier_ids`).

        Raises :class:`~ledger.errors.ProofError` unless ``size >= 0`` and there is one 32-byte
        hash per set bit of ``size``.
        """
        if hashes is None:
            hashes = []
        if size < 0:
            raise ProofError(f"compact range: got size {size}, want >= 0")
        if len(hashes) != size.bit_count():
            raise ProofError(
                f"compact range of size {size}: got {len(hashes)} hashes, "
                f"want {size.bit_count()} (one per set bit of the size)"
            )
        for i, h in enumerate(hashes):
            _check_hash(f"compact range hash {i}", h)
        self.size = size
        self.hashes = list(hashes)

    def __repr__(self) -> str:
        return f"CompactRange(size={self.size}, hashes=[{', '.join(h.hex() for h in self.hashes)}])"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self.size == other.size and self.hashes == other.hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    @staticmethod
    def frontier_ids(size: int) -> list[NodeId]:
        """Return the node ids whose hashes make the frontier of ``size`` (``range_nodes(0, size)``).

        One per set bit of ``size``, highest first: set bit ``level`` is the perfect subtree just
        left of the ones for the lower bits, so its index is ``(size >> level) - 1``.
        """
        if size < 0:
            raise ProofError(f"compact range: got size {size}, want >= 0")
        ids: list[NodeId] = []
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                ids.append((level, (size >> level) - 1))
        return ids

    def append(
        self, leaf_hash: bytes, visit: Callable[[int, int, bytes], None] | None = None
    ) -> None:
        """Add one leaf hash at index ``size``.

        ``visit(level, index, hash)`` (optional) is called for the leaf itself ``(0, size)`` and
        then for each perfect subtree the leaf completes, level 1, 2, ... in order, so the caller
        can store every perfect-subtree hash once, as it appears.
        """
        if len(leaf_hash) != HASH_SIZE:
            raise ProofError(f"compact range leaf hash: got {len(leaf_hash)} bytes, want 32")
        size = self.size
        hashes = self.hashes
        if visit is not None:
            visit(0, size, leaf_hash)
        h = leaf_hash
        # Each trailing 1 bit of size is a complete subtree just left of the new leaf, and the
        # frontier holds it last: merge and carry, like adding 1 to a binary counter. The node
        # made at `level` ends at leaf size + 1, and since the low `level` bits of size are all
        # 1, its index ((size + 1) >> level) - 1 equals size >> level.
        level = 0
        carry = size
        sha256 = _sha256
        prefix = _NODE_PREFIX
        while carry & 1:
            h = sha256(prefix + hashes.pop() + h).digest()
            carry >>= 1
            level += 1
            if visit is not None:
                visit(level, carry, h)
        hashes.append(h)
        self.size = size + 1

    def root(self) -> bytes:
        """Return the root of ``[0, size)``: :data:`EMPTY_ROOT` for size 0, else the fold."""
        hashes = self.hashes
        n = len(hashes)
        if n == 0:
            return EMPTY_ROOT
        sha256 = _sha256
        prefix = _NODE_PREFIX
        acc = hashes[n - 1]
        for i in range(n - 2, -1, -1):
            acc = sha256(prefix + hashes[i] + acc).digest()
        return acc

    def copy(self) -> CompactRange:
        """Return an independent copy."""
        new = CompactRange.__new__(CompactRange)
        new.size = self.size
        new.hashes = self.hashes.copy()
        return new
