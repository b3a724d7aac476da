"""Issue 18's first must-show: three issuers, each with its own key in its own directory,
issue and revoke through ``--log URL`` against one served log at the same time (each issuer's
commands a process of its own, the three at once); the served tiles audit clean; bundles
fetched over HTTP verify offline, and say what each holder's credential is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from test_service import ROOT, Server, _sha

from ledger.events import REGISTER_ISSUER, make_statement, sign_statement
from ledger.keys import write_signer
from ledger.log import Ledger
from ledger.note import Signer

ORIGIN = "issuers.example/log"
ISSUERS = ("uni", "poly", "academy")
COHORT = 12


class _Log:
    """What test_service's Server needs: the store, a temporary directory, the config."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.store, self.config = tmp, tmp / "store", tmp / "serve.json"


def _cli(home: Path, url: str, vkey: str, token: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), CREDLEDGER_LOG_TOKEN=token)
    env.pop("CREDLEDGER_DIR", None)
    return subprocess.run([sys.executable, "-m", "ledger", *args, "--log", url, "--log-key",
                           vkey], cwd=home, env=env, capture_output=True, text=True, timeout=300)


def _issuer_day(issuer: str, home: Path, url: str, vkey: str, token: str,
                failures: list[str]) -> None:
    """One issuer's day, on its own machine (directory): an achievement, a cohort, a
    revocation and a suspension, the status lists, two bundles."""
    def run(*args: str) -> None:
        done = _cli(home, url, vkey, token, *args)
        if done.returncode != 0:
            failures.append(f"{issuer} {' '.join(args[:2])}: exit {done.returncode}: "
                            f"{done.stderr.strip()}")
            raise RuntimeError(done.stderr)

    try:
        run("achievement", "add", issuer, "course", "--key", "issuer.key", "--name",
            f"Course of {issuer}", "--description", "A course.", "--criteria", "Pass it.")
        (home / "cohort.jsonl").write_text("".join(
            json.dumps({"id": f"student-{i}", "subject": f"{issuer}-{i}@example.org",
                        "subject_type": "emailAddress", "achievement": "course"}) + "\n"
            for i in range(COHORT)))
        run("issue", issuer, "--key", "issuer.key", "--batch", "cohort.jsonl")
        run("revoke", issuer, "student-1", "--key", "issuer.key", "--reason", "withdrawn")
        run("suspend", issuer, "student-2", "--key", "issuer.key", "--reason", "under-review")
        run("status-list", issuer, "--key", "issuer.key")
        for own in ("student-0", "student-1", "student-2"):
            run("prove", issuer, own, "-o", f"{own}.bundle.json")
    except RuntimeError:
        return


def test_three_issuers_issue_and_revoke_through_one_served_log_at_once(tmp_path: Path) -> None:
    log = _Log(tmp_path)
    ledger, log_signer, registry = Ledger.create(log.store, ORIGIN)
    tokens = {}
    with ledger:  # the operator admits the three issuers (each sent its verifier key)
        for issuer in ISSUERS:
            home = tmp_path / issuer
            home.mkdir()
            signer = Signer.generate(issuer)
            write_signer(home / "issuer.key", signer)
            ledger.append([sign_statement(make_statement(
                REGISTER_ISSUER, issuer, ledger.clock(), f"The {issuer}", "", signer.public_key),
                registry.seed)])
            tokens[issuer] = f"token-of-{issuer}"
    log.config.write_text(json.dumps({"tokens": {i: [_sha(t)] for i, t in tokens.items()},
                                      "operator_tokens": []}))
    server = Server(log)  # type: ignore[arg-type]
    vkey = str(log_signer.verifier())
    try:
        url = server.url.rstrip("/")
        failures: list[str] = []
        days = [threading.Thread(target=_issuer_day, args=(i, tmp_path / i, url, vkey,
                                                           tokens[i], failures))
                for i in ISSUERS]
        for day in days:
            day.start()
        for day in days:
            day.join(timeout=600)
        assert not failures, failures
        # The served tiles audit clean: every entry, rule, status list and checkpoint.
        audit = subprocess.run([sys.executable, "-m", "ledger", "audit", "--tiles", url,
                                "--log-key", vkey, "--json"], capture_output=True, text=True,
                               env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)
        assert audit.returncode == 0, audit.stderr
        report = json.loads(audit.stdout)
        assert report["credentials"] == 3 * COHORT and report["issuers"] == 3
        assert report["revocations"] == 3 and report["suspensions"] == 3
        assert report["status_lists"] == 6
    finally:
        assert server.stop() == 0, server.stderr()
    # Offline, with only the log key: each holder's credential and the bundle fetched for it.
    for issuer in ISSUERS:
        home = tmp_path / issuer
        for own, want in (("student-0", "VALID"), ("student-1", "REVOKED"),
                          ("student-2", "SUSPENDED")):
            done = subprocess.run(
                [sys.executable, "-m", "ledger", "verify", str(home / "credentials" / issuer /
                                                               f"{own}.json"),
                 "--bundle", str(home / f"{own}.bundle.json"), "--log-key", vkey, "--subject",
                 f"{issuer}-{own.split('-')[1]}@example.org", "--json"],
                capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                timeout=120)
            answer = json.loads(done.stdout)
            assert answer["answer"] == want, (issuer, own, answer)
            (cred,) = answer["credentials"]
            assert cred["credential_checked"] and cred["holder_checked"]
            assert cred["issuer"] == issuer and cred["title"] == f"Course of {issuer}"
    with Ledger.open(log.store, readonly=True) as ledger:  # nothing personal in the log
        data = b"".join(ledger.entry_bytes(i) for i in range(ledger.head().size))
        assert b"@example.org" not in data and b"student-" not in data
