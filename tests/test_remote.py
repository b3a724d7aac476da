"""The issuer's commands against a served log (``--log URL --log-key VKEY``, ledger.remote):
a fake server (tests/remote_fake.py: the issue 18 API from a real Ledger, in a thread on
127.0.0.1) that can lie or fail. Issuing, revoking, proving and publishing status lists work
remotely and verify offline; every lie is caught (exit 1, one line, no holder credential
written as committed); a network failure after the commit loses nothing and issues nothing
twice; a 503 is retried after its Retry-After.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from remote_fake import FakeLog, serve

from ledger import issuance
from ledger.batchfile import CredentialRequest
from ledger.cli import cli
from ledger.errors import FetchError, InterruptedAfterCommitError, LogAnswerError
from ledger.events import REGISTER_ISSUER, make_statement, sign_statement
from ledger.keys import write_signer
from ledger.log import Ledger
from ledger.note import Signer
from ledger.remote import RemoteLog

ORIGIN = "remote.example/log"


@dataclass
class World:
    tmp: Path
    fake: FakeLog
    url: str
    vkey: str
    uni: Signer
    key: Path
    runner: CliRunner = field(default_factory=CliRunner)

    @property
    def out(self) -> Path:
        return self.tmp / "out"

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        result = self.runner.invoke(cli, list(args), env=env, catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"credledger {' '.join(args)} raised {result.exception!r}\n"
                                 f"{result.output}") from result.exception
        return result

    def remote(self, *args: str) -> Result:
        """A command with --log URL --log-key VKEY (and --out OUT where it takes one)."""
        return self.run(*args, "--log", self.url, "--log-key", self.vkey)

    def ok(self, *args: str) -> Result:
        result = self.remote(*args)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        return result

    def issue(self, *ids: str, out: Path | None = None) -> Result:
        batch = self.tmp / f"batch-{ids[0]}.jsonl"
        batch.write_text("".join(json.dumps({"id": i, "subject": f"{i}@example.org",
                                             "subject_type": "emailAddress",
                                             "achievement": "cs201", "result": "A"}) + "\n"
                                 for i in ids))
        return self.remote("issue", "uni", "--key", str(self.key), "--batch", str(batch),
                           "--out", str(out or self.out))

    def log_size(self) -> int:
        return self.fake.ledger.head().size

    def handles_in_log(self) -> list[str]:
        lg = self.fake.ledger
        out = []
        for i in range(lg.head().size):
            from ledger.events import ISSUE, trusted_statement

            st = trusted_statement(lg.entry(i).statement)
            if st.kind == ISSUE:
                out.append(st.fields[0])
        return out

    def documents(self, out: Path | None = None) -> list[str]:
        d = (out or self.out) / "uni"
        return sorted(p.name for p in d.glob("*.json")) if d.is_dir() else []


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A served log with issuer uni registered (its key file on the issuer's side), and the
    achievement cs201 registered remotely."""
    ledger, log_signer, registry = Ledger.create(tmp_path / "server-store", ORIGIN)
    uni = Signer.generate("uni")
    write_signer(tmp_path / "uni.key", uni)
    st = make_statement(REGISTER_ISSUER, "uni", ledger.clock(), "Uni", "https://uni.example",
                        uni.public_key)
    ledger.append([sign_statement(st, registry.seed)])
    ledger.checkpoint(log_signer)
    fake = FakeLog(ledger, log_signer)
    gen = serve(fake)
    url = next(gen)
    w = World(tmp_path, fake, url, str(log_signer.verifier()), uni, tmp_path / "uni.key")
    w.ok("achievement", "add", "uni", "cs201", "--key", str(w.key), "--name", "Data Structures",
         "--description", "Lists and trees.", "--criteria", "Pass the exam.",
         "--state-dir", str(w.out / ".credledger-state"))
    try:
        yield w
    finally:
        gen.close()
        ledger.close()


def _one_line_error(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("credledger: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


# ------------------------------------------------------------------------ the story, remotely


def test_a_cohort_is_issued_revoked_proved_and_verified_offline(world: World) -> None:
    size = world.log_size()
    issued = world.issue("c-1", "c-2", "c-3")
    assert issued.exit_code == 0, issued.stderr
    assert world.log_size() == size + 3
    assert world.documents() == ["c-1.json", "c-2.json", "c-3.json"]
    assert not list((world.out / "uni").glob(".pending*"))
    # the client kept the newest checkpoint it saw, in OUT/.credledger-state
    assert list((world.out / ".credledger-state").glob("checkpoint-*.txt"))
    world.ok("revoke", "uni", "c-2", "--key", str(world.key), "--reason", "withdrawn",
             "--out", str(world.out))
    for own in ("c-1", "c-2"):
        world.ok("prove", "uni", own, "--out", str(world.out), "-o",
                 str(world.tmp / f"{own}.bundle.json"))
    good = world.run("verify", str(world.out / "uni" / "c-1.json"), "--bundle",
                     str(world.tmp / "c-1.bundle.json"), "--log-key", world.vkey,
                     "--subject", "c-1@example.org")
    assert good.exit_code == 0 and "VALID" in good.stdout, good.output
    bad = world.run("verify", str(world.out / "uni" / "c-2.json"), "--bundle",
                    str(world.tmp / "c-2.bundle.json"), "--log-key", world.vkey)
    assert bad.exit_code == 1 and "REVOKED" in bad.stdout, bad.output
    # suspend and reinstate, and the status lists built from the served tiles
    world.ok("suspend", "uni", "c-3", "--key", str(world.key), "--out", str(world.out))
    world.ok("reinstate", "uni", "c-3", "--key", str(world.key), "--reason",
             "review-complete", "--out", str(world.out))
    listed = json.loads(world.ok("status-list", "uni", "--key", str(world.key), "--state-dir",
                                 str(world.out / ".credledger-state"), "--json").stdout)
    assert listed["count"] == 2 and {x["purpose"] for x in listed["lists"]} == {
        "revocation", "suspension"}
    # the served tiles audit clean (audit --tiles already reads a served tree)
    world.fake.ledger.checkpoint(world.fake.signer)
    audit = world.run("audit", "--tiles", world.url, "--log-key", world.vkey)
    assert audit.exit_code == 0, audit.output


def test_issuer_key_commands_remotely(world: World) -> None:
    new = Signer.generate("uni")
    write_signer(world.tmp / "uni-2.key", new)
    state = ("--state-dir", str(world.out / ".credledger-state"))
    world.ok("issuer", "rotate", "uni", "--key", str(world.key), "--new-key",
             str(world.tmp / "uni-2.key"), *state)
    from ledger.events import key_id

    old = key_id(world.uni.public_key)
    no_key = world.remote("issuer", "revoke-key", "uni", old, *state)
    assert no_key.exit_code == 2 and "--key" in _one_line_error(no_key)
    world.ok("issuer", "revoke-key", "uni", old, "--key", str(world.tmp / "uni-2.key"),
             "--reason", "old laptop stolen", "--compromised-since", "1", *state)
    hist = world.fake.ledger.issuer_history("uni")
    assert hist is not None and hist.keys[0].record.revoked_index is not None


def test_env_names_the_log(world: World) -> None:
    env = {"CREDLEDGER_LOG_URL": world.url, "CREDLEDGER_LOG_KEY": world.vkey}
    size = world.log_size()
    result = world.run("achievement", "add", "uni", "m1", "--key", str(world.key), "--name",
                       "Module 1", "--state-dir", str(world.out / ".credledger-state"), env=env)
    assert result.exit_code == 0, result.output
    assert world.log_size() == size + 1
    missing = world.run("achievement", "add", "uni", "m2", "--key", str(world.key), "--name",
                        "M2", "--log", world.url)
    assert missing.exit_code == 2 and "--log-key" in _one_line_error(missing)


# ------------------------------------------------------------------------ a server that lies


@pytest.mark.parametrize("lie", ["other-key", "bad-proof", "other-leaf", "drop"])
def test_a_lying_answer_is_caught_and_nothing_is_written_as_committed(world: World,
                                                                     lie: str) -> None:
    world.fake.lie = lie
    result = world.issue("l-1", "l-2")
    assert result.exit_code == 1, result.output
    line = _one_line_error(result)
    assert "nothing was written as committed" in line and "recover" in line
    assert world.documents() == []  # no holder credential handed out on a lie
    (pending,) = (world.out / "uni").glob(".pending-*.jsonl")  # the salts are kept
    # Against the honest log, recover writes those a verified bundle proves committed (this
    # fake committed before it lied): nothing lost.
    world.fake.lie = None
    world.ok("recover", "uni", "--out", str(world.out))
    assert world.documents() == ["l-1.json", "l-2.json"] and not pending.exists()


def test_a_checkpoint_inconsistent_with_one_seen_before_is_caught(world: World) -> None:
    """The server forks its log: after the client saw one history, it answers from
    another (same size: two roots; a bigger size: no consistency proof holds)."""
    fork_at = world.tmp / "fork"
    world.fake.ledger.backup(fork_at)
    assert world.issue("f-1").exit_code == 0  # the client sees the first history
    original = world.fake.ledger
    world.fake.ledger = Ledger.open(fork_at)
    try:
        same = world.issue("f-2")  # one entry: a checkpoint of the size seen, another root
        assert same.exit_code == 1
        assert "two histories" in _one_line_error(same)
        bigger = world.issue("f-3", "f-4", out=world.tmp / "out2")
        # the state dir is per OUT: give this client the same one
        assert bigger.exit_code == 0  # a fresh state dir has seen nothing: trusts the fork
        bigger = world.remote("achievement", "add", "uni", "m9", "--key", str(world.key),
                              "--name", "M9", "--state-dir", str(world.out / ".credledger-state"))
        assert bigger.exit_code == 1
        assert "not consistent" in _one_line_error(bigger)
        assert world.documents() == ["f-1.json"]
    finally:
        world.fake.ledger.close()
        world.fake.ledger = original


# ------------------------------------------------------------------------ failures


def test_a_batch_resent_after_a_network_failure_issues_nothing_twice(world: World) -> None:
    """The server commits, then the connection breaks before the answer: the client sends
    the same statements again, the server answers them as duplicates."""
    world.fake.drop_after_commit = 1
    size, posts = world.log_size(), len(world.fake.posts)
    result = world.issue("n-1", "n-2", "n-3")
    assert result.exit_code == 0, result.output
    assert world.log_size() == size + 3  # once
    assert len(world.fake.posts) == posts + 2  # sent twice, answered as duplicates
    assert not any(e["duplicate"] for e in world.fake.posts[-2]["entries"])
    assert all(e["duplicate"] for e in world.fake.posts[-1]["entries"])
    handles = world.handles_in_log()
    assert len(handles) == len(set(handles)) == 3
    assert world.documents() == ["n-1.json", "n-2.json", "n-3.json"]


def test_a_batch_interrupted_after_the_commit_is_recovered(world: World) -> None:
    """Every answer is lost after the commit (and the log has not checkpointed it yet): the
    client cannot tell, keeps the pending file and says to recover; recover, once the log
    can prove the batch, writes every holder credential; issuing again issues nothing."""
    world.fake.drop_after_commit = -1
    world.fake.checkpoint_on_commit = False
    log = RemoteLog(world.url, Signer_verifier(world), state_dir=world.out / ".credledger-state",
                    retries=1, sleep=lambda s: None)
    requests = [CredentialRequest(f"r-{i}", f"r{i}@example.org", "cs201", "emailAddress")
                for i in range(4)]
    size = world.log_size()
    with pytest.raises(InterruptedAfterCommitError) as info:
        issuance.issue(log, "uni", world.uni, requests, world.out)
    assert "recover uni" in str(info.value) and f"--log {world.url}" in str(info.value)
    assert world.log_size() == size + 4 and world.documents() == []
    refused = world.issue("r-9")  # a new batch waits for the recovery
    assert refused.exit_code == 3 and "recover" in _one_line_error(refused)
    not_yet = world.remote("recover", "uni", "--out", str(world.out))
    assert not_yet.exit_code == 3 and "checkpoint" in _one_line_error(not_yet)
    world.fake.ledger.checkpoint(world.fake.signer)  # the log's next checkpoint
    world.fake.drop_after_commit = 0
    done = json.loads(world.ok("recover", "uni", "--out", str(world.out), "--json").stdout)
    assert (done["documents"], done["dropped"]) == (4, 0)
    assert world.documents() == [f"r-{i}.json" for i in range(4)]
    again = world.remote("issue", "uni", "--key", str(world.key), "--batch",
                         str(_batch(world, ["r-0", "r-1"])), "--skip-existing", "--out",
                         str(world.out), "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["skipped"] == 2
    assert world.log_size() == size + 4


def test_503_is_retried_after_retry_after(world: World) -> None:
    world.fake.busy, world.fake.retry_after = 2, "1"
    waits: list[float] = []
    log = RemoteLog(world.url, Signer_verifier(world), state_dir=world.out / ".credledger-state",
                    sleep=waits.append)
    requests = [CredentialRequest("b-1", "b1@example.org", "cs201", "emailAddress")]
    issued = issuance.issue(log, "uni", world.uni, requests, world.out)
    assert waits == [1.0, 1.0] and issued.appended.count == 1
    assert world.documents() == ["b-1.json"]


def test_network_failures_are_one_line_errors(world: World, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = RemoteLog(f"http://127.0.0.1:{port}", Signer_verifier(world),
                    state_dir=tmp_path / "st", retries=2, sleep=lambda s: None)
    with pytest.raises(FetchError, match="gave up after 3 attempts"):
        log.head()
    bad = world.run("achievement", "add", "uni", "x", "--key", str(world.key), "--name", "X",
                    "--log", world.url + "/nothing-here", "--log-key", world.vkey,
                    "--state-dir", str(tmp_path / "st"))
    assert bad.exit_code == 3 and "HTTP 404" in _one_line_error(bad)
    malformed = world.run("issue", "uni", "c", "--key", str(world.key), "--subject", "s",
                          "--achievement", "cs201", "--log", "ftp://x", "--log-key", world.vkey)
    assert malformed.exit_code == 2 and "http" in _one_line_error(malformed)


def test_a_lying_bundle_is_not_written(world: World) -> None:
    assert world.issue("p-1").exit_code == 0
    world.fake.lie = "other-key"  # the bundle's checkpoint signed by another key
    out = world.tmp / "p-1.bundle.json"
    result = world.remote("prove", "uni", "p-1", "--out", str(world.out), "-o", str(out))
    assert result.exit_code == 1 and "does not verify" in _one_line_error(result)
    assert not out.exists()


def test_log_answer_error_is_a_verification_error() -> None:
    from ledger.errors import VerificationError

    assert issubclass(LogAnswerError, VerificationError)


# ------------------------------------------------------------------------ helpers


def Signer_verifier(world: World) -> Any:
    from ledger.note import parse_verifier

    return parse_verifier(world.vkey)


def _batch(world: World, ids: list[str]) -> Path:
    path = world.tmp / "again.jsonl"
    path.write_text("".join(json.dumps({"id": i, "subject": f"{i}@example.org",
                                        "achievement": "cs201"}) + "\n" for i in ids))
    return path



# ------------------------------------------------------------------------ the real server


def _server_command() -> tuple[str, Path] | None:
    """The Python and source tree that run ``credledger serve``: this tree once it has
    ledger/service.py; before, CREDLEDGER_TEST_SERVER=PYTHON:ROOT names another (the serve
    branch's worktree); else None (the test is skipped)."""
    import os
    import sys

    root = Path(__file__).resolve().parent.parent
    if (root / "ledger" / "service.py").exists():
        return sys.executable, root
    given = os.environ.get("CREDLEDGER_TEST_SERVER")
    if given:
        python, _, other = given.partition(":")
        return python, Path(other)
    return None


def test_against_the_real_server(tmp_path: Path) -> None:
    """``credledger serve`` in a subprocess (127.0.0.1, an ephemeral port, a bearer token for
    uni): the remote story through it, the bundle verified offline, the status lists from
    its tiles; stopped by its own id."""
    import hashlib
    import os
    import selectors
    import subprocess
    import time

    found = _server_command()
    if found is None:
        pytest.skip("no ledger/service.py here (set CREDLEDGER_TEST_SERVER=PYTHON:ROOT)")
    python, root = found
    store = tmp_path / "store"
    ledger, log_signer, registry = Ledger.create(store, ORIGIN)
    uni = Signer.generate("uni")
    write_signer(tmp_path / "uni.key", uni)
    with ledger:
        ledger.append([sign_statement(make_statement(
            REGISTER_ISSUER, "uni", ledger.clock(), "Uni", "https://uni.example",
            uni.public_key), registry.seed)])
    token = "uni-secret-token"
    config = tmp_path / "serve.json"
    config.write_text(json.dumps({"tokens": {"uni": [
        "sha256:" + hashlib.sha256(token.encode()).hexdigest()]}, "operator_tokens": []}))
    env = dict(os.environ, PYTHONPATH=str(root))
    errors = (tmp_path / "serve.err").open("wb")
    proc = subprocess.Popen([python, "-m", "ledger", "--dir", str(store), "serve", "--port",
                             "0", "--json", "--config", str(config)],
                            env=env, cwd=root, stdout=subprocess.PIPE, stderr=errors)
    try:
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        line, deadline = b"", time.monotonic() + 60
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            if sel.select(timeout=1):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
        sel.close()
        assert line.endswith(b"\n"), (tmp_path / "serve.err").read_text()
        url = json.loads(line)["url"].rstrip("/")
        vkey = str(log_signer.verifier())
        runner = CliRunner()
        out, state = tmp_path / "out", tmp_path / "out" / ".credledger-state"
        common = ["--log", url, "--log-key", vkey]

        def run(*args: str, tok: str | None = token) -> Result:
            result = runner.invoke(cli, [*args, *common], catch_exceptions=True,
                                   env={"CREDLEDGER_LOG_TOKEN": tok} if tok else
                                   {"CREDLEDGER_LOG_TOKEN": ""})
            assert result.exception is None or isinstance(result.exception, SystemExit), \
                result.output
            return result

        no_token = run("achievement", "add", "uni", "cs201", "--key", str(tmp_path / "uni.key"),
                       "--name", "Data Structures", "--state-dir", str(state), tok=None)
        assert no_token.exit_code == 3 and "HTTP 401" in _one_line_error(no_token)
        ok = run("achievement", "add", "uni", "cs201", "--key", str(tmp_path / "uni.key"),
                 "--name", "Data Structures", "--description", "Lists and trees.",
                 "--criteria", "Pass the exam.", "--state-dir", str(state))
        assert ok.exit_code == 0, ok.output
        batch = tmp_path / "cohort.jsonl"
        batch.write_text("".join(json.dumps({"id": f"c-{i}", "subject": f"h{i}@example.org",
                                             "subject_type": "emailAddress",
                                             "achievement": "cs201"}) + "\n"
                                 for i in range(5)))
        issued = run("issue", "uni", "--key", str(tmp_path / "uni.key"), "--batch", str(batch),
                     "--out", str(out))
        assert issued.exit_code == 0, issued.output
        again = run("issue", "uni", "--key", str(tmp_path / "uni.key"), "--batch", str(batch),
                    "--out", str(out), "--skip-existing", "--json")
        assert again.exit_code == 0 and json.loads(again.stdout)["skipped"] == 5, again.output
        revoked = run("revoke", "uni", "c-1", "--key", str(tmp_path / "uni.key"), "--out",
                      str(out), "--reason", "withdrawn")
        assert revoked.exit_code == 0, revoked.output
        for own in ("c-0", "c-1"):
            proved = run("prove", "uni", own, "--out", str(out), "-o",
                         str(tmp_path / f"{own}.bundle.json"))
            assert proved.exit_code == 0, proved.output
        good = runner.invoke(cli, ["verify", str(out / "uni" / "c-0.json"), "--bundle",
                                   str(tmp_path / "c-0.bundle.json"), "--log-key", vkey])
        assert good.exit_code == 0 and "VALID" in good.stdout, good.output
        bad = runner.invoke(cli, ["verify", str(out / "uni" / "c-1.json"), "--bundle",
                                  str(tmp_path / "c-1.bundle.json"), "--log-key", vkey])
        assert bad.exit_code == 1 and "REVOKED" in bad.stdout, bad.output
        lists = run("status-list", "uni", "--key", str(tmp_path / "uni.key"), "--state-dir",
                    str(state), "--json")
        assert lists.exit_code == 0 and json.loads(lists.stdout)["count"] == 2, lists.output
        audit = runner.invoke(cli, ["audit", "--tiles", url, "--log-key", vkey])
        assert audit.exit_code == 0, audit.output
    finally:
        if proc.poll() is None:
            proc.terminate()  # this test's own server, by its id
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        errors.close()
