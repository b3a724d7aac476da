"""Benchmark the ledger: append rates, proofs, checkpoints, bundles, audits, storage, and peers.

A plain script (no pytest): in a temporary directory it builds, for each size N, a ledger with
one registered issuer and N issuance events, measures the figures that README.md lists, prints
an aligned table and writes JSON with the Python and library versions and the machine facts. It also
times a cold ``credledger verify`` (a fresh process each time) against a bare interpreter that
imports cryptography's Ed25519 binding and msgpack.
The same run also measures the machine's reference figures (raw Ed25519 verify on one core, a
durable LMDB put), so the ledger's rates can be read against what the hardware allows, and
(benchmarks/peers.py) compares the ledger's Merkle tree with pymerkle (in memory and SQLite)
and tlog-scales on the same N leaves: raw append, inclusion and consistency proofs. The peers
are optional (the ``bench`` extra); those not installed show "n/a".

    python benchmarks/bench.py                       # N = 10,000 and 100,000, with the peers
    python benchmarks/bench.py --quick               # N = 2,000 (CI smoke run), with the peers
    python benchmarks/bench.py --full                # N = 10^4, 10^5 and 10^6 (long)
    python benchmarks/bench.py --sizes 1000000 --peers-only
    python benchmarks/bench.py --sizes 50000 --no-peers --out /tmp/b.json
    python benchmarks/bench.py --profile 10000       # cProfile one batch append: top functions
    python benchmarks/bench.py --cold-only           # only the cold start of credledger verify

Progress goes to stderr; the tables to stdout. See benchmarks/README.md for what each figure
means.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import io
import json
import os
import platform
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
PYTHONPATH_BEFORE = os.environ.get("PYTHONPATH")  # the cold start runs without ROOT added below
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # benchmarks/peers.py
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
    # Worker processes (forkserver) must find the package too.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)

import lmdb
import peers

import ledger.log
import ledger.parallel
from ledger.audit import audit_store
from ledger.bundle import build_bundle, dump_bundle
from ledger.events import (
    ISSUE,
    REGISTER_ACHIEVEMENT,
    REGISTER_ISSUER,
    SignedStatement,
    make_statement,
    sign_statement,
    signing_message,
)
from ledger.log import Ledger
from ledger.note import Signer, parse_verifier
from ledger.parallel import default_workers
from ledger.store import DATA_FILE, DB_NAMES
from ledger.tileaudit import audit_tiles
from ledger.tiles import export_tiles
from ledger.verify import verify_bundle

BATCH = 10_000
DEFAULT_SIZES = (10_000, 100_000)
FULL_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (2_000,)
QUICK_PEER_PROOFS = 200
SINGLE_APPENDS = 200
PROOFS = 1_000
CHECKPOINTS = 20
BUNDLES = 200
REF_VERIFY = 5_000
REF_PUTS = 200
ISSUER = "uni"
ORIGIN = "bench.credledger.example/log"
SEED = 20240601
COLD_RUNS = 20
QUICK_COLD_RUNS = 5
COLD_WARMUPS = 3
COLD_BASELINE = "import cryptography.hazmat.primitives.asymmetric.ed25519, msgpack"
COLD_FLOOR = ("import msgpack, json, hashlib, dataclasses, re, typing, binascii, "
              "cryptography.hazmat.primitives.asymmetric.ed25519")
"""The libraries a verify imports before any of the ledger's own code runs: msgpack, the
standard library modules the verifier's modules import, and OpenSSL's Ed25519 (through
cryptography), which checks its signatures."""


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# Data


ACHIEVEMENT = "ade101"
"""The achievement every benchmark issuance awards (registered right after the issuer)."""


def handle(n: int) -> str:
    """Credential ``n``'s handle: a valid lower-case ``urn:uuid:`` (version 4) that is a
    function of ``n`` (as tests/statements.py builds them; the benchmarks do not import the
    tests). Issuing draws random ones; the log cannot tell the difference."""
    return f"urn:uuid:{uuid.UUID(int=n, version=4)}"


def issue_statements(issuer: Signer, start: int, count: int) -> tuple[list[SignedStatement], float]:
    """``count`` signed entry format 2 ``issue`` statements of credentials ``start...``
    (:func:`handle`; status index ``n``, distinct below 2**23; a digest standing in for the
    credential's; valid five years) and the seconds signing took. No Open Badges credential
    is built: these measure the log, not RDFC-1.0 (the end-to-end issue does that)."""
    now = ledger.log.now_ms()
    valid_from = now - now % 1000
    expires = valid_from + 5 * 365 * 86_400_000
    t0 = time.perf_counter()
    out = []
    for i in range(start, start + count):
        digest = hashlib.sha256(b"credential digest %d" % i).digest()
        st = make_statement(ISSUE, ISSUER, now, handle(i), digest, ACHIEVEMENT, valid_from,
                            expires, i, [])
        out.append(sign_statement(st, issuer.seed))
    return out, time.perf_counter() - t0


def new_ledger(path: Path, issuer: Signer | None = None) -> tuple[Ledger, Signer]:
    """A new store with ``issuer`` (default: a new key) registered as entry 0 and its
    achievement ACHIEVEMENT as entry 1 (an ``issue`` must name a registered one)."""
    led, _, registry = Ledger.create(path, ORIGIN, workers=default_workers())
    issuer = issuer or Signer.generate(ISSUER)
    now = ledger.log.now_ms()
    st = make_statement(REGISTER_ISSUER, ISSUER, now, "Example University",
                        "https://uni.example", issuer.public_key)
    led.append([sign_statement(st, registry.seed)])
    ach = make_statement(REGISTER_ACHIEVEMENT, ISSUER, now, ACHIEVEMENT,
                         "Applied Data Engineering", "Pipelines, storage and streams.",
                         "Pass the final project.", "Course")
    led.append([sign_statement(ach, issuer.seed)])
    return led, issuer


@contextlib.contextmanager
def parallel_disabled() -> Iterator[None]:
    saved = ledger.parallel.PARALLEL_THRESHOLD
    ledger.parallel.PARALLEL_THRESHOLD = 1 << 62
    try:
        yield
    finally:
        ledger.parallel.PARALLEL_THRESHOLD = saved


VERIFY_HOOKS = ("verify_statements",)
"""The up-front signature-check functions of ``ledger.parallel`` that the append timing wraps."""


@contextlib.contextmanager
def timed_verification(acc: list[float]) -> Iterator[None]:
    """Add to ``acc`` the seconds of each up-front signature check inside ``Ledger.append``.

    Wraps whichever of :data:`VERIFY_HOOKS` exist in ``ledger.parallel`` (a call nested in another
    is counted once). If ``append`` checks signatures some other way (say, overlapped with its
    write transaction), nothing is added, and the share of signature checks is reported as
    unknown rather than as zero.
    """
    saved = {name: getattr(ledger.parallel, name) for name in VERIFY_HOOKS
             if hasattr(ledger.parallel, name)}
    depth = 0

    def wrap(real: Callable[[Sequence[SignedStatement]], Any]) -> Callable[..., Any]:
        def wrapper(items: Sequence[SignedStatement]) -> Any:
            nonlocal depth
            depth += 1
            t0 = time.perf_counter()
            try:
                return real(items)
            finally:
                depth -= 1
                if depth == 0:
                    acc.append(time.perf_counter() - t0)
        return wrapper

    for name, real in saved.items():
        setattr(ledger.parallel, name, wrap(real))
    try:
        yield
    finally:
        for name, real in saved.items():
            setattr(ledger.parallel, name, real)


def start_pool() -> float:
    """Start the signature workers (as the first big batch of a process would) and return the
    seconds that took: nothing once they run."""
    workers = min(os.cpu_count() or 1, 8)
    t0 = time.perf_counter()
    pool = ledger.parallel.worker_pool(workers)
    for f in [pool.submit(ledger.parallel._check_signatures, (0, [])) for _ in range(2 * workers)]:
        f.result()
    return time.perf_counter() - t0


def append_batches(led: Ledger, items: list[SignedStatement], label: str,
                   probe: RawProbe | None = None) -> dict[str, Any]:
    """Append ``items`` in batches of BATCH; the rate counts the batches' own time only (not
    the ``probe``'s readings, taken before the first batch and after each one)."""
    calls: list[float] = []
    verify_s: list[float | None] = []
    batch_s: list[float] = []
    first_reading = probe.start() if probe is not None else 0
    t0 = time.perf_counter()
    with timed_verification(calls):
        for i in range(0, len(items), BATCH):
            before = len(calls)
            tb = time.perf_counter()
            led.append(items[i:i + BATCH])
            batch_s.append(time.perf_counter() - tb)
            if probe is not None:
                probe.read()
            verify_s.append(sum(calls[before:]) if len(calls) > before else None)
            done = min(i + BATCH, len(items))
            el = sum(batch_s)
            v = verify_s[-1]
            split = ("signature checks not separable" if v is None else
                     f"verify {v:.2f} s, rest {batch_s[-1] - v:.2f} s")
            log(f"  {label}: {done:,}/{len(items):,} appended, {el:.1f} s, {done / el:,.0f} ev/s"
                f" (this batch: {batch_s[-1]:.2f} s; {split})")
    total = sum(batch_s)
    last = len(items) - (len(batch_s) - 1) * BATCH
    verify = None if any(v is None for v in verify_s) else sum(v for v in verify_s if v)
    out: dict[str, Any] = {"seconds": total, "rate": len(items) / total,
                           "verify_seconds": verify,
                           "commit_seconds": None if verify is None else total - verify,
                           "batch_seconds": batch_s, "batch_verify_seconds": verify_s,
                           "last_batch_rate": last / batch_s[-1],
                           "wall_seconds": time.perf_counter() - t0}
    if probe is not None:
        out["raw_around"] = probe.since(first_reading)
    return out


def mean_us(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


# ------------------------------------------------------------------------------------------
# Storage


def storage(path: Path, data_size: int, n: int) -> dict[str, Any]:
    """Bytes per event, total and per named database (the env must not be open elsewhere in
    this process: LMDB forbids opening one environment twice in a process)."""
    data = path / DATA_FILE
    st = data.stat()
    out: dict[str, Any] = {
        "data_size_bytes": data_size,
        "data_size_per_event": data_size / n,
        "file_bytes": st.st_size,
        "file_per_event": st.st_size / n,
        "file_allocated_bytes": st.st_blocks * 512,
        "databases": {},
    }
    env = lmdb.open(str(path), readonly=True, max_dbs=16, lock=True)
    try:
        used = 0
        with env.begin() as txn:
            for name in DB_NAMES:
                db = env.open_db(name.encode(), txn=txn, create=False)
                s = txn.stat(db)
                pages = s["branch_pages"] + s["leaf_pages"] + s["overflow_pages"]
                nbytes = pages * s["psize"]
                used += nbytes
                out["databases"][name] = {
                    "entries": s["entries"], "depth": s["depth"], "pages": pages,
                    "psize": s["psize"], "bytes": nbytes, "bytes_per_event": nbytes / n,
                }
        other = data_size - used
        out["databases"]["(free pages, residual)"] = {"bytes": other, "bytes_per_event": other / n}
    finally:
        env.close()
    return out


# ------------------------------------------------------------------------------------------
# Machine reference figures


def _signed(items: list[SignedStatement], n: int) -> list[tuple[bytes, bytes, bytes]]:
    """(public key, signed message, signature) of the first ``n`` statements."""
    return [(s.signer, signing_message(s.statement), s.signature) for s in items[:n]]


def verify_rates(sample: list[tuple[bytes, bytes, bytes]]) -> dict[str, float]:
    """One core's raw Ed25519 verify rate over ``sample``: ``cryptography`` (OpenSSL),
    ``pynacl`` (PyNaCl's VerifyKey.verify) and ``sign_open`` (PyNaCl's crypto_sign_open, as
    the ledger's workers call it, without the VerifyKey object; the libsodium bar is the faster
    of the two). A binding that is not installed is left out."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    out: dict[str, float] = {}
    t0 = time.perf_counter()
    for pub, msg, sig in sample:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
    out["cryptography"] = len(sample) / (time.perf_counter() - t0)
    try:
        from nacl.signing import VerifyKey
    except ImportError:
        return out
    t0 = time.perf_counter()
    for pub, msg, sig in sample:
        VerifyKey(pub).verify(msg, sig)
    out["pynacl"] = len(sample) / (time.perf_counter() - t0)
    from nacl.bindings import crypto_sign_open

    t0 = time.perf_counter()
    for pub, msg, sig in sample:
        crypto_sign_open(sig + msg, pub)  # raises for a signature that does not verify
    out["sign_open"] = len(sample) / (time.perf_counter() - t0)
    return out


def raw_verify_rates(items: list[SignedStatement]) -> dict[str, Any]:
    """One core's raw Ed25519 verify rates (:func:`verify_rates`) over the first REF_VERIFY
    statements, as the reference rows show them."""
    sample = _signed(items, REF_VERIFY)
    ref: dict[str, Any] = {"verify_sample": len(sample), "ed25519_verify_pynacl_per_s": None}
    for binding, rate in verify_rates(sample).items():
        ref[f"ed25519_verify_{binding}_per_s"] = rate
    return ref


PROBE_SIGNATURES = 300
"""Signatures per binding in each reading of a :class:`RawProbe`."""


class RawProbe:
    """Reads one core's raw Ed25519 verify rate again and again during a size's run: before a
    measured phase, between its batches and after it. The machine's speed wanders by up to 2x
    from one minute to the next, so a rate is compared with the raw rates read around it
    (their mean) rather than with readings taken minutes away."""

    def __init__(self, items: list[SignedStatement]) -> None:
        self.sample = _signed(items, PROBE_SIGNATURES)
        self.readings: list[dict[str, float]] = []

    def read(self) -> None:
        self.readings.append(verify_rates(self.sample))

    def start(self) -> int:
        """Take a reading before a measured phase; where the phase's readings start."""
        first = len(self.readings)
        self.read()
        return first

    def since(self, start: int) -> dict[str, Any]:
        """The mean rate of each binding over the readings from ``start`` on."""
        taken = self.readings[start:]
        means: dict[str, Any] = {"readings": len(taken)}
        for binding in ("cryptography", "pynacl", "sign_open"):
            values = [t[binding] for t in taken if binding in t]
            if values:
                means[binding] = sum(values) / len(values)
        return means


def reference(items: list[SignedStatement]) -> dict[str, Any]:
    ref = raw_verify_rates(items)
    # The ledger's own per-item check: strict decode + signature, one core.
    t0 = time.perf_counter()
    for s in items[:REF_VERIFY]:
        s.verify()
    ref["statement_verify_per_s"] = len(items[:REF_VERIFY]) / (time.perf_counter() - t0)
    with tempfile.TemporaryDirectory(prefix="credledger-ref-", dir=TMPDIR) as d:
        env = lmdb.open(d, map_size=64 << 20, sync=True, metasync=True)
        try:
            t0 = time.perf_counter()
            for i in range(REF_PUTS):
                with env.begin(write=True) as txn:
                    txn.put(i.to_bytes(8, "big"), b"x" * 300)
            ref["lmdb_durable_put_txn_per_s"] = REF_PUTS / (time.perf_counter() - t0)
        finally:
            env.close()
    return ref


# ------------------------------------------------------------------------------------------
# One size


def run_size(n: int, work: Path, rng: random.Random) -> dict[str, Any]:
    res: dict[str, Any] = {"n": n, "batch": min(BATCH, n)}
    res["parallel_engaged"] = (min(BATCH, n) >= ledger.parallel.PARALLEL_THRESHOLD
                               and (os.cpu_count() or 1) >= 2)
    path = work / f"n{n}"
    led, issuer = new_ledger(path)
    log(f"N={n:,}: signing {n:,} issuance statements")
    items, sign_s = issue_statements(issuer, 0, n)
    res["sign_per_s"] = n / sign_s
    res["reference"] = reference(items)
    raw = res["reference"]["ed25519_verify_cryptography_per_s"]
    log(f"N={n:,}: reference: raw Ed25519 verify {raw:,.0f}/s on one core")

    # Batch append, parallel verification as shipped, with the worker pool already running:
    # starting it is a one-off per process, reported on its own.
    res["pool_start_seconds"] = start_pool() if res["parallel_engaged"] else None
    log(f"N={n:,}: batch append (parallel verification)")
    probe = RawProbe(items)
    res["batch_append"] = append_batches(led, items, "parallel", probe)
    # Storage right after the N issuances (N + 2 entries with the two registrations).
    data_size = led.store.data_size()
    led.close()
    res["storage"] = storage(path, data_size, n)
    led = Ledger.open(path, workers=default_workers())
    # A compacted copy (credledger backup) leaves LMDB's free pages behind.
    t0 = time.perf_counter()
    led.backup(work / f"n{n}-backup")
    res["backup_seconds"] = time.perf_counter() - t0
    res["backup_bytes_per_event"] = (work / f"n{n}-backup" / "data.mdb").stat().st_size / n
    shutil.rmtree(work / f"n{n}-backup", ignore_errors=True)

    # The same data, serial verification, in a second store.
    log(f"N={n:,}: batch append (parallel verification disabled)")
    spath = work / f"n{n}-serial"
    sled, _ = new_ledger(spath, issuer)  # same issuer key: the same signed statements apply
    with parallel_disabled():
        res["batch_append_serial"] = append_batches(sled, items, "serial", probe)
    sled.close()

    # Single durable appends.
    log(f"N={n:,}: {SINGLE_APPENDS} single durable appends")
    singles, _ = issue_statements(issuer, n, SINGLE_APPENDS)
    lat = []
    for s in singles:
        t0 = time.perf_counter()
        led.append([s])
        lat.append(time.perf_counter() - t0)
    res["single_append_per_s"] = SINGLE_APPENDS / sum(lat)
    res["single_append_median_ms"] = statistics.median(lat) * 1e3
    res["single_append_max_ms"] = max(lat) * 1e3

    # Proofs against the tree of size N.
    log(f"N={n:,}: proofs")
    idx = [rng.randrange(n) for _ in range(PROOFS)]
    it = iter(idx)
    res["inclusion_proof_us"] = mean_us(lambda: led.inclusion_proof(next(it), n), PROOFS)
    sizes1 = [rng.randrange(1, n + 1) for _ in range(PROOFS)]
    it1 = iter(sizes1)
    res["consistency_proof_us"] = mean_us(lambda: led.consistency_proof(next(it1), n), PROOFS)
    res["inclusion_proof_hashes_mean"] = (
        sum(len(led.inclusion_proof(i, n)) for i in idx[:100]) / 100)

    # Checkpoints, each over one new event so that it really signs.
    log(f"N={n:,}: checkpoints")
    extra, _ = issue_statements(issuer, n + SINGLE_APPENDS, CHECKPOINTS)
    cp = []
    for s in extra:
        led.append([s])
        t0 = time.perf_counter()
        led.checkpoint()
        cp.append(time.perf_counter() - t0)
    res["checkpoint_ms"] = sum(cp) / CHECKPOINTS * 1e3
    res["checkpoint_median_ms"] = statistics.median(cp) * 1e3

    # Bundles for random credentials, against the latest checkpoint.
    log(f"N={n:,}: bundles")
    creds = [(ISSUER, handle(rng.randrange(n))) for _ in range(BUNDLES)]
    t0 = time.perf_counter()
    bundles = [build_bundle(led, [c]) for c in creds]
    res["bundle_build_ms"] = (time.perf_counter() - t0) / BUNDLES * 1e3
    texts = [dump_bundle(b) for b in bundles]
    res["bundle_bytes_mean"] = sum(len(t) for t in texts) / len(texts)
    key = parse_verifier(led.log_vkey())
    at = ledger.log.now_ms()
    t0 = time.perf_counter()
    for text in texts:
        verdict = verify_bundle(text, log_key=key, at=at)
    res["bundle_verify_ms"] = (time.perf_counter() - t0) / BUNDLES * 1e3
    if not verdict.valid:  # a benchmark of a failing check would mean nothing
        raise SystemExit(f"bench: a bundle did not verify as VALID: {verdict.as_dict()}")
    res["bundle_build_us"] = res["bundle_build_ms"] * 1e3
    res["bundle_verify_us"] = res["bundle_verify_ms"] * 1e3

    # Audits: a full replay of every entry from the store, then from exported tiles. A failure
    # here is reported (in the table and the JSON) rather than losing the whole run's figures.
    try:
        audits(led, key, n, work, res, probe)
    except Exception as exc:  # noqa: BLE001
        res["audit_error"] = f"{exc.__class__.__name__}: {exc}"
        log(f"N={n:,}: AUDIT FAILED: {res['audit_error']}")
    led.close()
    # The raw rates again, after the size's run (the ratios use the readings taken around
    # each figure; these before and after readings are for the reference rows).
    res["reference_after"] = raw_verify_rates(items)
    return res


def audits(led: Ledger, key: Any, n: int, work: Path, res: dict[str, Any],
           probe: RawProbe | None = None) -> None:
    """Audit replay from the store, tiles export, audit replay from the tiles, into ``res``
    (with the raw verify rates read just before and after each audit)."""
    size = led.head().size
    log(f"N={n:,}: audit replay from the store ({size:,} entries)")
    first = probe.start() if probe is not None else 0
    t0 = time.perf_counter()
    report = audit_store(led, log_key=key, workers=None)
    res["audit_store_seconds"] = time.perf_counter() - t0
    if probe is not None:
        probe.read()
        res["audit_store_raw"] = probe.since(first)
    res["audit_store_per_s"] = report.size / res["audit_store_seconds"]
    res["audit_entries"] = report.size
    log(f"N={n:,}: tiles export")
    tiles_dir = work / f"n{n}-tiles"
    t0 = time.perf_counter()
    exported = export_tiles(led, tiles_dir)
    res["tiles_export_seconds"] = time.perf_counter() - t0
    res["tiles_export_per_s"] = exported.size / res["tiles_export_seconds"]
    res["tiles_export_bytes"] = exported.bytes_written
    res["tiles_export_files"] = exported.files_written
    log(f"N={n:,}: audit replay from the tiles ({exported.size:,} entries)")
    first = probe.start() if probe is not None else 0
    t0 = time.perf_counter()
    treport = audit_tiles(str(tiles_dir), key, workers=None)
    res["audit_tiles_seconds"] = time.perf_counter() - t0
    if probe is not None:
        probe.read()
        res["audit_tiles_raw"] = probe.since(first)
    res["audit_tiles_per_s"] = treport.size / res["audit_tiles_seconds"]
    if led.root_at(treport.size) != treport.root:
        raise SystemExit("bench: the tiles audit's root differs from the store's")


# ------------------------------------------------------------------------------------------
# Cold start


def holder_credential(work: Path) -> tuple[Path, Path, str]:
    """A small fresh ledger that issued three real Open Badges credentials through the library
    (``ledger.issuance.issue``, as ``credledger issue`` does), checkpointed: the holder's
    credential file of the second, its proof bundle, and the log's verifier key."""
    from ledger.batchfile import CredentialRequest
    from ledger.issuance import issue, read_credential

    led, issuer = new_ledger(work / "cold")
    requests = [CredentialRequest(id=f"c-{i}", subject=f"student{i}@uni.example",
                                  subject_type="emailAddress", achievement=ACHIEVEMENT,
                                  result="A", expires="2031-06-30") for i in range(3)]
    issued = issue(led, ISSUER, issuer, requests, work / "cold-out")
    led.checkpoint()
    credential = issued.out / "c-1.json"
    handle_ = read_credential(issued.out, "c-1")["id"]
    bundle = work / "cold.bundle.json"
    bundle.write_text(dump_bundle(build_bundle(led, [(ISSUER, handle_)])), encoding="utf-8")
    vkey = led.log_vkey()
    led.close()
    return credential, bundle, vkey


def cold_verify(work: Path, runs: int) -> dict[str, Any]:
    """Median wall time of a cold ``credledger verify BUNDLE --log-key VKEY`` and of a cold
    ``credledger verify CREDENTIAL --bundle BUNDLE --log-key VKEY`` (a fresh process each run)
    and of bare interpreters, run in turn so that other load hits them alike; whether each
    verify imported pyld (``-X importtime``); the sizes of the holder's two files."""
    credential, bundle, vkey = holder_credential(work)
    # The installed console script, as a verifier runs it (with its compiled bytecode), in the
    # environment bench.py was started with; from the checkout only when nothing is installed.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if PYTHONPATH_BEFORE is not None:
        env["PYTHONPATH"] = PYTHONPATH_BEFORE
    script = Path(sys.executable).parent / "credledger"
    if script.exists():
        entry = [str(script)]
        traced = [sys.executable, "-X", "importtime", str(script)]
    else:
        entry = [sys.executable, "-m", "ledger"]
        traced = [sys.executable, "-X", "importtime", "-m", "ledger"]
        env = dict(os.environ)  # with ROOT on PYTHONPATH
        log("cold start: no installed credledger next to this python; timing python -m ledger "
            "from the checkout")
    # Where the package is, and whether it has compiled bytecode (an installed one does).
    probe = ("import importlib.util, os, ledger.verify as v\n"
             "print(os.path.dirname(v.__file__))\n"
             "print(os.path.exists(importlib.util.cache_from_source(v.__file__)))")
    package, compiled = subprocess.run([sys.executable, "-c", probe], env=env, cwd=work,
                                       capture_output=True, text=True,
                                       check=True).stdout.split("\n")[:2]
    verifies = {
        "verify": ["verify", str(bundle), "--log-key", vkey],
        "verify_credential": ["verify", str(credential), "--bundle", str(bundle), "--log-key",
                              vkey],
    }
    commands = {
        "python": [sys.executable, "-c", "pass"],
        "baseline": [sys.executable, "-c", COLD_BASELINE],
        "floor": [sys.executable, "-c", COLD_FLOOR],
        **{name: [*entry, *args] for name, args in verifies.items()},
    }
    loads_pyld = {}
    for name, args in verifies.items():
        check = subprocess.run([*traced, *args], env=env, cwd=work, capture_output=True,
                               text=True, check=False)
        if check.returncode != 0 or not check.stdout.startswith("VALID"):
            raise SystemExit(f"bench: the cold {name} did not answer VALID: {check.stdout}"
                             f"{check.stderr}")
        loads_pyld[name] = any(line.rsplit("|", 1)[-1].strip().split(".")[0] == "pyld"
                               for line in check.stderr.splitlines())
    if loads_pyld["verify"]:
        log("cold start: WARNING: credledger verify BUNDLE imported pyld")
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(COLD_WARMUPS + runs):
        for name, cmd in commands.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, cwd=work, stdout=subprocess.DEVNULL, check=True)
            if round_ >= COLD_WARMUPS:
                times[name].append(time.perf_counter() - t0)
    median = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    return {"runs": runs, "warmups": COLD_WARMUPS, "command": " ".join(entry + ["verify"]),
            "package": package, "package_compiled": compiled == "True",
            "median_ms": median, "min_ms": {name: min(t) * 1e3 for name, t in times.items()},
            "ratio": median["verify"] / median["baseline"],
            "credential_ratio": median["verify_credential"] / median["baseline"],
            "floor_ratio": median["floor"] / median["baseline"],
            "loads_pyld": loads_pyld,
            "credential_bytes": credential.stat().st_size,
            "bundle_bytes": bundle.stat().st_size}


def cold_table(cold: dict[str, Any]) -> str:
    base = cold["median_ms"]["baseline"]
    rows = [
        ("python -c pass", "python", ""),
        ("python -c: an Ed25519 binding and msgpack (the yardstick)", "baseline", ""),
        ("python -c: the libraries a verify imports (floor)", "floor", ""),
        ("credledger verify BUNDLE --log-key VKEY", "verify", TARGETS["cold credledger verify"]),
        ("credledger verify CREDENTIAL --bundle BUNDLE --log-key VKEY", "verify_credential", ""),
    ]
    head = ["command", "median", "vs yardstick", "target"]
    body = [[label, f"{cold['median_ms'][key]:,.1f} ms", f"{cold['median_ms'][key] / base:.2f} x",
             target] for label, key, target in rows]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i in (0, 3) else c.rjust(w) for i, (c, w) in
                       enumerate(zip(row, widths))) for row in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += ["", f'yardstick: python -c "{COLD_BASELINE}"',
              f'floor:     python -c "{COLD_FLOOR}"',
              "pyld imported: " + ", ".join(f"{k} {'yes' if v else 'no'}"
                                            for k, v in cold["loads_pyld"].items()),
              (f"holder's files: credential {cold['credential_bytes']:,} B, its bundle "
               f"{cold['bundle_bytes']:,} B")]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# End to end: credledger issue --batch, as a user runs it

CLI_ISSUE = 2_000
"""Since entry format 2 each line is a signed Open Badges credential (RDFC-1.0: ~11 ms of CPU
each), so 2,000 lines take ~10 s on two cores (20,000 lines: --cli-issue 20000)."""
CLI_RUNS = 5
QUICK_CLI_ISSUE = 300
QUICK_CLI_RUNS = 2
CLI_REF_SIGNATURES = 2_000
"""Signatures by one key in each reading of the raw one-core verify rate beside the CLI runs."""


def one_key_verify_rates(n: int = CLI_REF_SIGNATURES) -> dict[str, float]:
    """One core's raw Ed25519 verify rate: ``n`` signatures by one key over distinct 200-byte
    messages (a statement's size), checked in a loop with one key object: OpenSSL
    (``cryptography``'s ``Ed25519PublicKey.verify``) and libsodium (PyNaCl's
    ``crypto_sign_open``)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    rng = random.Random(SEED)
    key = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
    pub = key.public_key()
    msgs = [rng.randbytes(200) for _ in range(n)]
    sigs = [key.sign(m) for m in msgs]
    t0 = time.perf_counter()
    for sig, msg in zip(sigs, msgs):
        pub.verify(sig, msg)
    out = {"openssl": n / (time.perf_counter() - t0)}
    try:
        from nacl.bindings import crypto_sign_open
    except ImportError:
        return out
    raw = pub.public_bytes_raw()
    t0 = time.perf_counter()
    for sig, msg in zip(sigs, msgs):
        crypto_sign_open(sig + msg, raw)
    out["libsodium"] = n / (time.perf_counter() - t0)
    return out


def _cli_entry() -> tuple[list[str], dict[str, str]]:
    """The installed console script next to this python (without the checkout on PYTHONPATH),
    or ``python -m ledger`` from the checkout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if PYTHONPATH_BEFORE is not None:
        env["PYTHONPATH"] = PYTHONPATH_BEFORE
    script = Path(sys.executable).parent / "credledger"
    if script.exists():
        return [str(script)], env
    return [sys.executable, "-m", "ledger"], dict(os.environ)


ONE_WORKER = ("import sys, ledger.parallel as p; p.default_workers = lambda: 1; "
              "sys.argv[0] = 'credledger'; from ledger.main import main; main()")
"""``credledger`` with one worker (everything in the command's own process): the default
workers are one per core; no option changes that, so this patches it for the A/B."""


def cli_issue(work: Path, n: int, runs: int, compare: str | None = None,
              one_worker: bool = False) -> dict[str, Any]:
    """``credledger issue ISSUER --key KEY --batch cohort.jsonl --out OUT`` of ``n`` lines,
    timed end to end as a user runs it: a fresh process and a fresh store each run (created,
    its issuer and achievement registered, untimed), credentials written to OUT. One core's
    raw Ed25519 verify rate (:func:`one_key_verify_rates`) is read before and after every
    run, in the same process that times them. ``compare``: another ``credledger`` (another
    install, say the commit before) run in turn with this one, the order alternating, for an
    A/B; ``one_worker``: this one with one worker (:data:`ONE_WORKER`) in turn too."""
    entry, env = _cli_entry()
    commands = {"this": entry}
    if one_worker:
        commands["one_worker"] = [sys.executable, "-c", ONE_WORKER]
    if compare:
        commands["compare"] = [compare]
    cohort = work / "cohort.jsonl"
    types = ("emailAddress", "sisSourcedId", "name")
    with cohort.open("w", encoding="utf-8") as f:
        for i in range(n):
            kind = types[i % 3]
            subject = (f"student{i:06d}@uni.example" if kind == "emailAddress" else
                       f"S{i:08d}" if kind == "sisSourcedId" else f"Student {i:06d}")
            f.write(json.dumps({"id": f"c-{i:06d}", "subject": subject, "subject_type": kind,
                                "achievement": ACHIEVEMENT, "result": "ABCDE"[i % 5],
                                "expires": "2031-06-30"}) + "\n")
    times: dict[str, list[float]] = {name: [] for name in commands}
    ratios: dict[str, list[float]] = {name: [] for name in commands}
    readings: list[dict[str, float]] = [one_key_verify_rates()]
    k = 0
    for round_ in range(runs):
        order = list(commands) if round_ % 2 == 0 else list(reversed(commands))
        for name in order:
            cmd = commands[name]
            k += 1
            d = work / f"cli-{k}"  # never reused, removed at the end only: deleting 10^4
            d.mkdir()  # files slows the file creations that follow for seconds
            run_env = dict(env, CREDLEDGER_DIR=str(d / "store"))

            def run(*args: str, _cmd: list[str] = cmd, _d: Path = d,
                    _env: dict[str, str] = run_env) -> str:
                return subprocess.run([*_cmd, *args], env=_env, cwd=_d, capture_output=True,
                                      text=True, check=True).stdout

            run("init", "--origin", ORIGIN)
            vkey = run("key", "new", "uni.key").split("\n")[0]
            run("issuer", "add", ISSUER, "--key", vkey, "--name", "Bench University")
            run("achievement", "add", ISSUER, ACHIEVEMENT, "--key", "uni.key", "--name",
                "Applied Data Engineering", "--description", "Pipelines, storage and streams.",
                "--criteria", "Pass the final project.")
            os.sync()
            before = readings[-1]
            t0 = time.perf_counter()
            proc = subprocess.run([*cmd, "issue", ISSUER, "--key", "uni.key", "--batch",
                                   str(cohort), "--out", "out"], env=run_env, cwd=d,
                                  capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - t0
            if proc.returncode != 0:
                raise SystemExit(f"bench: credledger issue failed: {proc.stderr}")
            written = len(os.listdir(d / "out" / ISSUER))
            if written != n:
                raise SystemExit(f"bench: credledger issue wrote {written} credentials, want {n}")
            readings.append(one_key_verify_rates())
            raw = (before["openssl"] + readings[-1]["openssl"]) / 2
            times[name].append(seconds)
            ratios[name].append(n / seconds / raw)
            log(f"cli issue {name}: {seconds:.2f} s, {n / seconds:,.0f}/s; raw 1-core verify "
                f"{raw:,.0f}/s (OpenSSL): {n / seconds / raw:.3f} x")
    for k_ in range(1, k + 1):
        shutil.rmtree(work / f"cli-{k_}", ignore_errors=True)
    out: dict[str, Any] = {
        "n": n, "runs": runs, "command": " ".join(entry) + " issue ISSUER --key KEY --batch "
        "cohort.jsonl --out OUT", "compare_command": compare,
        "raw_verify": "one key, one core, in a loop: cryptography Ed25519PublicKey.verify "
                      f"(OpenSSL) and PyNaCl crypto_sign_open (libsodium), {CLI_REF_SIGNATURES} "
                      "signatures a reading, read before and after every run",
        "raw_verify_openssl_per_s": statistics.median(r["openssl"] for r in readings),
        "raw_verify_libsodium_per_s": (statistics.median(r["libsodium"] for r in readings)
                                       if all("libsodium" in r for r in readings) else None),
        "readings": readings,
    }
    for name in commands:
        median = statistics.median(times[name])
        out[name] = {"seconds": times[name], "median_seconds": median, "rate": n / median,
                     "ratio_to_raw_openssl": statistics.median(ratios[name]),
                     "ratios": ratios[name]}
    return out


def cli_table(r: dict[str, Any]) -> str:
    head = (f"credledger issue --batch of {r['n']:,} lines, end to end (a fresh process and "
            f"store each run, documents written), median of {r['runs']} runs:")
    lines = [head, ""]
    rows = ([("this", "this checkout")]
            + ([("one_worker", "this checkout, one worker")] if "one_worker" in r else [])
            + ([("compare", r["compare_command"])] if r["compare_command"] else []))
    for key, label in rows:
        x = r[key]
        lines.append(f"  {label}: {x['median_seconds']:.2f} s, {x['rate']:,.0f} issuances/s, "
                     f"{x['ratio_to_raw_openssl']:.3f} x one core's raw verify (OpenSSL)")
    sodium = r["raw_verify_libsodium_per_s"]
    if "one_worker" in r:
        lines.append(f"  default workers over one worker: "
                     f"{r['one_worker']['median_seconds'] / r['this']['median_seconds']:.2f} x")
    lines.append(f"  raw Ed25519 verify, one key, one core (median of {len(r['readings'])} "
                 f"readings): {r['raw_verify_openssl_per_s']:,.0f}/s OpenSSL"
                 + (f", {sodium:,.0f}/s libsodium" if sodium else ""))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# Profile


def profile(n: int, top: int) -> None:
    with tempfile.TemporaryDirectory(prefix="credledger-prof-", dir=TMPDIR) as d:
        led, issuer = new_ledger(Path(d) / "s")
        items, _ = issue_statements(issuer, 0, n)
        log(f"profiling one append of {n:,} (main process only: the worker's half of the "
            "signature checks is not in this profile)")
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        led.append(items)
        prof.disable()
        log(f"append took {time.perf_counter() - t0:.2f} s under the profiler")
        led.close()
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(key).print_stats(top)
        print(f"--- top {top} by {key} ---")
        print(buf.getvalue())


PHASES = ("build unsigned credentials", "sign credentials (RDFC-1.0 + Ed25519)",
          "sign statements", "pending file", "Ledger.append", "write holder credentials")


def issue_requests(n: int) -> list[Any]:
    """``n`` requests like the end-to-end issue's cohort lines."""
    from ledger.batchfile import CredentialRequest

    return [CredentialRequest(id=f"c-{i:06d}", subject=f"student{i:06d}@uni.example",
                              subject_type="emailAddress", achievement=ACHIEVEMENT,
                              result="ABCDE"[i % 5], expires="2031-06-30") for i in range(n)]


def timed_issue(work: Path, n: int, workers: int, prof: cProfile.Profile | None = None
                ) -> dict[str, Any]:
    """``ledger.issuance.issue`` of ``n`` credentials on a fresh store with ``workers``,
    timed by phase (wrappers around the functions issuing calls; the phases' sum and the
    total differ by the glue between them), with each RDFC-1.0 canonicalization this process
    ran timed by kind: the proof configuration, the credential (both hashed and signed), the
    signed credential (its digest). With ``workers`` >= 2 most canonicalizations run in the
    workers and are not counted here."""
    import ledger.dataintegrity as di
    import ledger.issuance as iss

    led, issuer = new_ledger(work / f"issue-{workers}")
    led.workers = workers
    phases: dict[str, float] = dict.fromkeys(PHASES, 0.0)
    canon: dict[str, list[float]] = {"proof config": [], "credential": [], "digest": []}
    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, phase: str) -> None:
        real = getattr(owner, name)
        saved.append((owner, name, real))

        def wrapper(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return real(*a, **k)
            finally:
                phases[phase] += time.perf_counter() - t0
        setattr(owner, name, wrapper)

    real_canon = di.canonicalize

    def canonicalize(document: Any, **k: Any) -> str:
        kind = ("proof config" if document.get("type") == di.PROOF_TYPE else
                "digest" if "proof" in document else "credential")
        t0 = time.perf_counter()
        try:
            return real_canon(document, **k)
        finally:
            canon[kind].append(time.perf_counter() - t0)

    patch(iss._CredentialMaker, "unsigned", PHASES[0])
    patch(iss, "sign_credentials", PHASES[1])
    patch(ledger.parallel.BatchSigning, "result", PHASES[2])
    patch(iss.PendingFile, "finish", PHASES[5])  # before the class itself is wrapped
    patch(iss, "PendingFile", PHASES[3])
    patch(led, "append", PHASES[4])
    saved.append((di, "canonicalize", real_canon))
    di.canonicalize = canonicalize
    try:
        if prof is not None:
            prof.enable()
        t0 = time.perf_counter()
        issued = iss.issue(led, ISSUER, issuer, issue_requests(n), work / f"issue-{workers}-out")
        total = time.perf_counter() - t0
        if prof is not None:
            prof.disable()
    finally:
        for owner, name, real in reversed(saved):
            if owner is led:
                delattr(led, name)
            else:
                setattr(owner, name, real)
    led.close()
    if len(issued.documents) != n:
        raise SystemExit(f"bench: issued {len(issued.documents)} credentials, want {n}")
    return {"n": n, "workers": workers, "seconds": total, "rate": n / total, "phases": phases,
            "canonicalizations": {k: {"count": len(v), "seconds": sum(v),
                                      "mean_ms": sum(v) / len(v) * 1e3 if v else None}
                                  for k, v in canon.items()}}


def profile_issue(n: int, top: int, rounds: int) -> dict[str, Any]:
    """``ledger.issuance.issue`` of ``n`` credentials, in process: with one worker (every
    canonicalization here, timed) and with the default workers, in turn for ``rounds``
    rounds; then a cProfile of one run with one worker."""
    out: dict[str, Any] = {"n": n, "runs": []}
    with tempfile.TemporaryDirectory(prefix="credledger-prof-", dir=TMPDIR) as d:
        k = 0
        for round_ in range(rounds):
            order = (1, default_workers()) if round_ % 2 == 0 else (default_workers(), 1)
            for workers in order:
                k += 1
                work = Path(d) / f"r{k}"
                work.mkdir()
                r = timed_issue(work, n, workers)
                raw = one_key_verify_rates()["openssl"]
                r["raw_verify_openssl_per_s"] = raw
                out["runs"].append(r)
                log(f"issue {n:,} in process, workers={workers}: {r['seconds']:.2f} s, "
                    f"{r['rate']:,.0f}/s, raw verify {raw:,.0f}/s: {r['rate'] / raw:.3f} x")
                print(issue_phase_table(r))
                print()
        work = Path(d) / "profiled"
        work.mkdir()
        prof = cProfile.Profile()
        timed_issue(work, min(n, PROFILE_ISSUE_MAX), 1, prof)  # cProfile slows pyld ~3x
    n = min(n, PROFILE_ISSUE_MAX)
    stats = pstats.Stats(prof)
    total = max(v[3] for v in stats.stats.values())  # type: ignore[attr-defined]
    print(f"--- issue of {n:,} with one worker, under cProfile ({total:.2f} s): where "
          "canonicalization goes (cumulative; a part's calls nested in another overlap) ---")
    for label, file_end, func in PROFILED:
        cum = sum(v[3] for (f, _, name), v in stats.stats.items()  # type: ignore[attr-defined]
                  if ((f == "~" and func in name) if file_end == "~"
                      else (f.endswith(file_end) and name == func)))
        print(f"  {label:<58} {cum:7.2f} s  {cum / total * 100:5.1f} %")
    out["profiled_seconds"] = total
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(key).print_stats(top)
        print(f"--- issue of {n:,} with one worker, under cProfile: top {top} by {key} ---")
        print(buf.getvalue())
    return out


PROFILE_ISSUE_MAX = 300
"""At most this many credentials are issued under cProfile (the timed runs issue all N)."""

PROFILED = (
    ("sign_credentials (all three canonicalizations + Ed25519)", "ledger/parallel.py",
     "sign_credentials"),
    ("dataintegrity.canonicalize (RDFC-1.0 via pyld)", "ledger/dataintegrity.py",
     "canonicalize"),
    ("  pyld expand (JSON-LD expansion, both passes)", "pyld/jsonld.py", "expand"),
    ("    of which context processing (_process_context)", "pyld/jsonld.py",
     "_process_context"),
    ("    of which JCS keys of inline contexts (c14n canonicalize)", "c14n/Canonicalize.py",
     "canonicalize"),
    ("  pyld to_rdf (expands again, then RDF)", "pyld/jsonld.py", "to_rdf"),
    ("  pyld URDNA2015.main (RDFC-1.0 proper)", "pyld/canon.py", "main"),
    ("  safe-mode checks (_check_text, _check_expanded)", "ledger/dataintegrity.py",
     "_check_expanded"),
    ("Ed25519 sign (cryptography, OpenSSL)", "~", "Ed25519PrivateKey"),
    ("Ledger.append", "ledger/log.py", "append"),
    ("write the holder credentials (PendingFile.finish)", "ledger/issuance.py", "finish"),
)


def issue_phase_table(r: dict[str, Any]) -> str:
    lines = [(f"issue of {r['n']:,} credentials in process, workers={r['workers']}: "
              f"{r['seconds']:.2f} s, {r['rate']:,.0f}/s")]
    for phase, sec in r["phases"].items():
        lines.append(f"  {phase:<42} {sec:7.2f} s  {sec / r['seconds'] * 100:5.1f} %")
    lines.append("  canonicalizations in this process (count, total, mean):")
    for kind, c in r["canonicalizations"].items():
        if c["count"]:
            lines.append(f"    {kind:<40} {c['count']:6,}  {c['seconds']:7.2f} s  "
                         f"{c['mean_ms']:.2f} ms  ({c['seconds'] / r['seconds'] * 100:.1f} %)")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# Report


def versions() -> dict[str, Any]:
    libs: dict[str, str | None] = {}
    for name in ("cryptography", "msgpack", "lmdb", "click", "PyNaCl", "pymerkle", "tlog-scales"):
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libs[name] = None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "libraries": libs,
        "lmdb_library": ".".join(map(str, lmdb.version())),
        "sqlite_library": peers.versions()["sqlite_library"],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "tmpdir": TMPDIR or tempfile.gettempdir(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


TARGETS = {
    "bundle build": "≤ 200 µs",
    "bundle verify (in process)": "≤ 200 µs",
    "audit replay from store": "≥ 20,000 ev/s",
    "audit replay from tiles": "≥ 20,000 ev/s",
    "cold credledger verify": "≤ 2x",
}
"""The issue's targets for the ledger-only figures (the tree's are in peers.TARGETS)."""


def table(results: list[dict[str, Any]]) -> str:
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("make + sign statement (excluded)", lambda r: f"{r['sign_per_s']:,.0f} ev/s"),
        ("parallel verify engaged",
         lambda r: "yes" if r["parallel_engaged"] else "no (small batch)"),
        ("worker pool start (once a process)",
         lambda r: "n/a" if r.get("pool_start_seconds") is None
         else f"{r['pool_start_seconds'] * 1e3:,.0f} ms"),
        ("batch append, 2-core verify", lambda r: f"{r['batch_append']['rate']:,.0f} ev/s"),
        ("  of which signature checks", lambda r: _share(r["batch_append"])),
        ("  vs raw 1-core verify (OpenSSL / libsodium)", _vs_raw("batch_append")),
        ("    raw verify behind the ratio (/s)", _raw_row("batch_append")),
        ("  last batch only", lambda r: f"{r['batch_append']['last_batch_rate']:,.0f} ev/s"),
        ("batch append, 1-core verify", lambda r: f"{r['batch_append_serial']['rate']:,.0f} ev/s"),
        ("  of which signature checks", lambda r: _share(r["batch_append_serial"])),
        ("  vs raw 1-core verify (OpenSSL / libsodium)", _vs_raw("batch_append_serial")),
        ("    raw verify behind the ratio (/s)", _raw_row("batch_append_serial")),
        ("two-core gain",
         lambda r: f"{r['batch_append']['rate'] / r['batch_append_serial']['rate']:.2f} x"),
        ("single durable append", lambda r: f"{r['single_append_per_s']:,.0f} ev/s"),
        ("  median latency", lambda r: f"{r['single_append_median_ms']:,.2f} ms"),
        ("inclusion proof", lambda r: f"{r['inclusion_proof_us']:,.1f} µs"),
        ("consistency proof", lambda r: f"{r['consistency_proof_us']:,.1f} µs"),
        ("checkpoint (sign + commit)", lambda r: f"{r['checkpoint_ms']:,.2f} ms"),
        ("  median", lambda r: f"{r['checkpoint_median_ms']:,.2f} ms"),
        ("bundle build", lambda r: f"{r['bundle_build_us']:,.0f} µs"),
        ("bundle verify (in process)", lambda r: f"{r['bundle_verify_us']:,.0f} µs"),
        ("bundle size", lambda r: f"{r['bundle_bytes_mean']:,.0f} B"),
        ("audit replay from store", _audit_row("audit_store_per_s")),
        ("  vs raw 1-core verify (OpenSSL / libsodium)", _vs_raw("audit_store_per_s")),
        ("    raw verify behind the ratio (/s)", _raw_row("audit_store_per_s")),
        ("tiles export", _audit_row("tiles_export_per_s")),
        ("audit replay from tiles", _audit_row("audit_tiles_per_s")),
        ("  vs raw 1-core verify (OpenSSL / libsodium)", _vs_raw("audit_tiles_per_s")),
        ("    raw verify behind the ratio (/s)", _raw_row("audit_tiles_per_s")),
        ("status-map nodes / event",
         lambda r: f"{_map_nodes(r) / r['n']:.2f}"),
        ("storage (data_size) / event", lambda r: f"{r['storage']['data_size_per_event']:,.0f} B"),
        ("data.mdb file / event", lambda r: f"{r['storage']['file_per_event']:,.0f} B"),
        ("compacted backup / event",
         lambda r: f"{r['backup_bytes_per_event']:,.0f} B ({r['backup_seconds']:.1f} s)"),
    ]
    for name in (*DB_NAMES, "(free pages, residual)"):
        rows.append((f"  {name} / event", _db_row(name)))
    rows += [
        ("ref: Ed25519 verify, cryptography (before / after)",
         _before_after("ed25519_verify_cryptography_per_s")),
        ("ref: Ed25519 verify, pynacl (before / after)",
         _before_after("ed25519_verify_pynacl_per_s")),
        ("ref: Ed25519 verify, pynacl crypto_sign_open (before / after)",
         _before_after("ed25519_verify_sign_open_per_s")),
        ("ref: statement decode + verify", lambda r: _ref(r, "statement_verify_per_s")),
        ("ref: LMDB durable 1-put txn", lambda r: _ref(r, "lmdb_durable_put_txn_per_s")),
    ]
    head = ["figure"] + [f"N = {r['n']:,}" for r in results] + ["target"]
    body = [[label] + [fmt(r) for r in results] + [TARGETS.get(label, "")]
            for label, fmt in rows]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(row, widths))) for row in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _audit_row(key: str) -> Callable[[dict[str, Any]], str]:
    def fmt(r: dict[str, Any]) -> str:
        v = r.get(key)
        if v is None:
            return "error" if "audit_error" in r else "n/a"
        return f"{v:,.0f} ev/s"
    return fmt


def _map_nodes(r: dict[str, Any]) -> int:
    dbs = r["storage"]["databases"]
    return int(dbs.get("mapnodes", {}).get("entries", 0) + dbs.get("nodes", {}).get("entries", 0))


def _db_row(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda r: f"{r['storage']['databases'][name]['bytes_per_event']:,.1f} B"


def _share(b: dict[str, Any]) -> str:
    if b["verify_seconds"] is None:
        return "n/a (overlapped)"
    return f"{b['verify_seconds'] / b['seconds'] * 100:.0f} %"


def _raw_rate(r: dict[str, Any], binding: str, around: dict[str, Any] | None = None
              ) -> float | None:
    """The raw verify rate of ``binding``: the mean of the readings ``around`` a figure (see
    :class:`RawProbe`), else of the size's before and after readings. ``libsodium``: the
    faster of PyNaCl's VerifyKey.verify and its crypto_sign_open."""
    if binding == "libsodium":
        rates = [_raw_rate(r, b, around) for b in ("pynacl", "sign_open")]
        return max((v for v in rates if v), default=None)
    if around is not None:
        value = around.get(binding)
        return float(value) if value else None
    key = f"ed25519_verify_{binding}_per_s"
    readings = [ref.get(key) for ref in (r["reference"], r.get("reference_after", {}))]
    values = [v for v in readings if v]
    return sum(values) / len(values) if values else None


def _around(r: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The raw rates read around figure ``key``, if the run read them."""
    value = r.get(key)
    if isinstance(value, dict):
        around = value.get("raw_around")
    else:
        around = r.get(key.removesuffix("_per_s") + "_raw")
    return around if isinstance(around, dict) else None


def _vs_raw(key: str) -> Callable[[dict[str, Any]], str]:
    """A rate over one core's raw Ed25519 verify rate, with OpenSSL (cryptography) and with
    libsodium (PyNaCl), read around it in the same run: the issue's bar is 1x."""
    def fmt(r: dict[str, Any]) -> str:
        value = r.get(key)
        rate = value["rate"] if isinstance(value, dict) else value
        around = _around(r, key)
        out = []
        for binding in ("cryptography", "libsodium"):
            raw = _raw_rate(r, binding, around)
            out.append("n/a" if rate is None or not raw else f"{rate / raw:.2f} x")
        return " / ".join(out)
    return fmt


def _raw_row(key: str) -> Callable[[dict[str, Any]], str]:
    """The raw rates (OpenSSL / libsodium) that figure ``key``'s ratios divide by."""
    def fmt(r: dict[str, Any]) -> str:
        around = _around(r, key)
        rates = [_raw_rate(r, b, around) for b in ("cryptography", "libsodium")]
        n = (" (size's before / after)" if around is None
             else f" ({around.get('readings', 0)} readings)")
        return " / ".join("n/a" if v is None else f"{v:,.0f}" for v in rates) + n
    return fmt


def _before_after(key: str) -> Callable[[dict[str, Any]], str]:
    def fmt(r: dict[str, Any]) -> str:
        before, after = r["reference"].get(key), r.get("reference_after", {}).get(key)
        return " / ".join("n/a" if v is None else f"{v:,.0f}" for v in (before, after)) + " /s"
    return fmt


def _ref(r: dict[str, Any], key: str) -> str:
    v = r["reference"].get(key)
    return "n/a" if v is None else f"{v:,.0f} /s"


TMPDIR: str | None = None


def main(argv: list[str] | None = None) -> int:
    global TMPDIR
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", help="comma-separated sizes (default 10000,100000)")
    p.add_argument("--quick", action="store_true",
                   help="one small size (2,000) for CI smoke runs, peers included")
    p.add_argument("--full", action="store_true",
                   help="the issue's sizes: 10,000, 100,000 and 1,000,000 (takes long)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "latest.json"),
                   help="JSON output file (default benchmarks/results/latest.json)")
    p.add_argument("--tmpdir", help="where to build the stores (default: the system temp dir; "
                   "durable rates depend on its file system)")
    peer = p.add_mutually_exclusive_group()
    peer.add_argument("--no-peers", action="store_true", help="skip the peer comparison")
    peer.add_argument("--peers-only", action="store_true",
                      help="only the peer comparison (no ledger-only figures)")
    p.add_argument("--peer-systems", default=",".join(peers.SYSTEMS),
                   help=f"comma-separated subset of {','.join(peers.SYSTEMS)}")
    p.add_argument("--peer-cap", type=float, default=peers.DEFAULT_CAP_SECONDS, metavar="S",
                   help="stop a system's peer appends after S seconds and report the rate "
                   f"measured so far (default {peers.DEFAULT_CAP_SECONDS:.0f})")
    p.add_argument("--peer-proofs", type=int,
                   help=f"proofs of each kind per peer (default {peers.PROOFS}; "
                   f"{QUICK_PEER_PROOFS} with --quick)")
    p.add_argument("--cold-runs", type=int,
                   help=f"timed runs of each cold-start command (default {COLD_RUNS}; "
                   f"{QUICK_COLD_RUNS} with --quick), after {COLD_WARMUPS} warm-ups")
    p.add_argument("--cold-only", action="store_true",
                   help="only the cold start of credledger verify (no sizes, no peers)")
    p.add_argument("--cli-issue", type=int, metavar="N",
                   help=f"lines of the end-to-end 'credledger issue --batch' (default {CLI_ISSUE:,}; "
                   f"{QUICK_CLI_ISSUE:,} with --quick; 0: skip it)")
    p.add_argument("--cli-runs", type=int,
                   help=f"runs of it (default {CLI_RUNS}; {QUICK_CLI_RUNS} with --quick)")
    p.add_argument("--cli-only", action="store_true",
                   help="only the end-to-end 'credledger issue --batch' (no sizes, no peers)")
    p.add_argument("--cli-compare", metavar="CREDLEDGER",
                   help="another credledger console script (another install) run in turn with "
                   "this one in the end-to-end issue, for an A/B")
    p.add_argument("--cli-one-worker", action="store_true",
                   help="also run this install's issue with one worker, in turn, for an A/B "
                   "of the default workers")
    p.add_argument("--profile-issue", type=int, metavar="N",
                   help="instead: issue N credentials in process with one worker and with the "
                   "default workers (--profile-rounds rounds, in turn), timed by phase and "
                   "canonicalization; then cProfile one run with one worker")
    p.add_argument("--profile-rounds", type=int, default=2, help="rounds of --profile-issue")
    p.add_argument("--profile", type=int, metavar="N",
                   help="instead: cProfile one batch append of N events; print the top functions")
    p.add_argument("--top", type=int, default=15, help="functions shown by --profile")
    args = p.parse_args(argv)
    TMPDIR = args.tmpdir
    if args.profile:
        profile(args.profile, args.top)
        return 0
    if args.profile_issue:
        report = profile_issue(args.profile_issue, args.top, args.profile_rounds)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"machine": versions(), "profile_issue": report},
                                             indent=2) + "\n")
        log(f"wrote {args.out}")
        return 0
    if args.sizes:
        sizes = tuple(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
    else:
        sizes = QUICK_SIZES if args.quick else FULL_SIZES if args.full else DEFAULT_SIZES
    if not args.cold_only and (not sizes or min(sizes) < 10):
        p.error("--sizes: want sizes of at least 10")
    peer_systems = [s.strip() for s in args.peer_systems.split(",") if s.strip()]
    unknown = [s for s in peer_systems if s not in peers.SYSTEMS]
    if unknown:
        p.error(f"--peer-systems: unknown {', '.join(unknown)}")
    peer_proofs = args.peer_proofs or (QUICK_PEER_PROOFS if args.quick else peers.PROOFS)
    cold_runs = args.cold_runs or (QUICK_COLD_RUNS if args.quick else COLD_RUNS)
    if cold_runs < 1:
        p.error("--cold-runs: want at least 1")
    cli_n = (args.cli_issue if args.cli_issue is not None
             else QUICK_CLI_ISSUE if args.quick else CLI_ISSUE)
    cli_runs = args.cli_runs or (QUICK_CLI_RUNS if args.quick else CLI_RUNS)
    if args.cold_only or args.cli_only:
        sizes = ()
    if args.cold_only or args.peers_only:
        cli_n = 0
    if args.cli_only and cli_n <= 0:
        p.error("--cli-only: want --cli-issue N of at least 1")

    rng = random.Random(SEED)
    load_start = os.getloadavg()
    if load_start[0] > 0.5:
        log(f"note: load average {load_start[0]:.2f} before the run; other work skews the figures")
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    peer_results: list[dict[str, Any]] = []
    cold: dict[str, Any] | None = None
    cli: dict[str, Any] | None = None
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def write_report(complete: bool) -> None:
        """The JSON, rewritten after each size so that a long run that fails keeps its figures."""
        report = {
            "benchmark": "credential-ledger benchmarks/bench.py",
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "complete": complete,
            "machine": versions(),
            "settings": {"batch": BATCH, "parallel_threshold": ledger.parallel.PARALLEL_THRESHOLD,
                         "single_appends": SINGLE_APPENDS, "proofs": PROOFS,
                         "checkpoints": CHECKPOINTS, "bundles": BUNDLES, "seed": SEED,
                         "sizes": list(sizes), "peers": not args.no_peers,
                         "ledger_figures": not args.peers_only,
                         "peer_systems": peer_systems, "peer_proofs": peer_proofs,
                         "peer_cap_seconds": args.peer_cap,
                         "peer_leaf_bytes": peers.LEAF_BYTES, "cold_runs": cold_runs,
                         "cli_issue": cli_n, "cli_runs": cli_runs},
            "targets": {"ledger": TARGETS, "tree_at_1e6": peers.TARGETS},
            "total_seconds": time.perf_counter() - started,
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
            "cold_verify": cold,
            "cli_issue": cli,
            "results": results,
            "peers": peer_results,
        }
        out.write_text(json.dumps(report, indent=2) + "\n")

    with tempfile.TemporaryDirectory(prefix="credledger-bench-", dir=TMPDIR) as d:
        if not args.peers_only and not args.cli_only:  # first: no worker processes around yet
            log(f"cold start: credledger verify and bare interpreters, {cold_runs} runs each")
            cold = cold_verify(Path(d), cold_runs)
            write_report(False)
        if cli_n > 0:
            log(f"end to end: credledger issue --batch of {cli_n:,} lines, {cli_runs} runs")
            cli = cli_issue(Path(d), cli_n, cli_runs, args.cli_compare, args.cli_one_worker)
            write_report(False)
        for n in sizes:
            if not args.peers_only:
                t0 = time.perf_counter()
                r = run_size(n, Path(d), rng)
                r["wall_seconds"] = time.perf_counter() - t0
                log(f"N={n:,}: done in {r['wall_seconds']:.1f} s")
                results.append(r)
                for suffix in ("", "-serial", "-tiles"):
                    shutil.rmtree(Path(d) / f"n{n}{suffix}", ignore_errors=True)
                write_report(False)
            if not args.no_peers:
                pr = peers.run(n, Path(d), systems=peer_systems, proofs=peer_proofs,
                               batch=BATCH, cap_seconds=args.peer_cap, log=log)
                log(f"N={n:,}: peers done in {pr['wall_seconds']:.1f} s")
                peer_results.append(pr)
                write_report(False)
    total = time.perf_counter() - started

    if cold is not None:
        print(f"Cold start: a fresh process per run, median of {cold['runs']} runs of each "
              f"(after {cold['warmups']} warm-ups), run in turn\n")
        print(cold_table(cold))
        print(f"\n(ledger from {cold['package']})")
        if not cold.get("package_compiled", True):
            print("(the package has no compiled bytecode (PYTHONDONTWRITEBYTECODE?), so every run "
                  "compiled its modules, which an installed package never does: run python -m "
                  "compileall on it first)")
        print()
    if cli is not None:
        print(cli_table(cli))
        print()
    if results:
        print("Ledger: credential events (issuance with signature checks, proofs, bundles, "
              "audits, storage)\n")
        print(table(results))
        per_size = ", ".join(f"N={r['n']:,}: {r['wall_seconds']:.1f} s" for r in results)
        print(f"\nledger figures: {per_size}")
        for r in results:
            if "audit_error" in r:
                print(f"AUDIT FAILED at N = {r['n']:,}: {r['audit_error']}")
    if peer_results:
        if results:
            print()
        print("Merkle log vs peers: the same leaves in every system\n")
        print(peers.table(peer_results, peer_systems))
        per_size = ", ".join(f"N={r['n']:,}: {r['wall_seconds']:.1f} s" for r in peer_results)
        print(f"\npeer figures: {per_size}")
    print(f"\ntotal run time {total:.1f} s")
    write_report(True)
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
