"""Tests for ledger.smt: the status map (docs/FORMAT.md §5).

Known answers are derived by hand below, as SHA-256 over explicit bytes. A slow recursive
reference (``ref_root``, ``ref_proof``, ``ref_new_nodes``) cross-checks the map under
hypothesis: MapWriter inserts, SparseMap looks up and proves; tamper cases mutate every
happy-path proof and require a VerificationError or the true answer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Callable, Iterator, Mapping

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import (
    EncodingError,
    NotFoundError,
    ProofError,
    RootMismatchError,
    StoreCorruptError,
    VerificationError,
)
from ledger.smt import (
    EMPTY,
    KEY_SIZE,
    MapProof,
    MapWriter,
    SparseMap,
    branch_hash,
    leaf_hash,
    verify_proof,
)

Z = bytes(32)
FULL = (1 << 256) - 1


def H(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def bit(key: bytes, i: int) -> int:
    return (key[i // 8] >> (7 - i % 8)) & 1


def flip(data: bytes, i: int) -> bytes:
    out = bytearray(data)
    out[i // 8] ^= 0x80 >> (i % 8)
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# Slow reference: partition the keys on bit `depth`, 0 keys -> EMPTY, 1 key -> leaf.


def ref_root(items: Mapping[bytes, bytes], depth: int = 0) -> bytes:
    if not items:
        return Z
    if len(items) == 1:
        ((key, value),) = items.items()
        return H(b"\x02", key, value)
    left = {k: v for k, v in items.items() if bit(k, depth) == 0}
    right = {k: v for k, v in items.items() if bit(k, depth) == 1}
    return H(b"\x03", ref_root(left, depth + 1), ref_root(right, depth + 1))


def ref_proof(items: Mapping[bytes, bytes], key: bytes) -> MapProof:
    siblings: list[bytes] = []
    depth = 0
    while len(items) > 1:
        side = bit(key, depth)
        siblings.append(
            ref_root({k: v for k, v in items.items() if bit(k, depth) != side}, depth + 1)
        )
        items = {k: v for k, v in items.items() if bit(k, depth) == side}
        depth += 1
    if not items:
        return MapProof(key=key, leaf_key=None, leaf_value=None, siblings=tuple(siblings))
    ((leaf_key, leaf_value),) = items.items()
    return MapProof(key=key, leaf_key=leaf_key, leaf_value=leaf_value, siblings=tuple(siblings))


def path_nodes(nodes: Mapping[bytes, bytes], root: bytes, key: bytes) -> set[bytes]:
    """The hashes of the nodes on key's path under `root`: its branches and its terminal."""
    out: set[bytes] = set()
    node = root
    depth = 0
    while node != Z:
        out.add(node)
        encoding = nodes[node]
        if encoding[0] == 2:
            break
        node = encoding[33:] if bit(key, depth) else encoding[1:33]
        depth += 1
    return out


def ref_new_nodes(nodes: Mapping[bytes, bytes], root: bytes, changed: set[bytes]) -> set[bytes]:
    """What a writer must hand the store after setting the keys `changed` to new values since
    its last commit: the nodes on their paths under the new root, and nothing else (no node
    of an intermediate root, no node it only read)."""
    out: set[bytes] = set()
    for key in changed:
        out |= path_nodes(nodes, root, key)
    return out


def reachable(nodes: Mapping[bytes, bytes], root: bytes) -> set[bytes]:
    """Every node hash under `root`; KeyError if `nodes` lacks one."""
    seen: set[bytes] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node == Z or node in seen:
            continue
        seen.add(node)
        encoding = nodes[node]
        if encoding[0] == 3:
            stack += [encoding[1:33], encoding[33:]]
    return seen


# ---------------------------------------------------------------------------------------------
# Known answers, by hand. Bits of the first byte are written out in binary.

KA = bytes([0b0000_0000]) + b"\x11" * 31  # 0...
KB = bytes([0b1000_0000]) + b"\x22" * 31  # 1...
KP = bytes([0b1010_0000]) + b"\x33" * 31  # 1010...
KQ = bytes([0b1011_0000]) + b"\x44" * 31  # 1011...
KR = bytes([0b1001_0000]) + b"\x55" * 31  # 1001...
VA, VB, VP, VQ, VR = (bytes([b]) * 32 for b in (0xAA, 0xBB, 0xCC, 0xDD, 0xEE))

LEAF_A = H(b"\x02", KA, VA)
LEAF_B = H(b"\x02", KB, VB)
LEAF_P = H(b"\x02", KP, VP)
LEAF_Q = H(b"\x02", KQ, VQ)
LEAF_R = H(b"\x02", KR, VR)


def no_store(node: bytes) -> bytes | None:
    return None


def writer(*pairs: tuple[bytes, bytes]) -> MapWriter:
    w = MapWriter(no_store)
    for key, value in pairs:
        w.set(key, value)
    return w


def view(w: MapWriter, store: Mapping[bytes, bytes] | None = None) -> SparseMap:
    """The writer's map at its current root, read from `store` and the writer's new nodes."""
    return SparseMap({**(store or {}), **w.new_nodes()}.get, w.root)


def build(*pairs: tuple[bytes, bytes]) -> SparseMap:
    return view(writer(*pairs))


def test_hash_functions() -> None:
    assert EMPTY == Z and KEY_SIZE == 32
    assert leaf_hash(KA, VA) == hashlib.sha256(b"\x02" + KA + VA).digest()
    assert branch_hash(LEAF_A, LEAF_B) == hashlib.sha256(b"\x03" + LEAF_A + LEAF_B).digest()
    # One pinned digest: { printf '\002'; head -c 64 /dev/zero; } | sha256sum
    assert (
        leaf_hash(Z, Z).hex() == "977c6d24ff2b851777af4dce0615e547112c6c0128a37338b3a1db9d055fff09"
    )


def test_empty_map() -> None:
    m = SparseMap(no_store)
    assert m.root == Z
    assert m.lookup(KA) is None
    proof = m.prove(KA)
    assert proof == MapProof(key=KA, leaf_key=None, leaf_value=None, siblings=())
    assert verify_proof(Z, proof) is None
    assert MapWriter(no_store).new_nodes() == {}


@pytest.mark.parametrize(
    ("key", "value"), [(KA, VA), (KB, VB), (Z, VA), (b"\xff" * 32, VB), (KP, Z)]
)
def test_one_key_root_is_its_leaf_whatever_the_key(key: bytes, value: bytes) -> None:
    w = MapWriter(no_store)
    root = w.set(key, value)
    assert root == w.root == H(b"\x02", key, value)
    assert w.new_nodes() == {root: b"\x02" + key + value}
    m = view(w)
    assert m.root == root
    assert m.prove(key) == MapProof(key=key, leaf_key=key, leaf_value=value, siblings=())
    assert verify_proof(root, m.prove(key)) == value
    other = flip(key, 0)
    assert m.prove(other) == MapProof(key=other, leaf_key=key, leaf_value=value, siblings=())
    assert verify_proof(root, m.prove(other)) is None


@pytest.mark.parametrize("order", [[(KA, VA), (KB, VB)], [(KB, VB), (KA, VA)]])
def test_two_keys_differing_in_the_first_bit(order: list[tuple[bytes, bytes]]) -> None:
    w = writer(*order)
    m = view(w)
    root = H(b"\x03", H(b"\x02", KA, VA), H(b"\x02", KB, VB))
    assert m.root == root
    assert m.prove(KA) == MapProof(key=KA, leaf_key=KA, leaf_value=VA, siblings=(LEAF_B,))
    assert m.prove(KB) == MapProof(key=KB, leaf_key=KB, leaf_value=VB, siblings=(LEAF_A,))
    absent = bytes([0b0111_1111]) + b"\x00" * 31  # bit 0 = 0: lands on A's leaf
    assert m.prove(absent) == MapProof(key=absent, leaf_key=KA, leaf_value=VA, siblings=(LEAF_B,))
    assert verify_proof(root, m.prove(KA)) == VA
    assert verify_proof(root, m.prove(KB)) == VB
    assert verify_proof(root, m.prove(absent)) is None
    assert w.new_nodes() == {
        root: b"\x03" + LEAF_A + LEAF_B,
        LEAF_A: b"\x02" + KA + VA,
        LEAF_B: b"\x02" + KB + VB,
    }


# P = 1010..., Q = 1011...: a chain of branches with an EMPTY side down to bit 3.
B3 = H(b"\x03", LEAF_P, LEAF_Q)  # depth 3, splits on bit 3
B2 = H(b"\x03", Z, B3)  # depth 2: bit 2 is 1 for both
B1 = H(b"\x03", B2, Z)  # depth 1: bit 1 is 0 for both
ROOT_PQ = H(b"\x03", Z, B1)  # depth 0: bit 0 is 1 for both


def test_two_keys_sharing_three_bits() -> None:
    w = writer((KP, VP), (KQ, VQ))
    m = view(w)
    assert m.root == ROOT_PQ
    assert m.prove(KP) == MapProof(key=KP, leaf_key=KP, leaf_value=VP, siblings=(Z, Z, Z, LEAF_Q))
    assert m.prove(KQ) == MapProof(key=KQ, leaf_key=KQ, leaf_value=VQ, siblings=(Z, Z, Z, LEAF_P))
    absent = {
        bytes(32): MapProof(key=bytes(32), leaf_key=None, leaf_value=None, siblings=(B1,)),
        b"\xc0" + Z[1:]: MapProof(
            key=b"\xc0" + Z[1:], leaf_key=None, leaf_value=None, siblings=(Z, B2)
        ),
        b"\x80" + Z[1:]: MapProof(
            key=b"\x80" + Z[1:], leaf_key=None, leaf_value=None, siblings=(Z, Z, B3)
        ),
        b"\xaf" + Z[1:]: MapProof(
            key=b"\xaf" + Z[1:], leaf_key=KP, leaf_value=VP, siblings=(Z, Z, Z, LEAF_Q)
        ),
    }
    for key, want in absent.items():
        assert m.prove(key) == want
        assert verify_proof(ROOT_PQ, want) is None
        assert m.lookup(key) is None
    assert verify_proof(ROOT_PQ, m.prove(KP)) == VP
    assert verify_proof(ROOT_PQ, m.prove(KQ)) == VQ
    assert w.new_nodes() == {
        ROOT_PQ: b"\x03" + Z + B1,
        B1: b"\x03" + B2 + Z,
        B2: b"\x03" + Z + B3,
        B3: b"\x03" + LEAF_P + LEAF_Q,
        LEAF_P: b"\x02" + KP + VP,
        LEAF_Q: b"\x02" + KQ + VQ,
    }


def test_new_nodes_after_commit_holds_only_the_new_path() -> None:
    store: dict[bytes, bytes] = {}
    w = MapWriter(store.get)
    w.set(KP, VP)
    store.update(w.new_nodes())
    w.clear_new()
    assert w.new_nodes() == {}
    w.set(KQ, VQ)
    assert set(w.new_nodes()) == {ROOT_PQ, B1, B2, B3, LEAF_Q}
    m = view(w, store)
    assert m.lookup(KP) == VP and m.lookup(KQ) == VQ


@pytest.mark.parametrize("order", list(itertools.permutations([(KP, VP), (KQ, VQ), (KR, VR)])))
def test_three_keys(order: list[tuple[bytes, bytes]]) -> None:
    w = writer(*order)
    m = view(w)
    b2 = H(b"\x03", LEAF_R, B3)  # R = 100 goes left at bit 2, P and Q right
    b1 = H(b"\x03", b2, Z)
    root = H(b"\x03", Z, b1)
    assert m.root == root
    assert m.prove(KR) == MapProof(key=KR, leaf_key=KR, leaf_value=VR, siblings=(Z, Z, B3))
    assert m.prove(KP) == MapProof(
        key=KP, leaf_key=KP, leaf_value=VP, siblings=(Z, Z, LEAF_R, LEAF_Q)
    )
    absent = b"\x80" + Z[1:]  # 1000...: lands on R's leaf at depth 3
    assert m.prove(absent) == MapProof(key=absent, leaf_key=KR, leaf_value=VR, siblings=(Z, Z, B3))
    assert verify_proof(root, m.prove(absent)) is None
    for key, value in order:
        assert verify_proof(root, m.prove(key)) == value
    # Add A = 0...: the tree drawn in the module docstring.
    w.set(KA, VA)
    m = view(w)
    assert m.root == H(b"\x03", LEAF_A, b1)
    assert m.prove(KP).siblings == (LEAF_A, Z, LEAF_R, LEAF_Q)
    assert m.prove(b"\xc0" + Z[1:]) == MapProof(
        key=b"\xc0" + Z[1:], leaf_key=None, leaf_value=None, siblings=(LEAF_A, b2)
    )


def test_two_keys_differing_only_in_the_last_bit() -> None:
    kx = b"\x5a" * 32
    ky = flip(kx, 255)
    w = writer((kx, VA), (ky, VB))
    m = view(w)
    node = H(b"\x03", H(b"\x02", kx, VA), H(b"\x02", ky, VB))  # bit 255 of kx is 0
    assert bit(kx, 255) == 0
    for i in range(254, -1, -1):
        node = H(b"\x03", Z, node) if bit(kx, i) else H(b"\x03", node, Z)
    assert m.root == node
    proof = m.prove(kx)
    assert proof == MapProof(
        key=kx, leaf_key=kx, leaf_value=VA, siblings=(Z,) * 255 + (H(b"\x02", ky, VB),)
    )
    assert verify_proof(node, proof) == VA
    assert len(w.new_nodes()) == 2 + 256


def test_replace_value_and_same_value_is_a_no_op() -> None:
    w = writer((KP, VP), (KQ, VQ))
    assert w.set(KP, VP) == ROOT_PQ
    assert len(w.new_nodes()) == 6
    w = MapWriter(w.new_nodes().get, ROOT_PQ)
    assert w.set(KP, VP) == ROOT_PQ
    assert w.new_nodes() == {}  # same value: nothing created
    w2 = writer((KP, VA), (KQ, VQ))
    assert w2.set(KP, VP) == ROOT_PQ
    assert view(w2).lookup(KP) == VP
    assert LEAF_P in w2.new_nodes() and H(b"\x02", KP, VA) not in w2.new_nodes()


def test_old_roots_stay_provable() -> None:
    store: dict[bytes, bytes] = {}
    w = MapWriter(store.get)
    w.set(KP, VA)
    old = w.root
    store.update(w.new_nodes())
    w.clear_new()
    w.set(KP, VP)
    w.set(KQ, VQ)
    m = view(w, store)
    assert m.prove(KP, root=old) == MapProof(key=KP, leaf_key=KP, leaf_value=VA, siblings=())
    assert verify_proof(old, m.prove(KP, root=old)) == VA
    assert verify_proof(old, m.prove(KQ, root=old)) is None
    assert verify_proof(m.root, m.prove(KP)) == VP
    assert m.prove(KP, root=Z) == MapProof(key=KP, leaf_key=None, leaf_value=None, siblings=())


def test_proof_value() -> None:
    assert MapProof(key=KA, leaf_key=KA, leaf_value=VA, siblings=()).value() == VA
    assert MapProof(key=KB, leaf_key=KA, leaf_value=VA, siblings=()).value() is None
    assert MapProof(key=KB, leaf_key=None, leaf_value=None, siblings=()).value() is None


# ---------------------------------------------------------------------------------------------
# Errors from the map: sizes, and a store that lacks nodes or holds garbage.


@pytest.mark.parametrize(
    "call",
    [
        lambda m: MapWriter(no_store).set(KA[:31], VA),
        lambda m: MapWriter(no_store).set(KA, VA + b"\x00"),
        lambda m: MapWriter(no_store).set(bytearray(KA), VA),
        lambda m: MapWriter(no_store, root=b"\x00" * 33),
        lambda m: m.lookup(b""),
        lambda m: m.prove(KA[:31]),
        lambda m: m.prove(KA, root=Z[:31]),
        lambda m: SparseMap(no_store, root=b"\x00" * 33),
        lambda m: leaf_hash(KA, VA[:31]),
        lambda m: branch_hash(Z[:31], Z),
    ],
)
def test_wrong_sizes_raise_encoding_error(call: Callable[[SparseMap], object]) -> None:
    with pytest.raises(EncodingError, match="must be 32 bytes, got"):
        call(SparseMap(no_store))


def test_missing_root_is_not_found() -> None:
    m = SparseMap(no_store, root=H(b"no such root"))
    with pytest.raises(NotFoundError, match="map root .* is not in the store"):
        m.lookup(KA)
    with pytest.raises(NotFoundError):
        SparseMap(no_store).prove(KA, root=H(b"no such root"))


def test_missing_child_is_store_corruption() -> None:
    root = H(b"\x03", LEAF_A, LEAF_B)
    m = SparseMap({root: b"\x03" + LEAF_A + LEAF_B}.get, root=root)
    with pytest.raises(StoreCorruptError, match="at depth 1 is missing"):
        m.prove(KA)
    with pytest.raises(StoreCorruptError):
        MapWriter({root: b"\x03" + LEAF_A + LEAF_B}.get, root=root).set(KB, VA)


@pytest.mark.parametrize(
    "encoding", [b"", b"\x03" + Z + Z[1:], b"\x04" + Z + Z, b"\x02" + Z + Z + b"\x00"]
)
def test_malformed_node_is_store_corruption(encoding: bytes) -> None:
    root = H(b"garbage")
    with pytest.raises(StoreCorruptError, match="want 65 bytes"):
        SparseMap({root: encoding}.get, root=root).lookup(KA)


def test_leaf_off_the_path_is_store_corruption() -> None:
    # B's leaf (bit 0 = 1) stored on the left, where only keys starting with 0 belong.
    root = H(b"\x03", LEAF_B, LEAF_Q)
    store = {root: b"\x03" + LEAF_B + LEAF_Q, LEAF_B: b"\x02" + KB + VB, LEAF_Q: b"\x02" + KQ + VQ}
    with pytest.raises(StoreCorruptError, match="off the path"):
        MapWriter(store.get, root=root).set(KA, VA)


def test_branch_at_depth_256_is_store_corruption() -> None:
    key = b"\x5a" * 32
    node = H(b"\x03", LEAF_A, LEAF_B)
    store = {node: b"\x03" + LEAF_A + LEAF_B}
    for i in range(255, -1, -1):  # 256 more branches above it: it sits at depth 256
        encoding = b"\x03" + (Z + node if bit(key, i) else node + Z)
        node = H(encoding)
        store[node] = encoding
    with pytest.raises(StoreCorruptError, match="at depth 256"):
        SparseMap(store.get, root=node).lookup(key)


# ---------------------------------------------------------------------------------------------
# verify_proof: shape and canonical form. Each non-canonical proof below recomputes to its root,
# so only the canonical-form rule can reject it.


def root_of(proof: MapProof) -> bytes:
    """Recompute a root from a proof by hand, with no checks."""
    if proof.leaf_key is None or proof.leaf_value is None:
        node = Z
    else:
        node = H(b"\x02", proof.leaf_key, proof.leaf_value)
    for i in range(len(proof.siblings) - 1, -1, -1):
        s = proof.siblings[i]
        node = H(b"\x03", s, node) if bit(proof.key, i) else H(b"\x03", node, s)
    return node


@pytest.mark.parametrize(
    ("proof", "message"),
    [
        # Leaf terminal with an EMPTY deepest sibling: its parent would hold one key.
        (MapProof(key=KA, leaf_key=KA, leaf_value=VA, siblings=(Z,)), "leaf terminal at depth 1"),
        (MapProof(key=KP, leaf_key=KP, leaf_value=VP, siblings=(LEAF_A, Z)), "has an EMPTY sib"),
        # EMPTY terminal with an EMPTY deepest sibling: its parent would hold no key.
        (MapProof(key=KA, leaf_key=None, leaf_value=None, siblings=(Z,)), "empty terminal"),
        (MapProof(key=KA, leaf_key=None, leaf_value=None, siblings=(LEAF_B, Z)), "hold no key"),
        # EMPTY terminal at depth 256: its parent would hold at most one key.
        (
            MapProof(key=KA, leaf_key=None, leaf_value=None, siblings=(Z,) * 255 + (LEAF_B,)),
            "empty terminal at depth 256",
        ),
        # Absence leaf off key's path: B (1...) shown at depth 1 on A's side (0...).
        (
            MapProof(key=KA, leaf_key=KB, leaf_value=VB, siblings=(LEAF_Q,)),
            "shares only 0 leading bits",
        ),
        # P and R share 2 bits; R's leaf cannot sit at depth 3 on P's path.
        (
            MapProof(key=KP, leaf_key=KR, leaf_value=VR, siblings=(Z, Z, LEAF_Q)),
            "shares only 2 leading bits .* want at least 3",
        ),
    ],
)
def test_non_canonical_proofs_are_rejected(proof: MapProof, message: str) -> None:
    with pytest.raises(ProofError, match=message):
        verify_proof(root_of(proof), proof)


def test_canonical_edge_cases_are_accepted() -> None:
    # EMPTY siblings above the deepest one are fine (a chain); so is a leaf at depth 256.
    proof = MapProof(key=KP, leaf_key=KP, leaf_value=VP, siblings=(Z, Z, Z, LEAF_Q))
    assert verify_proof(root_of(proof), proof) == VP
    deep = MapProof(key=KA, leaf_key=KA, leaf_value=VA, siblings=(Z,) * 255 + (LEAF_B,))
    assert verify_proof(root_of(deep), deep) == VA
    # An absence leaf sharing exactly `depth` bits.
    near = MapProof(key=KB, leaf_key=KR, leaf_value=VR, siblings=(LEAF_A,))
    assert verify_proof(root_of(near), near) is None


def test_root_mismatch_reports_both_roots() -> None:
    proof = build((KA, VA), (KB, VB)).prove(KA)
    wrong = H(b"another root")
    with pytest.raises(RootMismatchError, match="map proof for key") as info:
        verify_proof(wrong, proof)
    assert info.value.expected == wrong
    assert info.value.calculated == H(b"\x03", LEAF_A, LEAF_B)


GOOD = MapProof(key=KA, leaf_key=KA, leaf_value=VA, siblings=(LEAF_B,))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"key": KA[:31]}, "key must be 32 bytes, got 31 bytes"),
        ({"key": bytearray(KA)}, "key must be 32 bytes, got 32 bytes"),
        ({"leaf_key": KA + b"\x00"}, "leaf_key must be 32 bytes, got 33 bytes"),
        ({"leaf_value": "aa" * 32}, "leaf_value must be 32 bytes, got str"),
        ({"leaf_value": None}, "both be given or both be None"),
        ({"leaf_key": None}, "both be given or both be None"),
        ({"siblings": (LEAF_B[:31],)}, "sibling 0 must be 32 bytes"),
        ({"siblings": (LEAF_B, None)}, "sibling 1 must be 32 bytes, got NoneType"),
        ({"siblings": (LEAF_B,) * 257}, "has 257 siblings, want at most 256"),
    ],
)
def test_proof_shape_errors(changes: dict[str, object], message: str) -> None:
    # On construction ...
    with pytest.raises(ProofError, match=message):
        dataclasses.replace(GOOD, **changes)
    # ... and again in verify_proof, for a proof changed behind the constructor's back.
    proof = MapProof(key=KA, leaf_key=KA, leaf_value=VA, siblings=(LEAF_B,))
    for name, value in changes.items():
        object.__setattr__(proof, name, value)
    with pytest.raises(ProofError, match=message):
        verify_proof(H(b"\x03", LEAF_A, LEAF_B), proof)


def test_proof_siblings_list_becomes_tuple_and_root_size_is_checked() -> None:
    proof = MapProof(key=KA, leaf_key=KA, leaf_value=VA, siblings=[LEAF_B])  # type: ignore[arg-type]
    assert proof.siblings == (LEAF_B,)
    root = H(b"\x03", LEAF_A, LEAF_B)
    assert verify_proof(root, proof) == VA
    with pytest.raises(ProofError, match="root must be 32 bytes, got 31 bytes"):
        verify_proof(root[:31], proof)
    with pytest.raises(ProofError, match="siblings must be a tuple"):
        object.__setattr__(proof, "siblings", [LEAF_B])
        verify_proof(root, proof)


# ---------------------------------------------------------------------------------------------
# Tampering: every mutation of a good proof raises a VerificationError, or (when the mutation
# changes only which key is asked about) returns the true answer for the key it now names.

Changes = Mapping[str, object]


def mutations(proof: MapProof, *, every_bit: bool = True) -> Iterator[tuple[str, Changes, bool]]:
    """(label, fields to replace, must it fail?) for each mutation of a proof."""
    bits = range(256) if every_bit else (0, 7, 100, 255)
    sibs = proof.siblings
    for j, s in enumerate(sibs):
        for b in bits:
            yield (
                f"sibling[{j}]-bit-{b}",
                {"siblings": (*sibs[:j], flip(s, b), *sibs[j + 1 :])},
                True,
            )
    if proof.leaf_key is not None and proof.leaf_value is not None:
        for b in bits:
            yield f"leaf_key-bit-{b}", {"leaf_key": flip(proof.leaf_key, b)}, True
            yield f"leaf_value-bit-{b}", {"leaf_value": flip(proof.leaf_value, b)}, True
        yield "leaf-dropped", {"leaf_key": None, "leaf_value": None}, True
    else:
        for leaf_key, leaf_value in ((proof.key, VA), (KQ, VQ)):
            yield "leaf-added", {"leaf_key": leaf_key, "leaf_value": leaf_value}, True
    for b in range(256):  # the asked key: may verify, for the key it now names
        yield f"key-bit-{b}", {"key": flip(proof.key, b)}, False
    for j in range(len(sibs)):
        yield f"drop-sibling[{j}]", {"siblings": sibs[:j] + sibs[j + 1 :]}, True
    for j in range(len(sibs) + 1):
        for extra in (Z, LEAF_A, H(b"x")):
            yield f"add-sibling[{j}]", {"siblings": (*sibs[:j], extra, *sibs[j:])}, True
    for j in range(len(sibs) - 1):
        if sibs[j] != sibs[j + 1]:
            swapped = (*sibs[:j], sibs[j + 1], sibs[j], *sibs[j + 2 :])
            yield f"swap-siblings[{j}]", {"siblings": swapped}, True
    if len(set(sibs)) > 1:
        yield "reverse-siblings", {"siblings": sibs[::-1]}, True


def check_mutation(
    root: bytes,
    truth: Mapping[bytes, bytes],
    proof: MapProof,
    changes: Changes,
    *,
    must_fail: bool,
    label: str = "",
) -> str:
    """Apply `changes` to `proof` and verify; return "rejected" or "truth", fail on a lie."""
    try:
        mutated = dataclasses.replace(proof, **changes)
        got = verify_proof(root, mutated)
    except VerificationError:
        return "rejected"
    assert not must_fail, f"{label}: mutated proof verified"
    assert got == truth.get(mutated.key), f"{label}: verified to a lie for {mutated.key.hex()}"
    return "truth"


KS = H(b"s")


def deterministic_map() -> tuple[SparseMap, dict[bytes, bytes]]:
    model = {H(b"key", bytes([i])): H(b"value", bytes([i])) for i in range(40)}
    # S and T share 20 bits: a chain with EMPTY sides, for EMPTY terminals below the root.
    model.update({KA: VA, KP: VP, KQ: VQ, KR: VR, KS: VA, flip(KS, 20): VB})
    return build(*model.items()), model


def test_tamper_every_bit_of_fixed_proofs() -> None:
    m, model = deterministic_map()
    root = m.root
    absent = [flip(KP, 200), flip(KS, 15), flip(H(b"key", b"\x07"), 255), H(b"absent")]
    cases = [KA, KP, KQ, KR, H(b"key", b"\x00"), H(b"key", b"\x27"), *absent]
    outcomes = {"rejected": 0, "truth": 0}
    kinds = set()
    for key in cases:
        proof = m.prove(key)
        kinds.add((proof.value() is not None, proof.leaf_key is not None))
        assert verify_proof(root, proof) == model.get(key)
        # The root itself, every bit.
        for b in range(256):
            with pytest.raises(RootMismatchError):
                verify_proof(flip(root, b), proof)
        for label, changes, must_fail in mutations(proof):
            outcomes[
                check_mutation(root, model, proof, changes, must_fail=must_fail, label=label)
            ] += 1
    # Membership, absence by another leaf, absence by EMPTY: all three were tampered with.
    assert kinds == {(True, True), (False, True), (False, False)}
    assert outcomes["rejected"] > 10_000 and outcomes["truth"] > 0


def test_membership_proof_swapped_to_another_key() -> None:
    m, model = deterministic_map()
    keys = list(model)[:12] + [KA, KP, KQ, KR]
    for k1, k2 in itertools.permutations(keys, 2):
        proof, other = m.prove(k1), m.prove(k2)
        # k1's proof presented for k2, and k2's path with k1's leaf.
        assert check_mutation(m.root, model, proof, {"key": k2}, must_fail=True) == "rejected"
        if other.siblings != proof.siblings:
            leaf = {"leaf_key": proof.leaf_key, "leaf_value": proof.leaf_value}
            assert check_mutation(m.root, model, other, leaf, must_fail=True) == "rejected"


# ---------------------------------------------------------------------------------------------
# Properties against the reference, over keys that share long prefixes on purpose.

SHARED = [0, 0, 1, 2, 3, 4, 8, 9, 31, 64, 128, 200, 250, 254, 255, 256]
VALUES = [bytes([b]) * 32 for b in (1, 2, 3)]


@st.composite
def key_lists(draw: st.DrawFn, max_keys: int = 10) -> list[bytes]:
    base = draw(st.integers(0, FULL))
    keys: list[int] = []
    for _ in range(draw(st.integers(1, max_keys))):
        # Copy the first `shared` bits of the base or of an earlier key, draw the rest.
        prefix_of = draw(st.sampled_from([base, *keys]))
        shared = draw(st.sampled_from(SHARED))
        mask = FULL ^ (FULL >> shared)
        keys.append((prefix_of & mask) | (draw(st.integers(0, FULL)) & ~mask & FULL))
    return [k.to_bytes(32, "big") for k in keys]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[bytes], list[tuple[bytes, bytes, bool]]]:
    keys = draw(key_lists())
    ops = draw(
        st.lists(
            st.tuples(st.sampled_from(keys), st.sampled_from(VALUES), st.booleans()),
            min_size=1,
            max_size=25,
        )
    )
    return keys, ops


def probes(keys: list[bytes]) -> list[bytes]:
    """The keys, and keys next to them (likely absent: the leaf or EMPTY of a neighbour)."""
    out = list(dict.fromkeys(keys))
    for key in keys:
        out += [flip(key, 255), flip(key, 3), flip(key, 128)]
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_map_matches_reference_at_every_version(
    scenario: tuple[list[bytes], list[tuple[bytes, bytes, bool]]],
) -> None:
    keys, ops = scenario
    store: dict[bytes, bytes] = {}
    w = MapWriter(store.get)
    model: dict[bytes, bytes] = {}
    history: list[tuple[bytes, dict[bytes, bytes]]] = [(Z, {})]
    ask = probes(keys)

    def commit() -> None:
        pending = w.new_nodes()
        for node, encoding in pending.items():
            assert H(encoding) == node and len(encoding) == 65 and encoding[0] in (2, 3)
        merged = {**store, **pending}
        # Complete (the whole tree is readable from store + pending) and minimal (nothing from
        # an intermediate version within the batch).
        assert set(pending) <= reachable(merged, w.root)
        fresh = SparseMap(merged.get, w.root)
        for key in keys:
            assert fresh.lookup(key) == model.get(key)
            assert fresh.prove(key) == ref_proof(model, key)
        store.update(pending)
        w.clear_new()
        assert w.new_nodes() == {}
        if w.root != history[-1][0]:
            history.append((w.root, dict(model)))

    for key, value, then_commit in ops:
        root = w.set(key, value)
        model[key] = value
        assert root == w.root == ref_root(model)
        if then_commit:
            commit()
    commit()

    m = SparseMap(store.get, w.root)
    for key in ask:
        assert m.prove(key) == ref_proof(model, key)
    for root, snapshot in history:
        old_view = SparseMap(store.get, root)
        for key in ask:
            want = snapshot.get(key)
            assert old_view.lookup(key) == want
            proof = m.prove(key, root=root)  # an old root, read through the store
            assert proof == old_view.prove(key)
            assert verify_proof(root, proof) == want


@settings(max_examples=80, deadline=None)
@given(scenarios(), st.data())
def test_random_tampering_never_lies(
    scenario: tuple[list[bytes], list[tuple[bytes, bytes, bool]]], data: st.DataObject
) -> None:
    keys, ops = scenario
    w = MapWriter(no_store)
    model: dict[bytes, bytes] = {}
    for key, value, _ in ops:
        w.set(key, value)
        model[key] = value
    m = view(w)
    key = data.draw(st.sampled_from(probes(keys)))
    proof = m.prove(key)
    assert verify_proof(m.root, proof) == model.get(key)
    cases = list(mutations(proof, every_bit=False))
    for label, changes, must_fail in data.draw(st.lists(st.sampled_from(cases), max_size=30)):
        check_mutation(m.root, model, proof, changes, must_fail=must_fail, label=label)


# ---------------------------------------------------------------------------------------------
# MapWriter: the append path's and the replay's map. The reference's root after every set, the
# reference's new nodes at every commit (children first), the store errors.


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.booleans())
def test_writer_matches_reference(
    scenario: tuple[list[bytes], list[tuple[bytes, bytes, bool]]], keep_writer: bool,
) -> None:
    """A commit either starts a new writer over the store (as each append does) or keeps the
    same one after clear_new (it then reloads from the store)."""
    _, ops = scenario
    store: dict[bytes, bytes] = {}
    w = MapWriter(store.get)
    model: dict[bytes, bytes] = {}
    changed: set[bytes] = set()  # the keys given a new value since the last commit

    def commit() -> None:
        nonlocal w
        pending = w.new_nodes()
        merged = {**store, **pending}
        assert set(pending) == ref_new_nodes(merged, w.root, changed)
        done: set[bytes] = set()
        for node, encoding in pending.items():  # every node after its children
            assert H(encoding) == node
            if encoding[0] == 3:
                assert {encoding[1:33], encoding[33:]} & set(pending) <= done
            done.add(node)
        store.update(pending)
        changed.clear()
        if keep_writer:
            w.clear_new()
        else:
            w = MapWriter(store.get, w.root)
        assert w.new_nodes() == {}

    for key, value, then_commit in ops:
        if model.get(key) != value:
            changed.add(key)
        root = w.set(key, value)
        model[key] = value
        assert root == w.root == ref_root(model)
        if then_commit:
            commit()
    commit()
    fresh = SparseMap(store.get, w.root)
    for key, value in model.items():
        assert fresh.lookup(key) == value


def test_writer_known_answers_and_no_op() -> None:
    w = MapWriter(no_store)
    assert w.root == EMPTY and w.new_nodes() == {}
    assert w.set(KA, VA) == LEAF_A
    for key, value in ((KB, VB), (KP, VP), (KQ, VQ), (KR, VR)):
        w.set(key, value)
    assert w.root == ref_root({KA: VA, KB: VB, KP: VP, KQ: VQ, KR: VR})
    nodes = w.new_nodes()
    assert w.set(KQ, VQ) == w.root and w.new_nodes() == nodes  # the same value: no new node


def test_writer_store_errors() -> None:
    with pytest.raises(NotFoundError, match="map root .* is not in the store"):
        MapWriter(no_store, root=H(b"no such root")).set(KA, VA)
    root = H(b"\x03", LEAF_A, LEAF_B)
    with pytest.raises(StoreCorruptError, match="at depth 1 is missing"):
        MapWriter({root: b"\x03" + LEAF_A + LEAF_B}.get, root=root).set(KB, VA)
    garbage = H(b"garbage")
    with pytest.raises(StoreCorruptError, match="want 65 bytes"):
        MapWriter({garbage: b"\x04" + Z + Z}.get, root=garbage).set(KA, VA)
    root = H(b"\x03", LEAF_B, LEAF_Q)
    store = {root: b"\x03" + LEAF_B + LEAF_Q, LEAF_B: b"\x02" + KB + VB, LEAF_Q: b"\x02" + KQ + VQ}
    with pytest.raises(StoreCorruptError, match="off the path"):
        MapWriter(store.get, root=root).set(KA, VA)
    for call in (lambda w: w.set(KA[:31], VA), lambda w: w.set(KA, VA + b"x")):
        with pytest.raises(EncodingError, match="must be 32 bytes, got"):
            call(MapWriter(no_store))


def test_writer_branch_at_depth_256_is_store_corruption() -> None:
    key = b"\x5a" * 32
    node = H(b"\x03", LEAF_A, LEAF_B)
    store = {node: b"\x03" + LEAF_A + LEAF_B}
    for i in range(255, -1, -1):
        encoding = b"\x03" + (Z + node if bit(key, i) else node + Z)
        node = H(encoding)
        store[node] = encoding
    with pytest.raises(StoreCorruptError, match="at depth 256"):
        MapWriter(store.get, root=node).set(key, VA)
