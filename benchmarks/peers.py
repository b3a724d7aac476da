"""Compare the ledger's Merkle log with its peers, on the same leaves, in the same run.

For each size N, every system gets the same N leaves (``LEAF_BYTES``-byte entries from a
seeded RNG) and the same random indices and sizes, and is measured where the systems do the
same job:

- raw leaf append: µs per leaf, in batches of ``BATCH`` leaves, each batch one durable commit
  where the system is durable;
- inclusion proof generation and verification at the full size, over ``PROOFS`` random indices;
- consistency proof generation and verification from ``PROOFS`` random sizes to the full size;
- storage bytes per leaf.

Systems (each optional except the ledger: a peer that does not import shows "n/a"):

``ledger``
    The ledger's own tree code on the ledger's own storage, without the credential rules: each
    batch is one :meth:`ledger.store.Store.write` transaction (LMDB, ``sync`` on) that reads the
    frontier, hashes the leaves through :class:`ledger.merkle.CompactRange`, puts every entry
    and every perfect-subtree hash under the keys ``Ledger.append`` uses (``entries``: u64
    index; ``tree``: level u8 || index u64) and writes the head. Proofs go through the real
    :meth:`ledger.log.Ledger.inclusion_proof` / ``consistency_proof`` on that store and are
    checked with :func:`ledger.merkle.verify_inclusion` / ``verify_consistency``.
``pymerkle_mem``
    ``pymerkle.InmemoryTree`` (SHA-256, security on, which is RFC 6962/9162 hashing:
    ``0x00`` leaf and ``0x01`` node prefixes). Not durable.
``pymerkle_sqlite``
    ``pymerkle.SqliteTree``: ``append_entries`` (one SQLite transaction per batch; the default
    ``journal_mode=delete``, ``synchronous=full``, so each commit is durable). It stores leaf
    hashes only and computes subtree hashes on demand through its LRU subroot cache, so its
    proof times depend on that cache: the first proof of a run is reported separately.
``tlog_scales``
    ``tlog_scales.writer.TilesWriter`` writing C2SP tlog-tiles to a directory (``commit`` per
    batch: atomic, fsynced tile files and an Ed25519-signed checkpoint), proofs from
    ``tlog_scales.reader.TilesReader`` over that directory, checked with its
    ``InclusionProof.check`` / ``ConsistencyProof.check`` (RFC 9162 §2.1.3.2 / §2.1.4.2).

Correctness is cross-checked on the way: every system's root at N must equal the reference
root (:func:`ledger.merkle.root_of` of the leaf hashes), roots at a sample of smaller sizes must
agree, every proof must pass its system's own verifier, and a sample of inclusion proofs (and
tlog-scales' consistency proofs) must be the very hashes the ledger returns. pymerkle's
consistency proofs are laid out differently from RFC 9162's, so only its roots and own
verification are checked there.

A slow system is stopped once its appends have taken ``cap_seconds`` (then its per-leaf rate is
what it measured up to there, and its proofs are measured at the size it reached; the table
marks such figures).

Run on its own (``python benchmarks/peers.py --sizes 100000``) or through bench.py.
"""

# mypy: disable-error-code="import-untyped,import-not-found"

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ledger import merkle, smt
from ledger.log import Ledger, now_ms
from ledger.snapshot import Head
from ledger.store import DATA_FILE, Store, tree_key, u64

LEAF_BYTES = 100
BATCH = 10_000
PROOFS = 1_000
CHECK_SAMPLE = 20
SEED = 20240601
DEFAULT_CAP_SECONDS = 600.0
ORIGIN = "bench.credledger.example/peers"

SYSTEMS = ("ledger", "pymerkle_mem", "pymerkle_sqlite", "tlog_scales")
LABELS = {
    "ledger": "ledger (LMDB)",
    "pymerkle_mem": "pymerkle in-mem",
    "pymerkle_sqlite": "pymerkle SQLite",
    "tlog_scales": "tlog-scales",
}
PACKAGES = {"pymerkle_mem": "pymerkle", "pymerkle_sqlite": "pymerkle", "tlog_scales": "tlog-scales"}
TARGETS = {"append_us_per_leaf": "≤ 4 µs", "inclusion_proof_us": "≤ 20 µs"}
"""The ledger's targets at N = 10^6 (benchmarks/README.md)."""

Log = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(f"[peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def make_leaves(n: int, seed: int = SEED) -> list[bytes]:
    """``n`` deterministic leaves of ``LEAF_BYTES`` random bytes (the same for every system)."""
    rng = random.Random(seed)
    return [rng.randbytes(LEAF_BYTES) for _ in range(n)]


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _tree_bytes(path: Path) -> tuple[int, int]:
    """(apparent bytes, allocated bytes) of every file under ``path``."""
    size = alloc = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            st = os.stat(os.path.join(dirpath, f))
            size += st.st_size
            alloc += st.st_blocks * 512
    return size, alloc


# ------------------------------------------------------------------------------------------
# The systems: one class each, with the same small interface.


class LedgerSystem:
    """The ledger's tree and storage: Store + CompactRange + the keys of ``Ledger.append``."""

    key = "ledger"
    durable = True

    def __init__(self, work: Path) -> None:
        self.path = work / "ledger"
        self.store = Store(self.path, create=True)

        def init(txn: Any) -> None:
            txn.put("meta", b"format", b"credential-ledger/v1")
            txn.put("meta", b"origin", ORIGIN.encode())
            txn.put("meta", b"registry", bytes(32))
            txn.put("meta", b"head", Head(0, merkle.EMPTY_ROOT, smt.EMPTY, now_ms()).encode())

        self.store.write(init)
        # The real Ledger read API over this store (its constructor reads only origin/registry).
        self.ledger = Ledger(self.store)

    def append(self, batch: Sequence[bytes]) -> None:
        def write(txn: Any) -> None:
            head = Head.decode(txn.get("meta", b"head"))
            cr = merkle.CompactRange(
                head.size, [txn.tree_node(lv, ix) for lv, ix in
                            merkle.CompactRange.frontier_ids(head.size)])
            leaf_hash = merkle.leaf_hash
            # As Ledger.append writes: puts gathered, then one cursor per database.
            tree: list[tuple[bytes, bytes]] = []
            add_node = tree.append

            def put_tree(level: int, index: int, h: bytes) -> None:
                add_node((tree_key(level, index), h))

            append = cr.append
            for data in batch:
                append(leaf_hash(data), put_tree)
            first = head.size
            if txn.put_many("entries", zip(map(u64, range(first, first + len(batch))), batch),
                            append=True) != len(batch):
                raise RuntimeError("entries out of order")
            txn.put_many("tree", tree)
            txn.put("meta", b"head", Head(cr.size, cr.root(), head.state_root,
                                          head.last_time).encode())

        self.store.write(write)

    def root(self, size: int) -> bytes:
        return self.ledger.root_at(size)

    def prove_inclusion(self, index: int, size: int) -> list[bytes]:
        return self.ledger.inclusion_proof(index, size)

    def verify_inclusion(self, proof: list[bytes], index: int, size: int, leaf: bytes,
                         root: bytes) -> None:
        merkle.verify_inclusion(index, size, leaf, proof, root)

    def rfc_inclusion(self, proof: list[bytes]) -> list[bytes]:
        return proof

    def prove_consistency(self, size1: int, size2: int) -> list[bytes]:
        return self.ledger.consistency_proof(size1, size2)

    def verify_consistency(self, proof: list[bytes], size1: int, size2: int, root1: bytes,
                           root2: bytes) -> None:
        merkle.verify_consistency(size1, size2, proof, root1, root2)

    def rfc_consistency(self, proof: list[bytes]) -> list[bytes] | None:
        return proof

    def storage(self) -> dict[str, Any]:
        data = self.path / DATA_FILE
        return {"bytes": self.store.data_size(), "file_bytes": data.stat().st_size,
                "what": "LMDB data_size (pages in use)"}

    def facts(self) -> dict[str, Any]:
        return {"batch_commit": "one LMDB write txn per batch, sync + metasync on"}

    def close(self) -> None:
        self.store.close()


class PymerkleMemSystem:
    key = "pymerkle_mem"
    durable = False

    def __init__(self, work: Path) -> None:
        import pymerkle

        self.pm = pymerkle
        # security=True (the default) is RFC 6962/9162 hashing: 0x00 leaf, 0x01 node prefixes.
        self.tree = pymerkle.InmemoryTree(algorithm="sha256")
        self.path = work

    def append(self, batch: Sequence[bytes]) -> None:
        self.tree.append_entries(batch)

    def root(self, size: int) -> bytes:
        return bytes(self.tree.get_root(size))

    def prove_inclusion(self, index: int, size: int) -> Any:
        return self.tree.prove_inclusion(index + 1, size)  # pymerkle counts leaves from 1

    def verify_inclusion(self, proof: Any, index: int, size: int, leaf: bytes,
                         root: bytes) -> None:
        self.pm.verify_inclusion(leaf, root, proof, index=index + 1, size=size)

    def rfc_inclusion(self, proof: Any) -> list[bytes]:
        return list(proof.path[1:])  # the leaf hash, then RFC 9162's PATH bottom-up

    def prove_consistency(self, size1: int, size2: int) -> Any:
        return self.tree.prove_consistency(size1, size2)

    def verify_consistency(self, proof: Any, size1: int, size2: int, root1: bytes,
                           root2: bytes) -> None:
        self.pm.verify_consistency(root1, root2, proof, prior_size=size1, later_size=size2)

    def rfc_consistency(self, proof: Any) -> list[bytes] | None:
        return None  # laid out differently from RFC 9162's PROOF

    def storage(self) -> dict[str, Any]:
        return {"bytes": None, "what": "in memory"}

    def facts(self) -> dict[str, Any]:
        return {"batch_commit": "none (in memory)", "threshold": self.tree.threshold,
                "security": self.tree.security}

    def close(self) -> None:
        self.tree = None


class PymerkleSqliteSystem(PymerkleMemSystem):
    key = "pymerkle_sqlite"
    durable = True

    def __init__(self, work: Path) -> None:
        import pymerkle

        self.pm = pymerkle
        self.path = work / "pymerkle.db"
        self.tree = pymerkle.SqliteTree(str(self.path), algorithm="sha256")

    def storage(self) -> dict[str, Any]:
        return {"bytes": self.path.stat().st_size, "what": "SQLite file"}

    def facts(self) -> dict[str, Any]:
        con = self.tree.con
        return {"batch_commit": "append_entries: one SQLite transaction per batch",
                "journal_mode": con.execute("PRAGMA journal_mode").fetchone(),
                "synchronous": con.execute("PRAGMA synchronous").fetchone(),
                "sqlite_library": sqlite3.sqlite_version,
                "threshold": self.tree.threshold, "cache_capacity": self.tree.capacity,
                "security": self.tree.security}

    def close(self) -> None:
        self.tree.close()


class TlogScalesSystem:
    key = "tlog_scales"
    durable = True

    def __init__(self, work: Path) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from tlog_scales import backend, reader, signing, tiles, tlog, writer

        self.backend, self.reader_mod, self.tiles, self.tlog = backend, reader, tiles, tlog
        self.path = work / "tlog"
        self.writer = writer.TilesWriter.create(self.path, ORIGIN)
        key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
        self.signer = signing.PlainEd25519Signer(ORIGIN, key)
        self.reader: Any = None

    def append(self, batch: Sequence[bytes]) -> None:
        add = self.writer.add_leaf
        for data in batch:
            add(data)
        self.writer.commit([self.signer])
        self.reader = None

    def _reader(self) -> Any:
        if self.reader is None:
            self.reader = self.reader_mod.TilesReader(self.backend.LocalBackend(self.path))
            self.reader.get_checkpoint()
        return self.reader

    def root(self, size: int) -> bytes:
        return bytes(self._reader().mth(0, size))

    def prove_inclusion(self, index: int, size: int) -> Any:
        return self._reader().get_inclusion_proof(index, size)

    def verify_inclusion(self, proof: Any, index: int, size: int, leaf: bytes,
                         root: bytes) -> None:
        if proof.leaf_index != index or proof.tree_size != size:
            raise ValueError("tlog-scales proof for another index or size")
        proof.check(leaf, root)

    def rfc_inclusion(self, proof: Any) -> list[bytes]:
        return list(proof.node_hashes)

    def prove_consistency(self, size1: int, size2: int) -> Any:
        return self._reader().get_consistency_proof(size1, size2)

    def verify_consistency(self, proof: Any, size1: int, size2: int, root1: bytes,
                           root2: bytes) -> None:
        if proof.old_size != size1 or proof.new_size != size2:
            raise ValueError("tlog-scales proof for other sizes")
        proof.check(root1, root2)

    def rfc_consistency(self, proof: Any) -> list[bytes] | None:
        return list(proof.node_hashes)

    def storage(self) -> dict[str, Any]:
        size, alloc = _tree_bytes(self.path)
        return {"bytes": size, "allocated_bytes": alloc,
                "what": "tile, entry-bundle and checkpoint files (apparent size)"}

    def facts(self) -> dict[str, Any]:
        return {"batch_commit": "TilesWriter.commit per batch: atomic fsynced files, "
                                "Ed25519-signed checkpoint"}

    def close(self) -> None:
        self.reader = None


CLASSES: dict[str, type] = {
    "ledger": LedgerSystem,
    "pymerkle_mem": PymerkleMemSystem,
    "pymerkle_sqlite": PymerkleSqliteSystem,
    "tlog_scales": TlogScalesSystem,
}


# ------------------------------------------------------------------------------------------
# Measuring one system


def _timed(fn: Callable[[Any], Any], args: Sequence[Any]) -> tuple[list[Any], list[float]]:
    out: list[Any] = []
    times: list[float] = []
    clock = time.perf_counter
    for a in args:
        t0 = clock()
        out.append(fn(a))
        times.append(clock() - t0)
    return out, times


def _summary(times: list[float]) -> dict[str, float]:
    return {"mean_us": sum(times) / len(times) * 1e6,
            "median_us": statistics.median(times) * 1e6,
            "first_us": times[0] * 1e6, "max_us": max(times) * 1e6}


def measure(key: str, leaves: list[bytes], hashes: list[bytes], idx: list[int],
            olds: list[int], roots: Callable[[int], bytes], work: Path, *,
            cap_seconds: float, batch: int, log: Log) -> dict[str, Any]:
    """All figures of one system on ``leaves``; raises if a cross-check fails."""
    n = len(leaves)
    label = LABELS[key]
    res: dict[str, Any] = {"system": key, "label": label,
                           "version": version(PACKAGES[key]) if key in PACKAGES else "this tree"}
    try:
        system = CLASSES[key](work)
    except ImportError as exc:
        res.update(available=False, reason=f"not installed ({exc})")
        log(f"  {label}: n/a ({exc})")
        return res
    res.update(available=True, durable=system.durable)
    try:
        # 1. Raw leaf append, in batches.
        batch_s: list[float] = []
        t0 = time.perf_counter()
        done = 0
        while done < n:
            part = leaves[done:done + batch]
            tb = time.perf_counter()
            system.append(part)
            batch_s.append(time.perf_counter() - tb)
            done += len(part)
            if time.perf_counter() - t0 > cap_seconds and done < n:
                log(f"  {label}: stopped at {done:,} of {n:,} leaves after the "
                    f"{cap_seconds:g} s cap")
                break
        append_s = time.perf_counter() - t0
        size = done
        res.update(size=size, capped=size < n, append_seconds=append_s,
                   append_us_per_leaf=append_s / size * 1e6,
                   last_batch_us_per_leaf=batch_s[-1] / min(batch, size - batch * (len(batch_s) - 1)) * 1e6,
                   batches=len(batch_s), batch_seconds=batch_s)
        log(f"  {label}: appended {size:,} in {append_s:.2f} s, "
            f"{res['append_us_per_leaf']:.2f} µs/leaf")
        res["storage"] = system.storage()
        st_bytes = res["storage"]["bytes"]
        res["storage_bytes_per_leaf"] = None if st_bytes is None else st_bytes / size
        res["facts"] = system.facts()

        # 2. Roots: at the size reached, and at a sample of smaller sizes.
        root = system.root(size)
        res["root"] = root.hex()
        res["root_matches"] = root == roots(size)
        sample = sorted({m for m in olds if m < size})[:CHECK_SAMPLE] if size > 1 else []
        res["sample_roots_match"] = all(system.root(m) == roots(m) for m in sample)
        if not (res["root_matches"] and res["sample_roots_match"]):
            raise SystemExit(f"peers: {label}'s root at {size:,} is {root.hex()}, the reference "
                             f"root is {roots(size).hex()}: the trees disagree")
        ref_root = roots(size)

        # 3. Inclusion proofs at the size reached.
        ix = [i % size for i in idx]
        proofs, times = _timed(lambda i: system.prove_inclusion(i, size), ix)
        res["inclusion_proof"] = _summary(times)
        res["inclusion_proof_us"] = res["inclusion_proof"]["mean_us"]
        inc_args = list(zip(proofs, ix))
        _, times = _timed(lambda a: system.verify_inclusion(a[0], a[1], size, hashes[a[1]],
                                                            ref_root), inc_args)
        res["inclusion_verify"] = _summary(times)
        res["inclusion_verify_us"] = res["inclusion_verify"]["mean_us"]
        rfc = [system.rfc_inclusion(p) for p in proofs[:CHECK_SAMPLE]]
        res["_rfc_inclusion_sample"] = rfc

        # 4. Consistency proofs from random smaller sizes to the size reached.
        ms = [m % size or 1 for m in olds] if size > 1 else []
        if ms:
            cproofs, times = _timed(lambda m: system.prove_consistency(m, size), ms)
            res["consistency_proof"] = _summary(times)
            res["consistency_proof_us"] = res["consistency_proof"]["mean_us"]
            old_roots = [roots(m) for m in ms]
            con_args = list(zip(cproofs, ms, old_roots))
            _, times = _timed(lambda a: system.verify_consistency(a[0], a[1], size, a[2],
                                                                  ref_root), con_args)
            res["consistency_verify"] = _summary(times)
            res["consistency_verify_us"] = res["consistency_verify"]["mean_us"]
            res["_rfc_consistency_sample"] = [system.rfc_consistency(p)
                                              for p in cproofs[:CHECK_SAMPLE]]
        log(f"  {label}: inclusion {res['inclusion_proof_us']:.1f} µs "
            f"(verify {res['inclusion_verify_us']:.1f}), consistency "
            f"{res.get('consistency_proof_us', 0):.1f} µs "
            f"(verify {res.get('consistency_verify_us', 0):.1f})")
    finally:
        system.close()
        gc.collect()
    return res


# ------------------------------------------------------------------------------------------
# One size


def run(n: int, work: Path, *, systems: Sequence[str] = SYSTEMS, proofs: int = PROOFS,
        batch: int = BATCH, cap_seconds: float = DEFAULT_CAP_SECONDS, seed: int = SEED,
        log: Log = _stderr) -> dict[str, Any]:
    """Measure every system in ``systems`` on the same ``n`` leaves; return the figures."""
    if n < 2:
        raise ValueError("peers: want at least 2 leaves")
    started = time.perf_counter()
    log(f"N={n:,}: peers: making {n:,} leaves of {LEAF_BYTES} bytes")
    leaves = make_leaves(n, seed)
    hashes = [merkle.leaf_hash(x) for x in leaves]
    rng = random.Random(seed + n)
    idx = [rng.randrange(n) for _ in range(proofs)]
    olds = [rng.randrange(1, n) for _ in range(proofs)]
    # Reference roots: RFC 9162 MTH of every prefix that any check needs, from one pass.
    need = set(olds) | {n}
    ref: dict[int, bytes] = {}
    cr = merkle.CompactRange()
    for h in hashes:
        cr.append(h)
        if cr.size in need:
            ref[cr.size] = cr.root()
    if ref[n] != merkle.root_of(hashes):
        raise SystemExit("peers: CompactRange and root_of disagree on the reference root")

    def roots(size: int) -> bytes:
        if size not in ref:  # a capped system's size: compute it from the leaf hashes
            ref[size] = merkle.root_of(hashes[:size])
        return ref[size]

    out: dict[str, Any] = {"n": n, "leaf_bytes": LEAF_BYTES, "batch": min(batch, n),
                           "proofs": proofs, "seed": seed, "reference_root": ref[n].hex(),
                           "cap_seconds": cap_seconds, "systems": {}}
    for key in systems:
        d = work / f"peers-{key}-{n}"
        d.mkdir(parents=True, exist_ok=True)
        try:
            log(f"N={n:,}: peers: {LABELS[key]}")
            out["systems"][key] = measure(key, leaves, hashes, idx, olds, roots, d,
                                          cap_seconds=cap_seconds, batch=batch, log=log)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    _cross_check(out)
    out["wall_seconds"] = time.perf_counter() - started
    return out


def _cross_check(out: dict[str, Any]) -> None:
    """Compare each peer's sample of proofs with the ledger's (when both reached the same size)."""
    systems = out["systems"]
    led = systems.get("ledger")
    present = [s for s in systems.values() if s.get("available")]
    out["roots_agree"] = all(s["root_matches"] and s["sample_roots_match"] for s in present)
    out["roots_compared"] = [s["system"] for s in present]
    led_inc = led_con = None
    if led is not None and led.get("available"):
        led_inc = led.pop("_rfc_inclusion_sample", None)
        led_con = led.pop("_rfc_consistency_sample", None)
    for s in present:
        inc = s.pop("_rfc_inclusion_sample", None)
        con = s.pop("_rfc_consistency_sample", None)
        if led_inc is None or s is led or s["size"] != led["size"]:
            continue
        s["inclusion_proofs_equal_ledger"] = inc == led_inc
        if con is not None and all(c is not None for c in con):
            s["consistency_proofs_equal_ledger"] = con == led_con
        else:
            s["consistency_proofs_equal_ledger"] = None  # another layout: not comparable


# ------------------------------------------------------------------------------------------
# Report


def _cell(s: dict[str, Any] | None, key: str, fmt: str) -> str:
    if s is None or not s.get("available"):
        return "n/a"
    v = s.get(key)
    if v is None:
        return "-"
    text = fmt.format(v)
    return text + ("*" if s.get("capped") and key != "storage_bytes_per_leaf" else "")


def table(results: list[dict[str, Any]], systems: Sequence[str] = SYSTEMS) -> str:
    """Rows: figure × size; columns: the systems, then the ledger's target at 10^6."""
    rows: list[tuple[str, str | tuple[str, str], str]] = [
        ("raw leaf append, batched", "append_us_per_leaf", "{:,.2f} µs/leaf"),
        ("  last batch only", "last_batch_us_per_leaf", "{:,.2f} µs/leaf"),
        ("inclusion proof generation", "inclusion_proof_us", "{:,.1f} µs"),
        ("  median", ("inclusion_proof", "median_us"), "{:,.1f} µs"),
        ("  first call (cold)", ("inclusion_proof", "first_us"), "{:,.0f} µs"),
        ("inclusion proof verification", "inclusion_verify_us", "{:,.1f} µs"),
        ("consistency proof generation", "consistency_proof_us", "{:,.1f} µs"),
        ("consistency proof verification", "consistency_verify_us", "{:,.1f} µs"),
        ("storage / leaf", "storage_bytes_per_leaf", "{:,.0f} B"),
    ]
    head = ["figure", "N"] + [LABELS[k] for k in systems] + ["ledger target (10^6)"]
    body: list[list[str]] = []
    for label, key, fmt in rows:
        for j, r in enumerate(results):
            cells = [label if j == 0 else "", f"{r['n']:,}"]
            for k in systems:
                s = r["systems"].get(k)
                if isinstance(key, tuple):
                    sub = None if s is None else {**s, "_v": (s.get(key[0]) or {}).get(key[1])}
                    cells.append(_cell(sub, "_v", fmt))
                else:
                    cells.append(_cell(s, key, fmt))
            tgt = TARGETS.get(key, "") if isinstance(key, str) else ""
            cells.append(tgt if j == 0 else "")
            body.append(cells)
    for j, r in enumerate(results):
        cells = ["durable commit per batch" if j == 0 else "", f"{r['n']:,}"]
        for k in systems:
            s = r["systems"].get(k)
            cells.append("n/a" if not s or not s.get("available")
                         else ("yes" if s["durable"] else "no"))
        body.append(cells + [""])
    for j, r in enumerate(results):
        cells = ["root = RFC 9162 reference" if j == 0 else "", f"{r['n']:,}"]
        for k in systems:
            s = r["systems"].get(k)
            cells.append("n/a" if not s or not s.get("available")
                         else ("yes" if s["root_matches"] and s["sample_roots_match"] else "NO"))
        body.append(cells + [""])
    for j, r in enumerate(results):
        cells = ["proofs = ledger's (sample)" if j == 0 else "", f"{r['n']:,}"]
        for k in systems:
            s = r["systems"].get(k)
            if k == "ledger":
                cells.append("-")
            elif not s or not s.get("available"):
                cells.append("n/a")
            else:
                inc = s.get("inclusion_proofs_equal_ledger")
                con = s.get("consistency_proofs_equal_ledger")
                txt = {True: "yes", False: "NO", None: "-"}
                cells.append(f"incl {txt[inc]}, cons "
                             f"{'other layout' if con is None else txt[con]}")
        body.append(cells + [""])
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(row, widths))) for row in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = []
    for r in results:
        for k in systems:
            s = r["systems"].get(k)
            if s and s.get("capped"):
                notes.append(f"* {LABELS[k]} at N = {r['n']:,}: stopped after the "
                             f"{r['cap_seconds']:g} s cap at {s['size']:,} leaves; its "
                             f"µs/leaf is the rate measured up to there (a full run would "
                             f"take about {s['append_us_per_leaf'] * r['n'] / 1e6:,.0f} s) "
                             f"and its proofs are at size {s['size']:,}")
    agree = all(r.get("roots_agree") for r in results)
    notes.append("roots: " + ("every system's root equals the RFC 9162 reference root at every "
                              "size checked" if agree else "DISAGREEMENT, see the JSON"))
    notes.append(f"leaves: {LEAF_BYTES}-byte entries from a seeded RNG, the same for every "
                 f"system; appends in batches of {results[0]['batch']:,}; proofs over "
                 f"{results[0]['proofs']:,} random indices / sizes")
    return "\n".join(lines) + "\n" + "\n".join(notes)


def versions() -> dict[str, str | None]:
    return {"pymerkle": version("pymerkle"), "tlog-scales": version("tlog-scales"),
            "sqlite_library": sqlite3.sqlite_version}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000", help="comma-separated sizes (default 10000)")
    p.add_argument("--systems", default=",".join(SYSTEMS),
                   help=f"comma-separated subset of {', '.join(SYSTEMS)}")
    p.add_argument("--proofs", type=int, default=PROOFS, help="proofs per kind (default 1000)")
    p.add_argument("--cap", type=float, default=DEFAULT_CAP_SECONDS,
                   help="stop a system's appends after this many seconds (default 600)")
    p.add_argument("--tmpdir", help="where to build the stores")
    p.add_argument("--out", help="also write the figures as JSON here")
    args = p.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    bad = [s for s in systems if s not in SYSTEMS]
    if bad:
        p.error(f"--systems: unknown {', '.join(bad)}")
    results = []
    with tempfile.TemporaryDirectory(prefix="credledger-peers-", dir=args.tmpdir) as d:
        for n in sizes:
            results.append(run(n, Path(d), systems=systems, proofs=args.proofs,
                               cap_seconds=args.cap))
    print(table(results, systems))
    if args.out:
        Path(args.out).write_text(json.dumps({"versions": versions(), "results": results},
                                             indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
