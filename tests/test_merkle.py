"""Tests for ledger.merkle: RFC 9162 §2.1 known answers, tamper cases, and properties checked
against a slow recursive reference implementation kept here (RFC 9162 §2.1.1, §2.1.3.1,
§2.1.4.1 transcribed as written).

Known answers: tests/vectors/rfc6962.json (the RFC 6962 reference tree of transparency-dev/merkle
testonly/constants.go, every proof recomputed with RFC 9162 PATH and PROOF; see
tests/vectors/README.md).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import ProofError, RootMismatchError, VerificationError
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    NodeId,
    consistency_path,
    fold_range,
    inclusion_path,
    leaf_hash,
    node_hash,
    proof_hashes,
    range_nodes,
    root_from_inclusion,
    root_of,
    verify_consistency,
    verify_inclusion,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "rfc6962.json").read_text(encoding="utf-8")
)
INCLUSION: list[dict[str, Any]] = VECTORS["inclusion"]
CONSISTENCY: list[dict[str, Any]] = VECTORS["consistency"]
VECTOR_LEAVES = tuple(leaf_hash(bytes.fromhex(x)) for x in VECTORS["leaves"])

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _h(x: str) -> bytes:
    return bytes.fromhex(x)


def _hs(xs: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(x) for x in xs]


# --- the reference: RFC 9162 §2.1's recursive definitions, slow on purpose ----------------------


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _ref_k(n: int) -> int:
    """The largest power of two smaller than n (n > 1), by counting."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@functools.cache
def _ref_mth(d: tuple[bytes, ...]) -> bytes:
    """MTH(D[n]) over leaf hashes (cached, so that every size of a big tree stays affordable)."""
    if len(d) == 0:
        return _sha(b"")
    if len(d) == 1:
        return d[0]
    k = _ref_k(len(d))
    return _sha(b"\x01" + _ref_mth(d[:k]) + _ref_mth(d[k:]))


def _ref_path(m: int, d: tuple[bytes, ...]) -> list[bytes]:
    """PATH(m, D[n])."""
    n = len(d)
    if n == 1:
        return []
    k = _ref_k(n)
    if m < k:
        return _ref_path(m, d[:k]) + [_ref_mth(d[k:])]
    return _ref_path(m - k, d[k:]) + [_ref_mth(d[:k])]


def _ref_subproof(m: int, d: tuple[bytes, ...], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b)."""
    n = len(d)
    if m == n:
        return [] if b else [_ref_mth(d)]
    k = _ref_k(n)
    if m <= k:
        return _ref_subproof(m, d[:k], b) + [_ref_mth(d[k:])]
    return _ref_subproof(m - k, d[k:], False) + [_ref_mth(d[:k])]


def _ref_proof(m: int, d: tuple[bytes, ...]) -> list[bytes]:
    """PROOF(m, D[n])."""
    return _ref_subproof(m, d, True)


def _ref_root_from_path(m: int, n: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """Invert PATH(m, D[n]) by the same recursion: the root it implies, None for a wrong shape."""
    if not 0 <= m < n:
        return None
    if n == 1:
        return None if path else leaf
    if not path:
        return None
    k = _ref_k(n)
    if m < k:
        sub = _ref_root_from_path(m, k, leaf, path[:-1])
        return None if sub is None else _sha(b"\x01" + sub + path[-1])
    sub = _ref_root_from_path(m - k, n - k, leaf, path[:-1])
    return None if sub is None else _sha(b"\x01" + path[-1] + sub)


def _ref_verify_inclusion(m: int, n: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    return _ref_root_from_path(m, n, leaf, path) == root


def _ref_subproof_roots(
    m: int, n: int, proof: Sequence[bytes], b: bool, root1: bytes
) -> tuple[bytes, bytes] | None:
    """Invert SUBPROOF(m, D[n], b): (old subtree hash, new subtree hash), None for a wrong shape."""
    if m == n:
        if b:  # D[0:m] is the whole old tree: the verifier holds its hash
            return None if proof else (root1, root1)
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k = _ref_k(n)
    if m <= k:
        sub = _ref_subproof_roots(m, k, proof[:-1], b, root1)
        return None if sub is None else (sub[0], _sha(b"\x01" + sub[1] + proof[-1]))
    sub = _ref_subproof_roots(m - k, n - k, proof[:-1], False, root1)
    if sub is None:
        return None
    return _sha(b"\x01" + proof[-1] + sub[0]), _sha(b"\x01" + proof[-1] + sub[1])


def _ref_verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> bool:
    if size1 < 0 or size2 < size1:
        return False
    if size1 == 0:
        return not proof and root1 == _sha(b"") and (size2 > 0 or root2 == root1)
    return _ref_subproof_roots(size1, size2, proof, True, root1) == (root1, root2)


# --- fixtures: a big tree of distinct leaves, and its perfect-subtree hashes ----------------------

N_MAX = 520  # past 512, so that sizes cross a power of two with a ragged right border

LEAVES = tuple(leaf_hash(b"leaf %d" % i) for i in range(N_MAX))


def _perfect_nodes(leaves: Sequence[bytes]) -> dict[NodeId, bytes]:
    """Every perfect subtree's hash, from the reference MTH."""
    out: dict[NodeId, bytes] = {}
    level = 0
    while 1 << level <= len(leaves):
        for i in range(len(leaves) >> level):
            out[level, i] = _ref_mth(tuple(leaves[i << level : (i + 1) << level]))
        level += 1
    return out


NODES = _perfect_nodes(LEAVES)
VECTOR_NODES = _perfect_nodes(VECTOR_LEAVES)


def _getter(
    nodes: dict[NodeId, bytes], log: list[NodeId] | None = None
) -> Callable[[int, int], bytes]:
    def get_node(level: int, index: int) -> bytes:
        if log is not None:
            log.append((level, index))
        return nodes[level, index]

    return get_node


def _outcome(f: Callable[..., None], *args: Any) -> str:
    """ "ok", or the name of the VerificationError raised; any other exception propagates."""
    try:
        f(*args)
    except VerificationError as e:
        return type(e).__name__
    return "ok"


# --- known answers ---------------------------------------------------------------------------------


def test_hashing_known_answers() -> None:
    hashing = VECTORS["hashing"]
    assert HASH_SIZE == 32
    assert EMPTY_ROOT == _h(hashing["empty_root"]) == hashlib.sha256(b"").digest()
    assert leaf_hash(b"") == _h(hashing["leaf_hash_of_empty"])
    assert leaf_hash(b"L123456") == _h(hashing["leaf_hash_of_L123456"])
    assert node_hash(b"N123", b"N456") == _h(hashing["node_hash_of_N123_N456"])


@pytest.mark.parametrize("size", range(9))
def test_root_known_answers(size: int) -> None:
    want = _h(VECTORS["roots"][str(size)])
    assert root_of(VECTOR_LEAVES[:size]) == want
    assert _ref_mth(VECTOR_LEAVES[:size]) == want
    cr = CompactRange()
    for h in VECTOR_LEAVES[:size]:
        cr.append(h)
    assert cr.root() == cr.copy().root() == want
    assert fold_range([VECTOR_NODES[i] for i in range_nodes(0, size)] or [EMPTY_ROOT]) == want


@pytest.mark.parametrize("case", INCLUSION, ids=lambda c: f"{c['index']}-of-{c['size']}")
def test_inclusion_known_answers(case: dict[str, Any]) -> None:
    index, size, leaf, proof, root = _inclusion_args(case)
    verify_inclusion(index, size, leaf, proof, root)
    assert root_from_inclusion(index, size, leaf, proof) == root
    assert leaf == VECTOR_LEAVES[index]
    assert proof_hashes(inclusion_path(index, size), _getter(VECTOR_NODES)) == proof
    assert _ref_path(index, VECTOR_LEAVES[:size]) == proof


@pytest.mark.parametrize("case", CONSISTENCY, ids=lambda c: f"{c['size1']}-to-{c['size2']}")
def test_consistency_known_answers(case: dict[str, Any]) -> None:
    size1, size2, proof, root1, root2 = _consistency_args(case)
    verify_consistency(size1, size2, proof, root1, root2)
    assert proof_hashes(consistency_path(size1, size2), _getter(VECTOR_NODES)) == proof
    assert _ref_proof(size1, VECTOR_LEAVES[:size2]) == proof


def test_vectors_cover_every_proof_of_the_tree() -> None:
    assert {(c["index"], c["size"]) for c in INCLUSION} == {
        (i, n) for n in range(1, 9) for i in range(n)
    }
    assert {(c["size1"], c["size2"]) for c in CONSISTENCY} == {
        (m, n) for n in range(1, 9) for m in range(1, n + 1)
    }


# --- tamper cases, generated from every happy path ----------------------------------------------

InclusionArgs = tuple[int, int, bytes, list[bytes], bytes]
ConsistencyArgs = tuple[int, int, list[bytes], bytes, bytes]

TAMPER_KINDS = ("bit-flip", "index", "size", "truncate", "extend", "reorder", "garbage")


def _inclusion_args(case: dict[str, Any]) -> InclusionArgs:
    return case["index"], case["size"], _h(case["leaf_hash"]), _hs(case["proof"]), _h(case["root"])


def _consistency_args(case: dict[str, Any]) -> ConsistencyArgs:
    return case["size1"], case["size2"], _hs(case["proof"]), _h(case["root1"]), _h(case["root2"])


def _flips(h: bytes) -> Iterator[tuple[int, bytes]]:
    for bit in range(len(h) * 8):
        b = bytearray(h)
        b[bit // 8] ^= 0x80 >> (bit % 8)
        yield bit, bytes(b)


def _proof_mutations(proof: list[bytes], kind: str) -> Iterator[tuple[str, list[bytes]]]:
    """The proof-only mutations of one kind, named after transparency-dev/merkle's tamper files."""
    extra = _sha(b"not in the tree")
    if kind == "bit-flip":
        for i, p in enumerate(proof):
            for bit, flipped in _flips(p):
                yield f"modified-proof[{i}]-bit-@{bit}", proof[:i] + [flipped] + proof[i + 1 :]
    elif kind == "truncate" and proof:
        yield "truncated-proof-last", proof[:-1]
        yield "truncated-proof-first", proof[1:]
    elif kind == "extend":
        yield "extended-proof-end", proof + [extra]
        yield "extended-proof-start", [extra] + proof
        if proof:
            yield "extended-proof-repeat-last", proof + [proof[-1]]
    elif kind == "reorder":
        for i in range(len(proof) - 1):
            if proof[i] != proof[i + 1]:
                swapped = proof[:i] + [proof[i + 1], proof[i]] + proof[i + 2 :]
                yield f"reordered-proof[{i}]-[{i + 1}]", swapped
    elif kind == "garbage":
        for i, p in enumerate(proof):
            yield f"short-proof[{i}]", proof[:i] + [p[:-1]] + proof[i + 1 :]
            yield f"long-proof[{i}]", proof[:i] + [p + b"\x00"] + proof[i + 1 :]


def _inclusion_mutations(args: InclusionArgs, kind: str) -> Iterator[tuple[str, InclusionArgs]]:
    index, size, leaf, proof, root = args
    for name, p in _proof_mutations(proof, kind):
        yield name, (index, size, leaf, p, root)
    if kind == "bit-flip":
        for bit, flipped in _flips(leaf):
            yield f"modified-leaf-bit-@{bit}", (index, size, flipped, proof, root)
        for bit, flipped in _flips(root):
            yield f"modified-root-bit-@{bit}", (index, size, leaf, proof, flipped)
    elif kind == "index":
        for name, i in (("index-1", index - 1), ("index+1", index + 1), ("index^2", index ^ 2)):
            yield name, (i, size, leaf, proof, root)
    elif kind == "size":
        for name, n in (
            ("size-1", size - 1),
            ("size+1", size + 1),
            ("size*2", size * 2),
            ("size/2", size // 2),
            ("size=0", 0),
        ):
            yield name, (index, n, leaf, proof, root)
    elif kind == "garbage":
        yield "short-leaf", (index, size, leaf[:-1], proof, root)
        yield "short-root", (index, size, leaf, proof, root[:-1])
        yield "empty-root", (index, size, leaf, proof, b"")
        yield "index-negative", (-1, size, leaf, proof, root)


def _consistency_mutations(
    args: ConsistencyArgs, kind: str
) -> Iterator[tuple[str, ConsistencyArgs]]:
    size1, size2, proof, root1, root2 = args
    for name, p in _proof_mutations(proof, kind):
        yield name, (size1, size2, p, root1, root2)
    if kind == "bit-flip":
        for bit, flipped in _flips(root1):
            yield f"modified-root1-bit-@{bit}", (size1, size2, proof, flipped, root2)
        for bit, flipped in _flips(root2):
            yield f"modified-root2-bit-@{bit}", (size1, size2, proof, root1, flipped)
    elif kind == "size":
        for name, m, n in (
            ("size1-1", size1 - 1, size2),
            ("size1+1", size1 + 1, size2),
            ("size2-1", size1, size2 - 1),
            ("size2+1", size1, size2 + 1),
            ("size2*2", size1, size2 * 2),
            ("size1=0", 0, size2),
            ("swapped-sizes", size2, size1),
        ):
            if (m, n) != (size1, size2):
                yield name, (m, n, proof, root1, root2)
        if root1 != root2:
            yield "swapped-roots", (size1, size2, proof, root2, root1)
    elif kind == "garbage":
        yield "short-root1", (size1, size2, proof, root1[:-1], root2)
        yield "short-root2", (size1, size2, proof, root1, root2[:-1])
        yield "negative-sizes", (-size1, size2, proof, root1, root2)


# Mutations that a correct RFC 9162 verifier must accept, because a root commits to the leaves but
# not to the size: the proof for the mutated size has the same shape (the same hashes, hashed in
# the same order), so it computes the same root. The size is bound by the signed checkpoint. The
# reference verifier agrees on each; this list pins them so that a change shows.
# By mutation: tree size -> the leaf indexes (inclusion) or old sizes (consistency) concerned.
SHAPE_EQUIVALENT_INCLUSION: dict[str, dict[int, range]] = {
    "size-1": {4: range(2), 6: range(4), 7: range(4), 8: range(6)},
    "size+1": {3: range(2), 5: range(4), 6: range(4), 7: range(6)},
}
SHAPE_EQUIVALENT_CONSISTENCY: dict[str, dict[int, range]] = {
    "size2-1": {4: range(1, 3), 6: range(1, 5), 7: range(1, 5), 8: range(1, 7)},
    "size2+1": {3: range(1, 3), 5: range(1, 5), 6: range(1, 5), 7: range(1, 7)},
}


def _tamper_params(
    cases: list[dict[str, Any]],
    args: Callable[[dict[str, Any]], Any],
    mutations: Callable[[Any, str], Iterator[tuple[str, Any]]],
    case_id: Callable[[dict[str, Any]], str],
) -> list[Any]:
    return [
        pytest.param(case, kind, id=f"{case_id(case)}-{kind}")
        for case in cases
        for kind in TAMPER_KINDS
        if any(True for _ in mutations(args(case), kind))
    ]


def _inclusion_id(c: dict[str, Any]) -> str:
    return f"{c['index']}-of-{c['size']}"


def _consistency_id(c: dict[str, Any]) -> str:
    return f"{c['size1']}-to-{c['size2']}"


@pytest.mark.parametrize(
    ("case", "kind"),
    _tamper_params(INCLUSION, _inclusion_args, _inclusion_mutations, _inclusion_id),
)
def test_inclusion_tamper(case: dict[str, Any], kind: str) -> None:
    wrong = []
    for name, (index, size, leaf, proof, root) in _inclusion_mutations(_inclusion_args(case), kind):
        got = _outcome(verify_inclusion, index, size, leaf, proof, root)
        reference = _ref_verify_inclusion(index, size, leaf, proof, root)
        legit = case["index"] in SHAPE_EQUIVALENT_INCLUSION.get(name, {}).get(case["size"], ())
        assert reference == legit, (name, reference)
        if (got == "ok") != legit:
            wrong.append(f"{name}: {got}")
        # Out of range and wrong lengths are shape errors, never a lucky IndexError or mismatch.
        if not 0 <= index < size or len(leaf) != 32 or len(root) != 32:
            assert got == "ProofError", name
    assert not wrong


@pytest.mark.parametrize(
    ("case", "kind"),
    _tamper_params(CONSISTENCY, _consistency_args, _consistency_mutations, _consistency_id),
)
def test_consistency_tamper(case: dict[str, Any], kind: str) -> None:
    wrong = []
    for name, args in _consistency_mutations(_consistency_args(case), kind):
        size1, size2, _, root1, root2 = args
        got = _outcome(verify_consistency, *args)
        reference = _ref_verify_consistency(*args)
        table = SHAPE_EQUIVALENT_CONSISTENCY.get(name, {})
        legit = case["size1"] in table.get(case["size2"], ())
        assert reference == legit, (name, reference)
        if (got == "ok") != legit:
            wrong.append(f"{name}: {got}")
        if size1 < 0 or size2 < size1 or len(root1) != 32 or len(root2) != 32:
            assert got == "ProofError", name
    assert not wrong


def test_tamper_error_types() -> None:
    index, size, leaf, proof, root = _inclusion_args(INCLUSION[-1])  # 7 of 8
    with pytest.raises(RootMismatchError) as e:
        verify_inclusion(index, size, leaf, proof, EMPTY_ROOT)
    assert e.value.expected == EMPTY_ROOT and e.value.calculated == root
    assert "calculated" in str(e.value) and "expected" in str(e.value)
    with pytest.raises(ProofError, match="got 2 hashes, want 3"):
        verify_inclusion(index, size, leaf, proof[:2], root)
    with pytest.raises(ProofError, match="got 4 hashes, want 3"):
        verify_inclusion(index, size, leaf, proof + [root], root)
    with pytest.raises(ProofError, match="got 31 bytes, want 32"):
        verify_inclusion(index, size, leaf, [proof[0][:31]] + proof[1:], root)
    with pytest.raises(ProofError, match="leaf index 8 not in tree size 8"):
        verify_inclusion(8, size, leaf, proof, root)
    size1, size2, cproof, root1, root2 = _consistency_args(CONSISTENCY[-4])  # 5 to 8
    assert (size1, size2) == (5, 8)
    with pytest.raises(RootMismatchError, match="new root"):
        verify_consistency(size1, size2, cproof, root1, root1)
    with pytest.raises(RootMismatchError, match="old root"):
        verify_consistency(size1, size2, cproof, root2, root2)
    with pytest.raises(ProofError, match="got 3 hashes, want 4"):
        verify_consistency(size1, size2, cproof[:-1], root1, root2)
    with pytest.raises(ProofError, match="want 0 <= size1 <= size2"):
        verify_consistency(size2, size1, cproof, root2, root1)


# --- edge cases of the RFC algorithms ---------------------------------------------------------


def test_inclusion_size_one_has_an_empty_path() -> None:
    leaf = LEAVES[0]
    verify_inclusion(0, 1, leaf, [], leaf)
    assert inclusion_path(0, 1) == []
    with pytest.raises(ProofError):
        verify_inclusion(0, 1, leaf, [leaf], node_hash(leaf, leaf))
    with pytest.raises(RootMismatchError):
        verify_inclusion(0, 1, leaf, [], LEAVES[1])


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 1), (5, 3), (-1, 4), (0, -1)])
def test_inclusion_out_of_range(index: int, size: int) -> None:
    with pytest.raises(ProofError):
        inclusion_path(index, size)
    with pytest.raises(ProofError):
        verify_inclusion(index, size, LEAVES[0], [], LEAVES[0])
    with pytest.raises(ProofError):
        root_from_inclusion(index, size, LEAVES[0], [])


def test_consistency_from_the_empty_tree() -> None:
    root2 = _ref_mth(LEAVES[:5])
    verify_consistency(0, 5, [], EMPTY_ROOT, root2)
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(ProofError):
        consistency_path(0, 5)
    with pytest.raises(ProofError, match="got 1 hashes, want 0"):
        verify_consistency(0, 5, [root2], EMPTY_ROOT, root2)
    # The empty tree has one root: claiming another for size 0 is a mismatch.
    with pytest.raises(RootMismatchError):
        verify_consistency(0, 5, [], LEAVES[0], root2)
    with pytest.raises(RootMismatchError):
        verify_consistency(0, 0, [], EMPTY_ROOT, LEAVES[0])


def test_consistency_equal_sizes() -> None:
    root = _ref_mth(LEAVES[:6])
    verify_consistency(6, 6, [], root, root)
    assert consistency_path(6, 6) == []
    with pytest.raises(RootMismatchError):
        verify_consistency(6, 6, [], root, LEAVES[0])
    with pytest.raises(ProofError, match="got 1 hashes, want 0"):
        verify_consistency(6, 6, [LEAVES[0]], root, root)


@pytest.mark.parametrize(("size1", "size2"), [(0, 0), (0, 3), (4, 3), (-1, 3)])
def test_consistency_path_preconditions(size1: int, size2: int) -> None:
    with pytest.raises(ProofError):
        consistency_path(size1, size2)


def test_range_nodes_examples_and_preconditions() -> None:
    assert range_nodes(0, 0) == []
    assert range_nodes(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert range_nodes(3, 13) == [(0, 3), (2, 1), (2, 2), (0, 12)]
    assert range_nodes(8, 16) == [(3, 1)]
    for begin, end in [(-1, 3), (4, 3)]:
        with pytest.raises(ProofError):
            range_nodes(begin, end)


def test_fold_range() -> None:
    a, b, c = LEAVES[:3]
    assert fold_range([a]) == a
    assert fold_range([a, b, c]) == node_hash(a, node_hash(b, c))
    with pytest.raises(ProofError):
        fold_range([])


def test_compact_range_validation_and_copy() -> None:
    with pytest.raises(ProofError, match="got 1 hashes, want 2"):
        CompactRange(5, [LEAVES[0]])
    with pytest.raises(ProofError):
        CompactRange(1, [b"short"])
    with pytest.raises(ProofError):
        CompactRange(-1, [])
    with pytest.raises(ProofError):
        CompactRange().append(b"short")
    cr = CompactRange()
    assert cr.size == 0 and cr.hashes == [] and cr.root() == EMPTY_ROOT
    for h in LEAVES[:5]:
        cr.append(h)
    dup = cr.copy()
    assert dup == cr and dup.hashes is not cr.hashes
    dup.append(LEAVES[5])
    assert cr.size == 5 and cr.root() == _ref_mth(LEAVES[:5])
    assert dup.root() == _ref_mth(LEAVES[:6])
    restored = CompactRange(5, list(cr.hashes))
    assert restored == cr and restored.root() == cr.root()
    assert "size=5" in repr(cr)


# --- properties against the reference -----------------------------------------------------------


@PROPERTY_SETTINGS
@given(st.lists(st.binary(max_size=40), max_size=70))
def test_root_of_matches_reference_on_any_leaves(entries: list[bytes]) -> None:
    leaves = tuple(leaf_hash(e) for e in entries)
    assert root_of(leaves) == _ref_mth(leaves)


def test_every_size_root_frontier_and_visits() -> None:
    """Append N_MAX leaves one by one: root and frontier right at every size; every perfect
    subtree visited exactly once, bottom-up, with its reference hash."""
    cr = CompactRange()
    visited: list[tuple[int, int, bytes]] = []
    assert cr.root() == _ref_mth(())
    for size in range(1, N_MAX + 1):
        mark = len(visited)
        cr.append(LEAVES[size - 1], lambda level, i, h: visited.append((level, i, h)))
        new = visited[mark:]
        # The leaf, then one node per trailing 1 bit of the old size, each a level up.
        assert [(level, i) for level, i, _ in new] == [
            (level, (size - 1) >> level) for level in range(len(new))
        ]
        assert len(new) == 1 + ((size - 1) ^ size).bit_length() - 1
        assert cr.size == size
        assert cr.root() == _ref_mth(LEAVES[:size]) == root_of(LEAVES[:size])
        assert CompactRange.frontier_ids(size) == range_nodes(0, size)
        assert cr.hashes == [NODES[i] for i in CompactRange.frontier_ids(size)]
    assert len(visited) == len(NODES) == len({(level, i) for level, i, _ in visited})
    assert {(level, i): h for level, i, h in visited} == NODES


@PROPERTY_SETTINGS
@given(st.integers(0, N_MAX), st.integers(0, N_MAX))
def test_range_nodes_cover_the_range(a: int, b: int) -> None:
    begin, end = min(a, b), max(a, b)
    ids = range_nodes(begin, end)
    pos = begin
    for level, index in ids:
        assert index << level == pos  # contiguous, left to right, aligned by construction
        pos = (index + 1) << level
    assert pos == end
    # Canonical: no two neighbours could merge into one aligned perfect subtree.
    for (l1, i1), (l2, i2) in itertools.pairwise(ids):
        assert not (l1 == l2 and i1 % 2 == 0 and i2 == i1 + 1)
    assert len(ids) <= 2 * max(1, (end - begin).bit_length())
    if begin == 0 and end > 0:
        assert fold_range([NODES[i] for i in ids]) == _ref_mth(LEAVES[:end])


@st.composite
def _index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, N_MAX))
    return draw(st.integers(0, size - 1)), size


@PROPERTY_SETTINGS
@given(_index_and_size(), _index_and_size())
def test_inclusion_matches_reference(claim: tuple[int, int], other: tuple[int, int]) -> None:
    index, size = claim
    fetched: list[NodeId] = []
    proof = proof_hashes(inclusion_path(index, size), _getter(NODES, fetched))
    assert proof == _ref_path(index, LEAVES[:size])
    assert len(fetched) <= 2 * size.bit_length()  # O(log n) reads
    root = _ref_mth(LEAVES[:size])
    leaf = LEAVES[index]
    verify_inclusion(index, size, leaf, proof, root)
    assert root_from_inclusion(index, size, leaf, proof) == root

    # Another index of the same tree: never.
    index2, size2 = other
    if size2 <= size and index2 != index:
        with pytest.raises(VerificationError):
            verify_inclusion(index2, size, leaf, proof, root)
    # Another (index, size) against its own tree's root: never.
    if (index2, size2) != (index, size):
        with pytest.raises(VerificationError):
            verify_inclusion(index2, size2, leaf, proof, _ref_mth(LEAVES[:size2]))
    # Against this root, only a claim of the same shape, exactly as the reference decides.
    want = "ok" if _ref_verify_inclusion(index2, size2, leaf, proof, root) else "fail"
    got = _outcome(verify_inclusion, index2, size2, leaf, proof, root)
    assert (got == "ok") == (want == "ok")
    if got == "ok":
        assert index2 == index or size2 != size


@st.composite
def _sizes(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(st.integers(1, N_MAX))
    return draw(st.integers(1, size2)), size2


@PROPERTY_SETTINGS
@given(_sizes(), st.integers(0, N_MAX), st.integers(0, N_MAX))
def test_consistency_matches_reference(sizes: tuple[int, int], other1: int, other2: int) -> None:
    size1, size2 = sizes
    fetched: list[NodeId] = []
    proof = proof_hashes(consistency_path(size1, size2), _getter(NODES, fetched))
    assert proof == _ref_proof(size1, LEAVES[:size2])
    assert len(fetched) <= 3 * size2.bit_length()  # O(log n) reads
    root1, root2 = _ref_mth(LEAVES[:size1]), _ref_mth(LEAVES[:size2])
    verify_consistency(size1, size2, proof, root1, root2)

    # Other sizes against their own trees' roots: never (the proof is for this pair only).
    m, n = min(other1, other2), max(other1, other2)
    if (m, n) != (size1, size2) and proof:
        with pytest.raises(VerificationError):
            verify_consistency(m, n, proof, _ref_mth(LEAVES[:m]), _ref_mth(LEAVES[:n]))
    # Against these roots, exactly as the reference decides.
    for a, b in [(m, n), (size1, n), (m, size2), (n, m)]:
        want = _ref_verify_consistency(a, b, proof, root1, root2)
        assert (_outcome(verify_consistency, a, b, proof, root1, root2) == "ok") == want


_hash_like = st.one_of(st.binary(min_size=32, max_size=32), st.binary(max_size=40))


@PROPERTY_SETTINGS
@given(
    st.integers(-3, 40),
    st.integers(-3, 40),
    _hash_like,
    st.lists(_hash_like, max_size=8),
    _hash_like,
)
def test_garbage_never_escapes_the_error_tree(
    a: int, b: int, h: bytes, proof: list[bytes], root: bytes
) -> None:
    # Either a VerificationError or an acceptance the reference agrees with; nothing else.
    got = _outcome(verify_inclusion, a, b, h, proof, root)
    assert (got == "ok") == (
        len(h) == len(root) == 32
        and all(len(p) == 32 for p in proof)
        and _ref_verify_inclusion(a, b, h, proof, root)
    )
    got = _outcome(verify_consistency, a, b, proof, h, root)
    assert (got == "ok") == (
        len(h) == len(root) == 32
        and all(len(p) == 32 for p in proof)
        and _ref_verify_consistency(a, b, proof, h, root)
    )
