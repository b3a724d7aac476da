"""``credledger serve`` under load: durable submissions per second and latency to the durable
answer with 1, 10 and 50 concurrent clients, single statements and batches, beside the
in-process ``Ledger.append`` rate of the same run; the server's RSS as submissions add up.

    python benchmarks/serve_bench.py                      # about 4-6 minutes
    python benchmarks/serve_bench.py --seconds 5 --rss-submissions 20000   # quicker
    python benchmarks/serve_bench.py --tmpdir /mnt/ssd    # durable rates depend on the disk

Clients are threads of this process with the standard library's http.client (keep-alive, one
connection each; bodies pre-encoded and statements pre-signed before any timing), so the
client side costs little CPU, but it shares the machine with the server: on 2 cores the
figures are the server's and its clients' together. Every statement is a new ``issue``
(distinct handle and status index). A submission is timed from its request's first byte
to its answer's last: the answer comes after the LMDB commit (sync) returned.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from statements import issue, register_achievement

from ledger.events import REGISTER_ISSUER, make_statement, sign_statement
from ledger.log import Ledger
from ledger.note import Signer
from ledger.parse import b64encode

TIME = 1_767_225_600_000
_NUMBERS = itertools.count(1)


def make_store(path: Path) -> Signer:
    ledger, _, registry = Ledger.create(path, "bench.example/log")
    issuer = Signer.generate("uni")
    with ledger:
        ledger.append([sign_statement(make_statement(REGISTER_ISSUER, "uni", TIME, "Uni", "",
                                                     issuer.public_key), registry.seed),
                       sign_statement(register_achievement("uni", TIME), issuer.seed)])
    return issuer


def signed(issuer: Signer, n: int) -> list[Any]:
    return [sign_statement(issue("uni", TIME + 1000, next(_NUMBERS)), issuer.seed)
            for _ in range(n)]


def body(items: list[Any]) -> bytes:
    return json.dumps({"statements": [
        {"statement": b64encode(i.statement), "signer": b64encode(i.signer),
         "signature": b64encode(i.signature)} for i in items]}).encode()


def in_process(tmp: Path, n: int, batch: int) -> float:
    """Ledger.append of ``n`` statements in batches of ``batch`` (workers=1, as the server's
    writer; signatures checked in the append): statements/s."""
    issuer = make_store(tmp / "inproc" if batch > 1 else tmp / "inproc1")
    items = signed(issuer, n)
    with Ledger.open(tmp / "inproc" if batch > 1 else tmp / "inproc1") as ledger:
        start = time.perf_counter()
        for i in range(0, n, batch):
            ledger.append(items[i:i + batch])
        return n / (time.perf_counter() - start)


class Server:
    def __init__(self, store: Path, *args: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ledger", "--dir", str(store), "serve", "--port", "0",
             "--json", "--checkpoint-every", "0", *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.port = int(info["port"])

    def rss_mb(self) -> str:
        """VmRSS, and of it the anonymous memory (the heap) and the file pages (LMDB's map of
        data.mdb: the page cache, shared, dropped by the kernel under pressure)."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssFile"):
                fields[name] = int(value.split()[0]) / 1024
        return (f"{fields['VmRSS']:.0f} MB (anonymous {fields['RssAnon']:.0f} MB, LMDB's "
                f"file pages {fields['RssFile']:.0f} MB)")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)


def run(port: int, bodies: list[list[bytes]], per_request: int, seconds: float
        ) -> tuple[int, int, float, list[float]]:
    """Each client sends its bodies one after the other until they or the time run out.
    Returns (statements, submissions, wall seconds, latencies)."""
    lat: list[list[float]] = [[] for _ in bodies]
    failures: list[str] = []
    stop_at = time.monotonic() + seconds

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for b in bodies[n]:
            if time.monotonic() >= stop_at:
                break
            t0 = time.perf_counter()
            conn.request("POST", "/v1/statements", body=b,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            lat[n].append(time.perf_counter() - t0)
            if r.status != 200:
                failures.append(f"{r.status} {data[:200]!r}")
                break
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(bodies))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if failures:
        raise SystemExit(f"a submission failed: {failures[0]}")
    flat = [x for row in lat for x in row]
    return len(flat) * per_request, len(flat), wall, flat


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="per scenario")
    ap.add_argument("--batch", type=int, default=100, help="statements a batch submission")
    ap.add_argument("--rss-submissions", type=int, default=100_000)
    ap.add_argument("--rss-seconds", type=float, default=240.0, help="cap of the RSS phase")
    ap.add_argument("--tmpdir", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as d:
        tmp = Path(d)
        inproc = in_process(tmp, 20_000, 10_000)
        inproc_one = in_process(tmp, 500, 1)  # one statement a commit
        issuer = make_store(tmp / "store")
        server = Server(tmp / "store")
        rows = []
        submissions = 0
        try:
            for clients in (1, 10, 50):
                for per in (1, args.batch):
                    # enough for the time at a generous rate, signed before timing
                    budget = int(min(3000 * args.seconds, 60_000) // per // clients + 2)
                    if per > 1:
                        budget = int(min(40_000 * args.seconds, 200_000) // per // clients + 2)
                    bodies = [[body(signed(issuer, per)) for _ in range(budget)]
                              for _ in range(clients)]
                    stmts, subs, wall, lat = run(server.port, bodies, per, args.seconds)
                    submissions += subs
                    rows.append((clients, per, stmts / wall, subs / wall, pct(lat, 50),
                                 pct(lat, 99), subs))
                    print(f"clients {clients:2d} x {per:3d}/request: {stmts / wall:8.0f} "
                          f"statements/s, {subs / wall:7.0f} submissions/s, p50 "
                          f"{pct(lat, 50) * 1000:6.1f} ms, p99 {pct(lat, 99) * 1000:6.1f} ms "
                          f"({subs} submissions)", flush=True)
            rss_before = server.rss_mb()
            # RSS: single-statement submissions from 50 clients until the total reaches
            # --rss-submissions (or the time cap).
            left = max(0, args.rss_submissions - submissions)
            start = time.monotonic()
            while left > 0 and time.monotonic() - start < args.rss_seconds:
                chunk = min(left, 10_000)
                bodies = [[body(signed(issuer, 1)) for _ in range(chunk // 50 + 1)]
                          for _ in range(50)]
                _, subs, _, _ = run(server.port, bodies, 1,
                                    args.rss_seconds - (time.monotonic() - start))
                submissions += subs
                left -= subs
            rss = server.rss_mb()
        finally:
            server.stop()
        store_mb = (tmp / "store" / "data.mdb").stat().st_size / 2**20
    print(f"\nin-process Ledger.append, workers=1: batches of 10,000 {inproc:,.0f} "
          f"statements/s; one statement a commit {inproc_one:,.0f}/s")
    print(f"server RSS: {rss_before} after the scenarios;\n  {rss} after "
          f"{submissions:,} submissions in all; store {store_mb:.0f} MB")


if __name__ == "__main__":
    main()
