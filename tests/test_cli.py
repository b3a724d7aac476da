"""Tests for ledger.cli through click.testing.CliRunner: outputs, files, exit codes (docs/ARCHITECTURE.md).

Exit codes: 0 ok, 1 not valid, 2 usage error, 3 any other error; an error is one line on stderr
starting ``credledger: error:``, never a traceback, and a refused command writes nothing.
Entry format 2 (issue 16): a credential is a signed Open Badges 3.0 credential, the issuer's
copy at OUT/ISSUER/<own id>.json, named in the log by a random urn:uuid handle; the log holds
nothing personal, and verify checks the credential beside its proof bundle (--bundle, and the
holder with --subject).
The tlog-proof output is also checked with an inclusion verifier written here from RFC 9162
§2.1.3.2 and a signed-note check written from c2sp.org/signed-note, independent of the package.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import msgpack
import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger import merkle
from ledger.cli import cli
from ledger.errors import VerificationError
from ledger.keys import read_signer
from ledger.log import Ledger
from ledger.note import open_checkpoint, parse_checkpoint, parse_note, parse_verifier
from ledger.tlogproof import check_tlog_proof

ORIGIN = "cli.example/log"
ACHIEVEMENT = "cs201"
"""The achievement :meth:`Env.issue` awards unless told otherwise."""
ACHIEVEMENTS = {"cs201": "Data Structures", "cs999": "Diplôme d'ingénieur"}
"""The names :meth:`Env.achievement` registers (what verify shows as the credential's title)."""
HANDLE = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                    r"[0-9a-f]{12}")


@dataclass
class Env:
    tmp: Path
    store: Path
    runner: CliRunner
    log_vkey: str = ""
    registry_vkey: str = ""
    uni_key: Path = Path()
    uni_vkey: str = ""

    @property
    def out(self) -> Path:
        return self.tmp / "out"

    @property
    def at_out(self) -> tuple[str, str]:
        """``--out OUT``: where the commands that take the issuer's own id for a credential
        (revoke, status, prove, ...) find its credential."""
        return ("--out", str(self.out))

    def run(self, *args: str, store: Path | None = None) -> Result:
        result = self.runner.invoke(cli, ["--dir", str(store or self.store), *args],
                                    catch_exceptions=True)
        # Nothing may escape as an exception: click turns everything into an exit code.
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"credledger {' '.join(args)} raised "
                                 f"{result.exception!r}\n{result.output}") from result.exception
        return result

    def ok(self, *args: str, store: Path | None = None) -> Result:
        result = self.run(*args, store=store)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        """The command's --json object, less its "format" (checked in test_conventions.py)."""
        data = json.loads(self.ok(*args, "--json").stdout)
        if isinstance(data, dict):
            assert str(data.pop("format")).startswith("credledger-"), data
        return data

    def size(self) -> int:
        return int(self.json("status", "uni")["tree_size"])

    def key(self, name: str) -> tuple[Path, str]:
        path = self.tmp / f"{name}.key"
        data = self.json("key", "new", str(path), "--name", name)
        return path, str(data["vkey"])

    def achievement(self, ach_id: str = ACHIEVEMENT, *, issuer: str = "uni",
                    key: Path | None = None) -> None:
        """Register ``ach_id`` for ``issuer`` (named :data:`ACHIEVEMENTS` ``[ach_id]``, or
        "Course ACH_ID") unless the log holds it already: an issue needs its achievement."""
        with read_ledger(self.store) as led:
            if led.achievement(issuer, ach_id) is not None:
                return
        self.ok("achievement", "add", issuer, ach_id, "--key", str(key or self.uni_key),
                "--name", ACHIEVEMENTS.get(ach_id, f"Course {ach_id}"), "--description",
                f"What {ach_id} covers.", "--criteria", f"Pass the {ach_id} exam.", "--type",
                "Course")

    def issue(self, cred: str, *extra: str, achievement: str = ACHIEVEMENT) -> Result:
        """Issue ``cred`` (the issuer's own id) of uni to 'holder of CRED', awarding
        ``achievement``; the first issue of an achievement registers it first (one entry
        more: :meth:`achievement`)."""
        self.achievement(achievement)
        return self.ok("issue", "uni", cred, "--key", str(self.uni_key), "--subject",
                       f"holder of {cred}", "--achievement", achievement, "--out",
                       str(self.out), *extra)

    def credential_path(self, cred: str, issuer: str = "uni") -> Path:
        """The issuer's copy of the credential it issued as ``cred`` (its own id)."""
        return self.out / issuer / f"{cred}.json"

    def credential(self, cred: str, issuer: str = "uni") -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.credential_path(cred, issuer).read_text())
        return data

    def handle(self, cred: str, issuer: str = "uni") -> str:
        """The credential's id in the log and in the credential: urn:uuid:..., random."""
        return str(self.credential(cred, issuer)["id"])


def assert_error(result: Result, code: int = 3, *, match: str | None = None) -> str:
    """Exit ``code`` with exactly one line on stderr, ``credledger: error: ...``."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("credledger: error: "), lines[0]
    if match is not None:
        assert match in lines[0], lines[0]
    return lines[0]


def assert_usage_error(result: Result) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.output


@pytest.fixture
def bare(tmp_path: Path) -> Env:
    return Env(tmp_path, tmp_path / "store", CliRunner())


@pytest.fixture
def env(bare: Env) -> Env:
    """An initialised store with issuer uni registered (entry 0); :meth:`Env.issue` registers
    its achievement cs201 (entry 1) before its first credential."""
    data = bare.json("init", "--origin", ORIGIN)
    bare.log_vkey, bare.registry_vkey = data["log_vkey"], data["registry_vkey"]
    bare.uni_key, bare.uni_vkey = bare.key("uni")
    bare.ok("issuer", "add", "uni", "--key", bare.uni_vkey, "--name", "Example University")
    return bare


def read_ledger(store: Path) -> Ledger:
    """Open the store directly (between commands: the CLI closes it after each one)."""
    return Ledger.open(store)


# ----------------------------------------------------------------------------- set-up commands


def test_init_prints_both_verifier_keys(bare: Env) -> None:
    result = bare.ok("init", "--origin", ORIGIN)
    log_key = read_signer(bare.store / "keys" / "log.key")
    registry_key = read_signer(bare.store / "keys" / "registry.key")
    log_vkey, registry_vkey = str(log_key.verifier()), str(registry_key.verifier())
    assert log_vkey in result.stdout and registry_vkey in result.stdout
    assert parse_verifier(log_vkey).name == ORIGIN
    assert parse_verifier(registry_vkey).name == ORIGIN + "/registry"
    assert "PRIVATE" not in result.output
    for name in ("log.key", "registry.key"):
        assert stat.S_IMODE((bare.store / "keys" / name).stat().st_mode) == 0o600
    # --json on a second store: one JSON object naming the same kind of keys.
    data = json.loads(bare.run("init", "--origin", ORIGIN, "--json",
                               store=bare.tmp / "s2").stdout)
    assert set(data) >= {"log_vkey", "registry_vkey", "origin"}
    assert parse_verifier(data["log_vkey"]).name == ORIGIN
    # A second init on the same store is refused and changes nothing.
    assert_error(bare.run("init", "--origin", ORIGIN), 3, match="already exists")
    assert read_signer(bare.store / "keys" / "log.key") == log_key


@pytest.mark.parametrize("origin", ["", "has space", "a+b", "tab\there"])
def test_init_refuses_bad_origin(bare: Env, origin: str) -> None:
    result = bare.run("init", "--origin", origin)
    assert result.exit_code == 2
    assert not (bare.store / "data.mdb").exists()


def test_key_new_makes_a_0600_file(bare: Env) -> None:
    path = bare.tmp / "uni.key"
    result = bare.ok("key", "new", str(path), "--name", "uni.example")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    signer = read_signer(path)
    assert result.stdout.splitlines()[0] == str(signer.verifier())
    assert signer.name == "uni.example"
    assert str(signer) not in result.output
    shown = bare.ok("key", "show", str(path))
    assert shown.stdout.strip() == str(signer.verifier())
    assert "PRIVATE" not in shown.output
    # Never overwrites a key file.
    before = path.read_bytes()
    assert_error(bare.run("key", "new", str(path)), 3, match="refusing to overwrite")
    assert path.read_bytes() == before
    # The default name is the file's stem.
    other = bare.tmp / "college.key"
    bare.ok("key", "new", str(other))
    assert read_signer(other).name == "college"
    assert_usage_error(bare.run("key", "new", str(bare.tmp / "x.key"), "--name", "a b"))


def test_key_new_stdout_is_the_verifier_key_only(bare: Env) -> None:
    # Issue 15: --key "$(credledger key new f.key)" failed on the note's second line. Stdout
    # carries the result only; the note goes to stderr.
    bare.ok("init", "--origin", ORIGIN)
    result = bare.ok("key", "new", str(bare.tmp / "f.key"))
    assert result.stdout == str(read_signer(bare.tmp / "f.key").verifier()) + "\n"
    assert "mode 0600" in result.stderr and "key id" in result.stderr
    captured = result.stdout.removesuffix("\n")  # what $(...) gives
    bare.ok("issuer", "add", "f", "--key", captured)
    assert bare.json("status", "f")["registered_at"] == 0
    # The same for init (its two keys, one a line) and witness init (its key).
    init = bare.ok("init", "--origin", ORIGIN, store=bare.tmp / "s2")
    log_vkey, registry_vkey = init.stdout.splitlines()
    assert log_vkey == str(read_signer(bare.tmp / "s2" / "keys" / "log.key").verifier())
    assert registry_vkey == str(read_signer(bare.tmp / "s2" / "keys" / "registry.key").verifier())
    assert "publish" in init.stderr
    witness = bare.ok("witness", "init", str(bare.tmp / "w"), "--name", "w.example")
    assert len(witness.stdout.splitlines()) == 1 and witness.stdout.startswith("w.example+")
    assert "--witness" in witness.stderr


def test_issuer_add_registers(env: Env) -> None:
    data = env.json("status", "uni")
    assert data["registered_at"] == 0 and data["name"] == "Example University"
    assert data["tree_size"] == 1
    entry = env.json("entry", "0")
    assert entry["kind"] == "register-issuer" and entry["issuer"] == "uni"
    assert entry["signer_key_id"] == hashlib.sha256(
        parse_verifier(env.registry_vkey).public_key).hexdigest()[:16]


# ----------------------------------------------------------------------------- issuing


def _check_holder_document(env: Env, cred: str, subject: str, index: int, *,
                           subject_type: str = "name",
                           achievement: str = ACHIEVEMENT) -> dict[str, Any]:
    """The credential issued as ``cred`` to ``subject``, committed to by entry ``index``: the
    issuer's copy (0600) is a signed Open Badges credential naming the holder only by a salted
    hash; the log holds its random handle, digest and achievement, and nothing personal."""
    from ledger import openbadges

    path = env.credential_path(cred)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    assert HANDLE.fullmatch(doc["id"]), doc["id"]
    badge = openbadges.verify_credential(doc).badge  # its Data Integrity proof verifies
    assert openbadges.identifier_matches(badge, subject, subject_type)
    assert not openbadges.identifier_matches(badge, subject + "x")
    assert json.dumps(subject) not in text  # only its salted hash
    assert doc["credentialSubject"]["achievement"]["id"] == (
        f"https://{ORIGIN}/achievements/uni/{achievement}")
    assert doc["name"] == ACHIEVEMENTS.get(achievement, f"Course {achievement}")
    entry = env.json("entry", str(index))
    assert (entry["kind"], entry["issuer"]) == ("issue", "uni")
    fields = entry["statement_fields"]
    assert fields["credential"] == doc["id"]
    assert fields["digest"] == openbadges.credential_digest(doc).hex()
    assert fields["achievement"] == achievement
    index_in_list = str(fields["status_index"] % 131072)
    assert {s["statusListIndex"] for s in doc["credentialStatus"]} == {index_in_list}
    # Neither the subject nor the issuer's own id is in the leaf: not as a msgpack string (the
    # plain bytes of a short text, "s3" say, turn up in random hashes and signatures now and
    # then), nor as a field.
    raw = env.ok("entry", str(index), "--raw").stdout_bytes
    assert msgpack.packb(subject) not in raw and msgpack.packb(cred) not in raw
    assert subject not in entry["fields"] and cred not in entry["fields"]
    return doc


def test_issue_single_writes_a_holder_credential(env: Env) -> None:
    env.issue("m-1")  # entry 1 registers cs201, entry 2 issues m-1
    result = env.ok("issue", "uni", "c-1", "--key", str(env.uni_key), "--subject",
                    "Zo\u00eb Example", "--achievement", ACHIEVEMENT, "--result", "A",
                    "--expires", "2028-06-30", "--part", "m-1", "--out", str(env.out), "--json")
    res = json.loads(result.stdout)
    assert (res["first_index"], res["count"], res["size"]) == (3, 1, 4)
    doc = _check_holder_document(env, "c-1", "Zo\u00eb Example", 3)
    assert doc["validUntil"] == "2028-06-30T23:59:59Z"
    assert doc["credentialSubject"]["result"][0]["value"] == "A"
    assert [e["id"] for e in doc["evidence"]] == [env.handle("m-1")]
    fields = env.json("entry", "3")["statement_fields"]
    assert fields["parts"] == [env.handle("m-1")]
    last_second = datetime.datetime(2028, 6, 30, 23, 59, 59, tzinfo=datetime.UTC)
    assert fields["valid_until"] == int(last_second.timestamp()) * 1000
    status = env.json("status", "uni", "c-1", *env.at_out)
    assert (status["state"], status["achievement"], status["parts"]) == (
        "issued", ACHIEVEMENT, [env.handle("m-1")])
    assert status["valid_until"].startswith("2028-06-30T23:59:59")
    assert status["digest"] == fields["digest"]
    # The same credential by its handle.
    assert env.json("status", "uni", doc["id"]) == status
    assert not list((env.out / "uni").glob(".pending*"))


def test_issue_batch_jsonl(env: Env) -> None:
    env.issue("m-1")
    env.achievement("cs202")
    rows: list[dict[str, Any]] = [
        {"id": f"b-{i}", "subject": f"Learner {i}", "achievement": ACHIEVEMENT}
        for i in range(5)]
    rows[1]["expires"] = "2030-01-31"
    rows[2]["parts"] = ["m-1"]
    rows[3].update(subject="learner3@example.org", subject_type="emailAddress", result="B")
    rows[4].update(subject="S-0004", subject_type="sisSourcedId", achievement="cs202")
    batch = env.tmp / "cohort.jsonl"
    batch.write_text("\n".join(json.dumps(r) for r in rows[:3]) + "\n\n"
                     + "\n".join(json.dumps(r) for r in rows[3:]) + "\n", encoding="utf-8")
    result = env.ok("issue", "uni", "--key", str(env.uni_key), "--batch", str(batch), "--out",
                    str(env.out))
    assert "issued 5 credentials" in result.output
    assert env.size() == 9
    for i, row in enumerate(rows):
        doc = _check_holder_document(env, row["id"], row["subject"], 4 + i,
                                     subject_type=row.get("subject_type", "name"),
                                     achievement=row["achievement"])
        assert doc.get("validUntil") == ("2030-01-31T23:59:59Z" if i == 1 else None)
        assert ("result" in doc["credentialSubject"]) == (i == 3)
    assert env.credential("b-3")["credentialSubject"]["result"][0]["value"] == "B"
    assert env.json("status", "uni", "b-2", *env.at_out)["parts"] == [env.handle("m-1")]
    assert len({env.handle(r["id"]) for r in rows}) == 5  # a random handle each
    assert not list((env.out / "uni").glob(".pending*"))


def test_status_changes(env: Env) -> None:
    env.issue("c-1")  # entry 2
    handle = env.handle("c-1")
    key = ("--key", str(env.uni_key), "--out", str(env.out))
    env.ok("suspend", "uni", "c-1", *key, "--reason", "under-review")
    assert env.json("status", "uni", "c-1", *env.at_out)["state"] == "suspended"
    assert_error(env.run("suspend", "uni", "c-1", *key), 3, match="already-suspended")
    # By its handle as well as by the issuer's own id (no --out needed for a handle).
    result = env.ok("reinstate", "uni", handle, "--key", str(env.uni_key), "--reason",
                    "review-complete")
    assert f"reinstated uni/{handle}: review-complete" in result.stdout
    data = env.json("status", "uni", "c-1", *env.at_out)
    assert (data["state"], data["changed_index"], data["reason"]) == (
        "issued", 4, "review-complete")
    assert_error(env.run("reinstate", "uni", "c-1", *key), 3, match="not-suspended")
    result = env.ok("revoke", "uni", "c-1", *key, "--reason", "withdrawn")
    assert f"revoked uni/c-1 ({handle}): withdrawn" in result.stdout
    data = env.json("status", "uni", "c-1", *env.at_out)
    assert (data["state"], data["changed_index"], data["entries"]) == ("revoked", 5, [2, 3, 4, 5])
    assert data["reason"] == "withdrawn"
    for verb in ("revoke", "suspend", "reinstate"):
        assert_error(env.run(verb, "uni", "c-1", *key), 3, match="already-revoked")
        assert_error(env.run(verb, "uni", handle, *key), 3, match="already-revoked")
    assert env.size() == 6
    human = env.ok("status", "uni", "c-1", "--out", str(env.out)).stdout
    assert "REVOKED" in human and "withdrawn" in human and handle in human
    # The log holds the handle and the reason code: never the issuer's own id.
    for index in (3, 4, 5):
        fields = env.json("entry", str(index))["statement_fields"]
        assert fields["credential"] == handle and "c-1" not in json.dumps(fields)


@pytest.mark.parametrize("verb", ["revoke", "suspend", "reinstate"])
def test_a_reason_is_a_code_never_free_text(env: Env, verb: str) -> None:
    """Issue 16: a status change's reason is public forever, so it is one of a few codes;
    free text (about a person, often) is a usage error, exit 2, and nothing is written."""
    from ledger.events import REASON_CODES

    env.issue("c-1")
    if verb == "reinstate":
        env.ok("suspend", "uni", "c-1", "--key", str(env.uni_key), "--out", str(env.out))
    before = env.size()
    for text in ("plagiarism in the final exam", "Withdrawn", "withdrawn ", ""):
        result = env.run(verb, "uni", "c-1", "--key", str(env.uni_key), "--out", str(env.out),
                         "--reason", text)
        assert_usage_error(result)
        assert "--reason" in result.stderr
        assert all(code in result.stderr for code in REASON_CODES[verb])
        assert env.size() == before
        # Under --json: one line of JSON, exit 2.
        result = env.run(verb, "uni", "c-1", "--key", str(env.uni_key), "--out",
                         str(env.out), "--reason", text, "--json")
        assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
        assert json.loads(result.stderr)["error"]["code"] == 2
    # A code of another kind is refused too (under-review is for suspend only).
    if verb != "suspend":
        assert_usage_error(env.run(verb, "uni", "c-1", "--key", str(env.uni_key), "--out",
                                   str(env.out), "--reason", "under-review"))
    assert env.size() == before
    code = REASON_CODES[verb][-1]
    env.ok(verb, "uni", "c-1", "--key", str(env.uni_key), "--out", str(env.out), "--reason",
           code)
    assert env.json("status", "uni", "c-1", "--out", str(env.out))["reason"] == code


def test_revoke_of_an_own_id_without_its_credential_is_a_clear_error(env: Env) -> None:
    """The issuer's own id names a file in OUT/ISSUER/: without it (the wrong --out, or a
    credential erased), revoke and the rest say so in one line and write nothing; the
    handle still works."""
    env.issue("c-1")
    handle = env.handle("c-1")
    elsewhere = env.tmp / "elsewhere"
    before = env.size()
    for verb in ("revoke", "suspend"):
        for args in (("c-1", "--out", str(elsewhere)), ("c-2", "--out", str(env.out)),
                     ("c-1",)):  # the default --out, ./credentials, has nothing
            line = assert_error(env.run(verb, "uni", *args, "--key", str(env.uni_key)), 3)
            assert f"no credential {args[0]!r} in " in line and "urn:uuid:" in line
    for command in ("status", "prove"):
        assert_error(env.run(command, "uni", "c-1", "--out", str(elsewhere)), 3,
                     match="no credential 'c-1' in ")
    assert env.size() == before and not elsewhere.exists()
    # A credential file that is no credential: named, nothing written.
    env.credential_path("c-1").write_text("{}")
    line = assert_error(env.run("revoke", "uni", "c-1", "--key", str(env.uni_key), "--out",
                                str(env.out)), 3)
    assert "not a credential" in line
    # A handle that is no valid urn:uuid: refused as such.
    assert_error(env.run("revoke", "uni", "urn:uuid:not-a-uuid", "--key", str(env.uni_key)))
    assert env.size() == before
    env.ok("revoke", "uni", handle, "--key", str(env.uni_key), "--out", str(elsewhere))
    assert env.json("status", "uni", handle)["state"] == "revoked"


def test_issue_of_an_unregistered_achievement_is_refused(env: Env) -> None:
    """Issue 16: a credential awards a registered achievement; any other is refused before
    anything is signed or written (exit 3), singly or in a batch."""
    env.achievement()
    before = env.size()
    line = assert_error(env.run("issue", "uni", "c-1", "--key", str(env.uni_key), "--subject",
                                "Ada", "--achievement", "phd-in-everything", "--out",
                                str(env.out)), 3)
    assert "'phd-in-everything' is not registered for 'uni'" in line
    assert "credledger achievement add" in line
    batch = env.tmp / "b.jsonl"
    batch.write_text(json.dumps({"id": "b-1", "subject": "Ada", "achievement": ACHIEVEMENT})
                     + "\n" + json.dumps({"id": "b-2", "subject": "Bo", "achievement": "cs999"})
                     + "\n", encoding="utf-8")
    line = assert_error(env.run("issue", "uni", "--key", str(env.uni_key), "--batch",
                                str(batch), "--out", str(env.out)), 3)
    assert "b.jsonl:2: " in line and "'cs999' is not registered" in line
    # Another issuer's achievement is not this issuer's.
    college_key, college_vkey = env.key("college")
    env.ok("issuer", "add", "college", "--key", college_vkey)
    env.achievement("cs777", issuer="college", key=college_key)
    before = env.size()
    assert_error(env.run("issue", "uni", "c-1", "--key", str(env.uni_key), "--subject", "Ada",
                         "--achievement", "cs777", "--out", str(env.out)), 3,
                 match="'cs777' is not registered for 'uni'")
    assert env.size() == before
    assert not env.out.exists()  # no file, no folder, no pending file


def test_issuer_rotate_revoke_key_and_retire(env: Env) -> None:
    env.achievement()  # entry 1, by the first key
    new_key, _ = env.key("uni-2027")
    env.ok("issuer", "rotate", "uni", "--key", str(env.uni_key), "--new-key", str(new_key))
    assert_error(env.run("issue", "uni", "c-1", "--key", str(env.uni_key), "--subject", "s",
                         "--achievement", ACHIEVEMENT, "--out", str(env.out)), 3,
                 match="key-not-active")
    env.ok("issue", "uni", "c-1", "--key", str(new_key), "--subject", "s", "--achievement",
           ACHIEVEMENT, "--out", str(env.out))
    env.ok("issuer", "revoke-key", "uni", env.json("key", "show", str(new_key))["vkey"],
           "--reason", "stolen")
    assert_error(env.run("revoke", "uni", "c-1", "--key", str(new_key), "--out",
                         str(env.out)), 3, match="key-not-active")
    env.ok("issuer", "retire", "uni", "--reason", "merged")
    assert env.json("status", "uni")["retired_at"] == 5
    assert env.json("status", "uni", "c-1", "--out", str(env.out))["state"] == "issued"


# ----------------------------------------------------------------------------- checkpoints, proofs


def _note_ok(note: str, vkey: str) -> tuple[str, int, bytes]:
    """Check a checkpoint note per c2sp.org/signed-note and tlog-checkpoint, independently."""
    name, hex_id, b64 = vkey.split("+", 2)
    raw = base64.b64decode(b64)
    assert raw[0] == 0x01 and len(raw) == 33
    pub = raw[1:]
    assert hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4].hex() == hex_id
    text, _, sigs = note.rpartition("\n\n")
    text += "\n"
    found = False
    for line in sigs.splitlines():
        dash, sig_name, sig_b64 = line.split(" ")
        assert dash == "\u2014"
        blob = base64.b64decode(sig_b64)
        if sig_name == name and blob[:4].hex() == hex_id:
            Ed25519PublicKey.from_public_bytes(pub).verify(blob[4:], text.encode())
            found = True
    assert found
    origin, size, root = text.split("\n")[:3]
    assert text == f"{origin}\n{size}\n{root}\n"
    return origin, int(size), base64.b64decode(root)


def test_checkpoint_prints_exactly_a_note(env: Env) -> None:
    env.issue("c-1")
    result = env.ok("checkpoint")
    note = result.stdout
    cp = open_checkpoint(note, parse_verifier(env.log_vkey))
    assert (cp.origin, cp.size) == (ORIGIN, 3)
    assert _note_ok(note, env.log_vkey) == (ORIGIN, 3, cp.root)
    with read_ledger(env.store) as led:
        assert cp.root == led.head().root
    assert note.endswith("\n") and not note.endswith("\n\n")
    assert env.ok("checkpoint").stdout == note
    data = env.json("checkpoint")
    assert (data["size"], data["root"], data["note"]) == (3, cp.root.hex(), note)
    # The registry key cannot open it; a changed byte breaks it.
    with pytest.raises(VerificationError):
        open_checkpoint(note, parse_verifier(env.registry_vkey))
    with pytest.raises(VerificationError):
        open_checkpoint(note.replace("\n3\n", "\n4\n"), parse_verifier(env.log_vkey))


def test_entry_raw_is_the_leaf(env: Env) -> None:
    env.issue("c-1")
    for index in (0, 1, 2):
        raw = env.ok("entry", str(index), "--raw").stdout_bytes
        data = env.json("entry", str(index))
        assert merkle.leaf_hash(raw).hex() == data["leaf_hash"]
        assert len(raw) == data["size_bytes"]
        with read_ledger(env.store) as led:
            assert led.store.read(lambda t: t.tree_node(0, index)) == merkle.leaf_hash(raw)  # noqa: B023
            assert led.entry_bytes(index) == raw
    assert_error(env.run("entry", "3"), 3, match="no entry 3")
    assert_usage_error(env.run("entry", "-1"))


def rfc9162_inclusion_ok(leaf_index: int, tree_size: int, leaf: bytes, path: list[bytes],
                         root: bytes) -> bool:
    """RFC 9162 §2.1.3.2, step by step, as written."""

    def h(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    if leaf_index >= tree_size:  # 1.
        return False
    fn, sn = leaf_index, tree_size - 1  # 2.
    r = leaf  # 3.
    for p in path:  # 4.
        if sn == 0:  # a.
            return False
        if fn & 1 or fn == sn:  # b.
            r = h(b"\x01" + p + r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = h(b"\x01" + r + p)
        fn >>= 1  # c.
        sn >>= 1
    return sn == 0 and r == root  # 5.


def _parse_tlog_proof(text: str) -> tuple[bytes, int, list[bytes], str]:
    """c2sp.org/tlog-proof@v1, parsed here without the package."""
    head, _, note = text.partition("\n\n")
    lines = head.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert lines[1].startswith("extra ") and lines[2].startswith("index ")
    return (base64.b64decode(lines[1][6:]), int(lines[2][6:]),
            [base64.b64decode(x) for x in lines[3:]], note)


def test_prove_tlog_proof(env: Env) -> None:
    for i in range(6):
        env.issue(f"c-{i}")  # entry 1 registers the achievement; c-3 is entry 5
    out = env.at_out
    assert_error(env.run("prove", "uni", "c-3", *out, "--format", "tlog-proof", "--size", "8"),
                 3, match="no checkpoint of size 8")
    env.ok("checkpoint")
    env.issue("late")
    text = env.ok("prove", "uni", "c-3", *out, "--format", "tlog-proof", "--size", "8").stdout
    # By its own id (looked up in --out) or by its handle: the same proof.
    handle = env.handle("c-3")
    assert env.ok("prove", "uni", handle, "--format", "tlog-proof", "--size", "8").stdout == text
    vkey = parse_verifier(env.log_vkey)
    cp, index, data = check_tlog_proof(text, verifier=vkey)
    assert (cp.size, index) == (8, 5)
    raw = env.ok("entry", "5", "--raw").stdout_bytes
    assert data == raw
    assert env.json("entry", "5")["statement_fields"]["credential"] == handle
    check_tlog_proof(text, entry=raw, root=cp.root, size=cp.size)
    # The independent verifier agrees, from the text alone.
    extra, index2, path, note = _parse_tlog_proof(text)
    origin, size, root = _note_ok(note, env.log_vkey)
    assert (extra, index2, origin, size, root) == (raw, 5, ORIGIN, 8, cp.root)
    assert rfc9162_inclusion_ok(index2, size, hashlib.sha256(b"\x00" + extra).digest(), path,
                                root)
    assert not rfc9162_inclusion_ok(index2 + 1, size, merkle.leaf_hash(extra), path, root)
    for i in range(len(path)):
        bad = list(path)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        assert not rfc9162_inclusion_ok(index2, size, merkle.leaf_hash(extra), bad, root)
        b64 = base64.b64encode(path[i]).decode()
        changed = text.replace(b64, base64.b64encode(bad[i]).decode())
        with pytest.raises(VerificationError):
            check_tlog_proof(changed, verifier=vkey)
    # -o writes the same text; a credential issued after the checkpoint is refused.
    target = env.tmp / "c-3.tlog-proof"
    outside = env.tmp / "outside.txt"
    outside.write_text("keep me")
    (env.tmp / "c-3.tlog-proof.tmp").symlink_to(outside)  # the temp name it once used
    env.ok("prove", "uni", "c-3", *out, "--format", "tlog-proof", "--size", "8", "-o",
           str(target))
    assert target.read_text(encoding="utf-8") == text
    assert outside.read_text() == "keep me"  # never written through a planted link
    assert_error(env.run("prove", "uni", "late", *out, "--format", "tlog-proof", "--size", "8"),
                 3, match="after the checkpoint")
    never = "urn:uuid:00000000-0000-4000-8000-000000000000"
    assert_error(env.run("prove", "uni", never, "--format", "tlog-proof"), 3,
                 match="never issued")
    assert_error(env.run("prove", "uni", "nope", *out, "--format", "tlog-proof"), 3,
                 match="no credential 'nope'")


def test_prove_proves_the_log_as_it_is_now(env: Env) -> None:
    """Issue 15: after the last checkpoint the log grew (a revocation, a new credential);
    prove signs a checkpoint of the whole log rather than silently prove the older state,
    which it proves only when asked (--size)."""
    env.issue("c-1")
    old = env.json("checkpoint")["size"]
    out = env.at_out
    env.ok("revoke", "uni", "c-1", "--key", str(env.uni_key), *out, "--reason", "withdrawn")
    env.issue("c-2")
    now = env.size()
    revoked, fresh, stale = env.tmp / "c-1.json", env.tmp / "c-2.json", env.tmp / "old.json"
    result = env.ok("prove", "uni", "c-1", *out, "-o", str(revoked))
    assert f"signed a checkpoint of size {now}" in result.stderr
    assert [size for size, _ in read_ledger(env.store).checkpoints()] == [old, now]
    result = env.run("verify", str(revoked), "--log-key", env.log_vkey, "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["answer"] == "REVOKED"
    assert json.loads(result.stdout)["checkpoint"]["size"] == now
    result = env.run("verify", str(env.credential_path("c-1")), "--bundle", str(revoked),
                     "--log-key", env.log_vkey, "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["answer"] == "REVOKED"
    result = env.ok("prove", "uni", "c-2", *out, "-o", str(fresh))
    assert "signed" not in result.stderr  # the log has not grown since: no new checkpoint
    assert env.run("verify", str(fresh), "--log-key", env.log_vkey).exit_code == 0
    # The older state only when asked.
    env.ok("prove", "uni", "c-1", *out, "--size", str(old), "-o", str(stale))
    result = env.run("verify", str(env.credential_path("c-1")), "--bundle", str(stale),
                     "--log-key", env.log_vkey, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["checkpoint"]["size"] == old
    # The same for a tlog-proof.
    env.issue("c-3")
    text = env.ok("prove", "uni", "c-3", *out, "--format", "tlog-proof").stdout
    cp, index, _ = check_tlog_proof(text, verifier=parse_verifier(env.log_vkey))
    assert (cp.size, index) == (now + 1, now)


def test_prove_without_the_log_key_refuses(bare: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the log has grown and no checkpoint can be signed (an encrypted log key without a
    passphrase, or no log key in the store), prove refuses in one line naming the ways out."""
    monkeypatch.setenv("CREDLEDGER_PASSPHRASE", "s3cret passphrase")
    bare.json("init", "--origin", ORIGIN, "--encrypt")
    bare.uni_key, uni_vkey = bare.key("uni")
    bare.ok("issuer", "add", "uni", "--key", uni_vkey, "--name", "Example University")
    bare.achievement()
    bare.ok("checkpoint")  # of size 2
    monkeypatch.delenv("CREDLEDGER_PASSPHRASE")
    bare.issue("c-1")
    for fmt in ("bundle", "tlog-proof"):
        line = assert_error(bare.run("prove", "uni", "c-1", *bare.at_out, "--format", fmt), 3)
        assert "encrypted" in line and "credledger checkpoint" in line and "--size 2" in line
    assert [size for size, _ in read_ledger(bare.store).checkpoints()] == [2]
    # asked: NOT FOUND
    assert bare.run("prove", "uni", "c-1", *bare.at_out, "--size", "2").exit_code == 0
    monkeypatch.setenv("CREDLEDGER_PASSPHRASE", "s3cret passphrase")
    bare.ok("prove", "uni", "c-1", *bare.at_out)
    bare.issue("c-2")
    (bare.store / "keys" / "log.key").rename(bare.tmp / "log.key")
    line = assert_error(bare.run("prove", "uni", "c-2", *bare.at_out), 3)
    assert "log key is not in" in line and "--size 3" in line


def test_prove_bundle_and_verify(env: Env) -> None:
    env.issue("c-1")
    env.issue("c-2")
    env.ok("revoke", "uni", "c-2", "--key", str(env.uni_key), *env.at_out, "--reason",
           "issued-in-error")
    env.ok("checkpoint")
    for cred, code in (("c-1", 0), ("c-2", 1)):
        bundle = env.tmp / f"{cred}.bundle.json"
        env.ok("prove", "uni", cred, *env.at_out, "-o", str(bundle))
        word = "VALID" if code == 0 else "REVOKED"
        # The bundle alone answers the status only.
        result = env.run("verify", str(bundle), "--log-key", env.log_vkey)
        assert result.exit_code == code, result.output
        assert result.stdout.startswith(f"{word:<10} uni/{env.handle(cred)} 'Data Structures'")
        assert "credential not checked (only its bundle was given)" in result.stdout
        # The credential beside its bundle: checked too; as --bundle, or as a second FILE.
        for args in (["--bundle", str(bundle)], [str(bundle)]):
            result = env.run("verify", str(env.credential_path(cred)), *args, "--log-key",
                             env.log_vkey)
            assert result.exit_code == code, result.output
            assert result.stdout.startswith(f"{word:<10} uni/{env.handle(cred)} ")
            assert "; credential checked; holder not checked (no --subject)" in result.stdout
    assert_usage_error(env.run("verify", str(env.tmp / "c-1.bundle.json")))  # no trust


def test_verify_checks_the_credential_beside_its_bundle(env: Env) -> None:
    """Issue 16 (replaces --document/--attachment): a holder's credential is verified with
    the bundle that travels beside it: its proof, its digest against the log's, the
    achievement the log registered; --subject against its salted hash. A credential without
    its bundle, or with a bundle that does not prove it, is a usage error (exit 2); a
    credential changed after signing, or the wrong holder, is INVALID (exit 1)."""
    env.issue("c-1")
    env.issue("c-2")
    college_key, college_vkey = env.key("college")
    env.ok("issuer", "add", "college", "--key", college_vkey, "--name", "A College")
    env.achievement("cs201", issuer="college", key=college_key)
    env.ok("issue", "college", "k-1", "--key", str(college_key), "--subject", "holder of c-1",
           "--achievement", "cs201", *env.at_out)
    env.ok("checkpoint")
    bundle, other = env.tmp / "c-1.bundle.json", env.tmp / "c-2.bundle.json"
    college = env.tmp / "k-1.bundle.json"
    env.ok("prove", "uni", "c-1", *env.at_out, "-o", str(bundle))
    env.ok("prove", "uni", "c-2", *env.at_out, "-o", str(other))
    env.ok("prove", "college", "k-1", *env.at_out, "-o", str(college))
    cred = env.credential_path("c-1")
    handle = env.handle("c-1")
    key = ["--log-key", env.log_vkey]
    digest = env.json("status", "uni", handle)["digest"]
    # Checked, with and without the holder.
    data = env.json("verify", str(cred), "--bundle", str(bundle), *key)
    (c,) = data["credentials"]
    assert (c["answer"], c["id"], c["digest"], c["credential_checked"]) == (
        "VALID", handle, digest, True)
    assert (c["achievement"], c["title"], c["holder_checked"], c["subject"]) == (
        ACHIEVEMENT, "Data Structures", False, None)
    data = env.json("verify", str(bundle), *key)
    assert data["credentials"][0]["credential_checked"] is False
    result = env.ok("verify", str(cred), "--bundle", str(bundle), *key, "--subject",
                    "holder of c-1")
    assert "credential checked; holder 'holder of c-1' matches it" in result.stdout
    data = env.json("verify", str(cred), "--bundle", str(bundle), *key, "--subject",
                    "holder of c-1")
    assert data["credentials"][0]["subject"] == "holder of c-1"
    assert data["credentials"][0]["holder_checked"] is True
    # --subject wrong: INVALID, exit 1, one line on stderr, whichever way it is wrong.
    for wrong in ("holder of c-2", "Holder of c-1", "holder of c-1 ", ""):
        result = env.run("verify", str(cred), "--bundle", str(bundle), *key, "--subject", wrong)
        line = assert_error(result, 1)
        assert result.stdout.startswith(f"INVALID    uni/{handle}: the holder {wrong!r} is not")
        assert "does not verify" in line
        result = env.run("verify", str(cred), "--bundle", str(bundle), *key, "--subject", wrong,
                         "--json")
        assert result.exit_code == 1 and json.loads(result.stdout)["answer"] == "INVALID"
    # --subject without the credential: a usage error.
    assert_error(env.run("verify", str(bundle), *key, "--subject", "holder of c-1"), 2,
                 match="--subject checks the holder named in a credential")
    # Without its bundle: exit 2, naming the fix.
    line = assert_error(env.run("verify", str(cred), *key), 2)
    assert f"{cred} is a holder's credential" in line and "--bundle BUNDLE" in line
    # With a bundle that proves another credential, of the same issuer or of another: exit 2,
    # naming the fix, and no answer on stdout.
    for wrong_bundle in (other, college):
        result = env.run("verify", str(cred), "--bundle", str(wrong_bundle), *key)
        line = assert_error(result, 2, match=f"none of the bundles proves its credential {handle}")
        assert result.stdout == "" and f"verify {cred} --bundle BUNDLE" in line
    result = env.run("verify", str(cred), "--bundle", str(other), "--bundle", str(college), *key)
    line = assert_error(result, 2, match=f"none of the bundles proves its credential {handle}")
    assert result.stdout == ""  # (with several bundles, checked before any is verified)
    # With several, it goes with the one that proves it; the others are verified alone.
    result = env.run("verify", str(cred), "--bundle", str(other), "--bundle", str(bundle), *key)
    assert result.exit_code == 0 and result.stdout.count("credential checked") == 1
    # The bundle given where the credential goes, or a credential given as the bundle.
    result = env.run("verify", str(bundle), "--bundle", str(cred), *key)
    line = assert_error(result, 2)  # (the bundle is verified alone, in a block of its own)
    assert f"{cred} is a holder's credential, not a proof bundle" in line
    result = env.run("verify", str(cred), "--bundle", str(env.credential_path("c-2")), *key)
    line = assert_error(result, 2, match=f"none of the bundles proves its credential {handle}")
    assert result.stdout == "" and "--bundle BUNDLE" in line
    # The options of v1 are gone: a usage error, nothing verified.
    for gone in ("--document", "--attachment"):
        result = env.run("verify", str(bundle), *key, gone, str(cred))
        assert_usage_error(result)
        assert f"No such option '{gone}'" in result.stderr


def test_verify_a_credential_changed_after_signing_is_invalid(env: Env) -> None:
    """Any changed byte that changes what the credential says breaks its proof or its digest:
    INVALID, exit 1, one line on stderr. A wallet's re-serialisation (the same JSON-LD
    statements) is not a change."""
    env.issue("c-1", "--expires", "2030-01-31")
    env.ok("checkpoint")
    bundle = env.tmp / "c-1.bundle.json"
    env.ok("prove", "uni", "c-1", *env.at_out, "-o", str(bundle))
    text = env.credential_path("c-1").read_text()
    key = ["--log-key", env.log_vkey]
    handle = env.handle("c-1")
    changes = {
        "name": text.replace('"Data Structures"', '"Data Structurez"', 1),
        "date": text.replace('"validUntil": "2030-01-31T23:59:59Z"',
                             '"validUntil": "2031-01-31T23:59:59Z"'),
        "salt": re.sub(r'"salt": "([0-9a-f])', lambda m: '"salt": "'
                       + ("0" if m.group(1) != "0" else "1"), text, count=1),
        "status-index": re.sub(r'"statusListIndex": "(\d+)"',
                               lambda m: f'"statusListIndex": "{int(m.group(1)) ^ 1}"', text),
        "proof": re.sub(r'"proofValue": "z(.)', lambda m: '"proofValue": "z'
                        + ("2" if m.group(1) != "2" else "3"), text, count=1),
    }
    for what, changed in changes.items():
        assert changed != text, what
        path = env.tmp / f"changed-{what}.json"
        path.write_text(changed)
        result = env.run("verify", str(path), "--bundle", str(bundle), *key)
        assert_error(result, 1, match="does not verify")
        # Named by its handle, or by its file when it is not even well formed.
        assert result.stdout.startswith((f"INVALID    uni/{handle}: the credential: ",
                                         f"INVALID    {path}: the credential: ")), what
        assert len(result.stdout.splitlines()) == 1
        result = env.run("verify", str(path), "--bundle", str(bundle), *key, "--json")
        assert result.exit_code == 1 and json.loads(result.stdout)["answer"] == "INVALID"
    # One flipped byte anywhere in the file: never VALID.
    raw = env.credential_path("c-1").read_bytes()
    flipped = env.tmp / "flipped.json"
    for at in range(0, len(raw), max(1, len(raw) // 40)):
        flipped.write_bytes(raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1:])
        result = env.run("verify", str(flipped), "--bundle", str(bundle), *key)
        assert result.exit_code in (1, 2), (at, result.output)
        assert "Traceback" not in result.output and len(result.stderr.splitlines()) == 1
    # The same statements, serialised otherwise (compact, members reordered): still VALID.
    doc = json.loads(text)
    compact = env.tmp / "compact.json"
    compact.write_text(json.dumps(dict(reversed(list(doc.items()))), separators=(",", ":")))
    env.ok("verify", str(compact), "--bundle", str(bundle), *key, "--subject", "holder of c-1")


def test_verify_names_wrong_files_and_usage_mistakes(env: Env) -> None:
    """Issue 15: usage mistakes exit 2 in one line; a holder's credential or a text file given
    as FILE is named as such; a tlog-proof file is verified as one."""
    env.issue("c-1")  # entry 2
    bundle, proof = env.tmp / "c-1.bundle.json", env.tmp / "c-1.tlog-proof"
    env.ok("prove", "uni", "c-1", *env.at_out, "-o", str(bundle))
    env.ok("prove", "uni", "c-1", *env.at_out, "--format", "tlog-proof", "-o", str(proof))
    cp = env.json("checkpoint")
    key = ["--log-key", env.log_vkey]
    handle = env.handle("c-1")
    assert_error(env.run("verify", str(bundle), "--log-key", "not a key"), 2, match="--log-key")
    assert_error(env.run("verify", str(bundle), "--root", "zz", "--size", "1"), 2,
                 match="--root")
    assert_error(env.run("verify", str(bundle), *key, "--max-age", "7d"), 2,
                 match="--max-age needs --witness")
    assert_error(env.run("verify", str(bundle), *key, "--witness", "bad"), 2, match="--witness")
    doc = env.credential_path("c-1")
    line = assert_error(env.run("verify", str(doc), *key), 2)
    assert "holder's credential" in line and "--bundle" in line
    text = env.tmp / "notes.txt"
    text.write_text("hello\n")
    result = env.run("verify", str(text), *key)
    assert result.exit_code == 1
    assert result.stdout == f"INVALID    {text}: not a proof bundle (not JSON)\n"
    # A tlog-proof, by the log key or a trusted root.
    for trust in (key, ["--root", cp["root"], "--size", str(cp["size"])]):
        result = env.ok("verify", str(proof), *trust)
        assert result.stdout.startswith(
            f"INCLUDED   entry 2 is in the log: issue uni/{handle} (achievement cs201) ")
        assert f"size {cp['size']}" in result.stdout
        data = env.json("verify", str(proof), *trust)
        assert (data["answer"], data["index"]) == ("INCLUDED", 2)
        assert (data["entry"]["kind"], data["entry"]["issuer"], data["entry"]["id"],
                data["entry"]["achievement"]) == ("issue", "uni", handle, ACHIEVEMENT)
    result = env.run("verify", str(proof), "--root", "00" * 32, "--size", str(cp["size"]))
    assert result.exit_code == 1 and result.stdout.startswith("INVALID")
    other_vkey = env.json("key", "new", str(env.tmp / "other.key"), "--name", ORIGIN)["vkey"]
    lines = proof.read_text().split("\n")
    lines[3] = base64.b64encode(bytes(32)).decode()  # the first hash of the inclusion path
    tampered = env.tmp / "tampered.tlog-proof"
    tampered.write_text("\n".join(lines))
    for bad in ([str(proof), "--log-key", other_vkey], [str(tampered), *key]):
        result = env.run("verify", *bad)
        assert result.exit_code == 1 and result.stdout.startswith("INVALID"), result.output
    # A tlog-proof proves no credential: a usage error.
    line = assert_error(env.run("verify", str(doc), "--bundle", str(proof), *key), 2)
    assert "is a tlog-proof, which proves only that an entry is in the log" in line


def _run_entry(args: list[str], *, through_click: bool, extra_env: dict[str, str] | None = None,
               close_stdout: bool = False, stdin: bytes = b"") -> tuple[int, str, str]:
    """Run ``credledger ARGS`` in a fresh interpreter: through the console script's entry
    (``ledger.main``: the click-free fast path for verify) or straight through click."""
    import subprocess
    import sys

    code = ("from ledger.cli import cli; cli(prog_name='credledger')" if through_click
            else "from ledger.main import main; main()")
    if close_stdout:
        code = "import os; os.close(1)\n" + code.replace("; ", "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("CREDLEDGER_DIR", "CREDLEDGER_LOG_KEY")}
    env.update(extra_env or {})
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          env=env, timeout=60, check=False, input=stdin)
    return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")


def test_fast_verify_path_matches_click(env: Env) -> None:
    """Every verify command line gives the same exit code, stdout and stderr through the fast
    path as through click (which takes over for help and usage errors)."""
    env.issue("c-1", "--expires", "2030-01-31")
    env.issue("c-2")
    env.ok("suspend", "uni", "c-2", "--key", str(env.uni_key), *env.at_out, "--reason",
           "under-review")
    cp = env.json("checkpoint")
    good, held = env.tmp / "c-1.bundle.json", env.tmp / "c-2.bundle.json"
    env.ok("prove", "uni", "c-1", *env.at_out, "-o", str(good))
    env.ok("prove", "uni", "c-2", *env.at_out, "-o", str(held))
    tampered = env.tmp / "bad.json"
    bundle = json.loads(good.read_text())
    head, sep, sigs = bundle["checkpoint"].partition("\n\n")
    bundle["checkpoint"] = head.replace("\n", "\n ", 1) + sep + sigs  # the size line changed
    tampered.write_text(json.dumps(bundle))
    cred, cred2 = env.credential_path("c-1"), env.credential_path("c-2")
    changed = env.tmp / "changed.json"
    changed.write_text(cred.read_text().replace('"Data Structures"', '"Data Structurez"', 1))
    key = env.log_vkey
    notes, proof = env.tmp / "notes.txt", env.tmp / "c-1.tlog-proof"
    notes.write_text("not a bundle\n")
    env.ok("prove", "uni", "c-1", *env.at_out, "--format", "tlog-proof", "-o", str(proof))
    b64root = base64.b64encode(bytes.fromhex(cp["root"])).decode()
    saved, trustfile = env.tmp / "saved.cp", env.tmp / "keys.trust"
    saved.write_text(cp["note"])
    trustfile.write_text(f"# logs I trust\n\n{env.uni_vkey}\n{key}\n")
    holder = "holder of c-1"
    cases: list[list[str]] = [
        [str(good), "--log-key", key],
        [str(good), f"--log-key={key}", "--json", "--at", "2027-06-01"],
        ["--log-key", key, str(held)],
        [str(held), "--log-key", key, "--json", "--at=2027-06-01"],
        [str(good), "--log-key", key, "--at", "2030-02-01"],
        [str(good), "--log-key", key, "--at", "2030-02-30"],
        [str(tampered), "--log-key", key],
        [str(tampered), "--log-key", key, "--json", "--at", "2027-06-01"],
        [str(env.tmp / "missing.json"), "--log-key", key],
        [str(env.tmp), "--log-key", key],
        [str(good), "--log-key", "not a key"],
        [str(good), "--root", "00" * 32, "--size", "3"],
        [str(good), "--root", "zz", "--size", "3"],
        [str(good), "--root", "00" * 32],
        [str(good)],
        [str(good), "--log-key", key, "--size", "-1"],
        [str(good), "--log-key", key, "--min-witnesses", "2"],
        [str(good), "--log-key", key, "--max-age", "7x"],
        [str(good), "--log-key", key, "--max-age", "7d"],
        [str(good), "--log-key", key, "--witness", "bad witness key"],
        [str(good), "--log-key"],
        [str(good), "--log-key", key, "--bogus"],
        [str(good), str(held), "--log-key", key],
        ["--help"],
        [str(good), "--root", cp["root"], "--size", str(cp["size"])],
        [str(held), "--root", cp["root"], "--size", str(cp["size"]), "--json", "--at",
         "2027-06-01"],
        # Issue 16: the credential beside its bundle (--bundle, =, a second FILE, several),
        # the holder (--subject right, wrong, empty, missing its value, without a
        # credential), a credential without or with the wrong bundle, changed, or given as
        # the bundle; the options of v1 gone.
        [str(cred), "--bundle", str(good), "--log-key", key],
        [str(cred), f"--bundle={good}", "--log-key", key, "--json", "--at", "2027-06-01"],
        [str(cred), str(good), "--log-key", key],
        ["--bundle", str(good), str(cred), "--log-key", key, "--at", "2030-02-01"],
        [str(cred), str(cred2), "--bundle", str(good), "--bundle", str(held), "--log-key", key],
        [str(cred), str(cred2), "--bundle", str(good), "--bundle", str(held), "--log-key", key,
         "--json", "--at", "2027-06-01"],
        [str(cred), "--bundle", str(good), "--log-key", key, "--subject", holder],
        [str(cred), "--bundle", str(good), "--log-key", key, f"--subject={holder}", "--json",
         "--at", "2027-06-01"],
        [str(cred), "--bundle", str(good), "--log-key", key, "--subject", "holder of c-2"],
        [str(cred), "--bundle", str(good), "--log-key", key, "--subject", "holder of c-2",
         "--json", "--at", "2027-06-01"],
        [str(cred), "--bundle", str(good), "--log-key", key, "--subject", ""],
        [str(cred), "--bundle", str(good), "--log-key", key, "--subject"],
        [str(cred), "--bundle", str(good), "--log-key", key, "--subject", holder, "--subject",
         "holder of c-2"],
        [str(good), "--log-key", key, "--subject", holder],
        [str(cred), "--log-key", key],
        [str(cred), "--log-key", key, "--json"],
        [str(cred), "--bundle", str(held), "--log-key", key],
        [str(cred), "--bundle", str(held), "--log-key", key, "--json"],
        [str(cred), "--bundle", str(held), "--bundle", str(tampered), "--log-key", key],
        [str(changed), "--bundle", str(good), "--log-key", key],
        [str(changed), "--bundle", str(good), "--log-key", key, "--json"],
        [str(good), "--bundle", str(cred), "--log-key", key],
        [str(cred), "--bundle", str(cred2), "--log-key", key],
        [str(cred), "--bundle", str(notes), "--log-key", key],
        [str(cred), "--bundle", str(env.tmp / "missing.json"), "--log-key", key],
        [str(cred), "--bundle", str(env.tmp), "--log-key", key],
        [str(cred), "--bundle"],
        [str(cred), "--bundle", str(good), "--bundle", str(good), "--log-key", key],
        [str(good), "--log-key", key, "--document", str(cred)],
        [str(good), "--log-key", key, "--attachment", str(notes)],
        # Issue 15: wrong kinds of file, usage mistakes, tlog-proofs.
        [str(notes), "--log-key", key],
        [str(notes), "--log-key", key, "--json"],
        [str(proof), "--log-key", key],
        [str(proof), "--log-key", key, "--json", "--at", "2027-06-01"],  # "at": no clock race
        [str(proof), "--root", cp["root"], "--size", str(cp["size"])],
        [str(proof), "--root", "00" * 32, "--size", str(cp["size"])],
        [str(cred), "--bundle", str(proof), "--log-key", key],
        [str(good), "--log-key", key, "--max-age", "7d", "--min-witnesses", "0"],
        # Issue 15, what the employer sees: base64 roots, saved checkpoints, trust files,
        # several files and stdin.
        [str(good), "--root", b64root, "--size", str(cp["size"])],
        [str(good), "--root", b64root, "--size", str(cp["size"]), "--log-key", key],
        [str(good), "--checkpoint", str(saved), "--log-key", key],
        [str(good), "--checkpoint", str(saved), "--json", "--at", "2027-06-01"],
        [str(cred), "--bundle", str(good), "--checkpoint", str(saved), "--subject", holder],
        [str(good), "--checkpoint", str(saved), "--log-key", env.uni_vkey],
        [str(good), "--checkpoint", str(env.tmp / "missing.cp")],
        [str(good), "--trust", str(trustfile)],
        [str(cred), "--bundle", str(good), "--trust", str(trustfile)],
        [str(proof), "--trust", str(trustfile)],
        [str(good), "--trust", str(env.tmp / "missing.trust")],
        [str(good), str(held), str(tampered), "--log-key", key],
        [str(good), str(held), "--log-key", key, "--json", "--at", "2027-06-01"],
        [str(good), str(env.tmp / "missing.json"), "--log-key", key],
        ["-", "--log-key", key],
        ["-", str(good), "--log-key", key, "--json", "--at", "2027-06-01"],
        ["-", "-", "--log-key", key],
        [str(cred), "--bundle", "-", "--log-key", key, "--subject", holder],
        [str(cred), "--bundle", "-", "-", "--log-key", key],
    ]
    for args in cases:
        fast = _run_entry(["verify", *args], through_click=False, stdin=good.read_bytes())
        slow = _run_entry(["verify", *args], through_click=True, stdin=good.read_bytes())
        assert fast == slow, args
        assert "Traceback" not in fast[1] + fast[2], args
        # Bad input: one line on stderr for each file that failed (click's usage errors
        # aside), "credledger: error: ..." or, under --json, one JSON object.
        if fast[2] and not fast[2].startswith(("Usage: ", "Error: ")):  # (click's own)
            lines = fast[2].splitlines()
            files = [a for a in args if not a.startswith("-") or a == "-"]
            assert fast[0] and len(lines) <= max(1, len(files)), (args, fast)
            for line in lines:
                assert line.startswith("credledger: error: ") or (
                    "--json" in args and json.loads(line)["error"]["code"] == fast[0]), args
    # The fast path took the new options itself (click was not needed to parse them).
    from ledger.verifycmd import parse_verify_args

    parsed = parse_verify_args([str(cred), "--bundle", str(good), f"--bundle={held}",
                                "--subject", holder, "--log-key", key])
    assert parsed is not None
    assert (parsed["files"], parsed["bundles"], parsed["subject"]) == (
        (str(cred),), (str(good), str(held)), holder)
    assert parse_verify_args([str(cred), "--bundle"]) is None  # click's usage error
    assert parse_verify_args([str(cred), "--subject", "--bundle", str(good)]) is None
    # An achievement name that an ASCII-only stdout cannot take, and a closed stdout.
    env.issue("c-3", achievement="cs999")
    env.ok("checkpoint")
    accented = env.tmp / "c-3.json"
    env.ok("prove", "uni", "c-3", *env.at_out, "-o", str(accented))
    for extra in ({"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C", "PYTHONUTF8": "0"}):
        for args in (["verify", str(accented), "--log-key", key],
                     ["verify", str(env.credential_path("c-3")), "--bundle", str(accented),
                      "--log-key", key]):
            fast = _run_entry(args, through_click=False, extra_env=extra)
            assert fast == _run_entry(args, through_click=True, extra_env=extra)
            assert fast[0] == 0 and "ingénieur" in fast[1]
    for args in (["verify", str(good), "--log-key", key], ["verify", str(held), "--log-key", key],
                 ["verify", str(cred), "--bundle", str(good), "--log-key", key]):
        fast = _run_entry(args, through_click=False, close_stdout=True)
        assert fast == _run_entry(args, through_click=True, close_stdout=True)
        assert "Traceback" not in fast[2]
    assert _run_entry(["verify", str(good), "--log-key", key], through_click=False)[0] == 0
    assert _run_entry(["verify", str(tampered), "--log-key", key], through_click=False)[0] == 1
    assert _run_entry(["verify", str(cred), "--bundle", str(good), "--log-key", key,
                       "--subject", holder], through_click=False)[0] == 0
    assert _run_entry(["verify", str(cred), "--bundle", str(good), "--log-key", key,
                       "--subject", "holder of c-2"], through_click=False)[0] == 1


# What a cold ``credledger verify`` must not import (issue 5: its start-up is most of its cost).
# click (ledger.verifycmd parses the command line: through click a cold verify misses its
# budget, benchmarks/README.md), lmdb, PyNaCl (bulk checks only) and the writer's modules
# belong to other commands. Modules already imported when the interpreter started are not
# counted.
_NOT_ON_THE_VERIFY_PATH = (
    "click", "lmdb", "nacl", "ledger.parallel", "ledger.rules", "ledger.issuance",
    "ledger.cli", "ledger.log", "ledger.snapshot", "ledger.store", "ledger.audit", "ledger.keys",
    "ledger.tiles", "ledger.tlogproof", "ledger.demo",
    "tempfile", "pathlib",  # (files.py reads; it writes none)
)


@pytest.mark.parametrize("witness", [False, True], ids=["log-key", "witness"])
@pytest.mark.parametrize("credential", [False, True], ids=["bundle", "credential"])
def test_fast_verify_path_imports_only_the_verifier(env: Env, witness: bool,
                                                    credential: bool) -> None:
    """A fast-path verify, in a fresh interpreter, imports none of the modules above (and
    ledger.witness only for ``--witness``), whether it checks a bundle alone or a credential
    beside it (and the holder). A check of what is imported, not of timings."""
    import subprocess
    import sys

    from ledger.witness import WitnessKey

    env.issue("c-1")
    env.ok("checkpoint")
    bundle = env.tmp / "c-1.bundle.json"
    env.ok("prove", "uni", "c-1", *env.at_out, "-o", str(bundle))
    args: list[str] = ["verify", str(bundle), "--log-key", env.log_vkey]
    unwanted: tuple[str, ...] = _NOT_ON_THE_VERIFY_PATH
    if credential:
        args = ["verify", str(env.credential_path("c-1")), "--bundle", str(bundle),
                "--subject", "holder of c-1", "--log-key", env.log_vkey]
        # (ledger.ldloader reads the pinned contexts with importlib.resources, which imports
        # tempfile and, installed from a wheel, pathlib; a credential's check loads pyld, far
        # more, anyway)
        unwanted = tuple(m for m in unwanted if m not in ("tempfile", "pathlib"))
    if witness:
        args += ["--witness", str(WitnessKey.generate("w.example").verifier()),
                 "--min-witnesses", "0"]
    else:
        unwanted += ("ledger.witness",)
    code = ("import sys\n"
            "before = set(sys.modules)\n"
            "import ledger.main\n"
            "def stop(code):\n    raise SystemExit(code)\n"
            "ledger.main.exit_now = stop  # exit_now leaves at once; here, look around first\n"
            "try:\n    ledger.main.main()\n"
            "except SystemExit as e:\n"
            f"    print('exit', e.code, sorted(m for m in {unwanted!r}\n"
            "                                if m in sys.modules and m not in before))\n")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.stdout.splitlines()[-1] == "exit 0 []", proc.stdout + proc.stderr


def test_consistency_between_checkpoints(env: Env) -> None:
    vkey = parse_verifier(env.log_vkey)
    env.issue("c-1")
    old = open_checkpoint(env.ok("checkpoint").stdout, vkey)
    for i in range(2, 9):
        env.issue(f"c-{i}")
    new = open_checkpoint(env.ok("checkpoint").stdout, vkey)
    assert (old.size, new.size) == (3, 10)
    for args in ((str(old.size), str(new.size)), (str(old.size),)):
        lines = env.ok("consistency", *args).stdout.splitlines()
        proof = [base64.b64decode(x, validate=True) for x in lines]
        assert proof and all(len(h) == 32 for h in proof)
        merkle.verify_consistency(old.size, new.size, proof, old.root, new.root)
        with pytest.raises(VerificationError):
            merkle.verify_consistency(old.size, new.size, proof[:-1], old.root, new.root)
    data = env.json("consistency", "3", "10")
    assert [base64.b64decode(h) for h in data["proof"]] == proof
    assert base64.b64decode(data["root1"]) == old.root
    assert env.ok("consistency", "10", "10").stdout == ""
    assert_usage_error(env.run("consistency", "10", "3"))
    assert_error(env.run("consistency", "3", "11"), 3)


# ----------------------------------------------------------------------------- errors


def test_refusals_exit_3_and_write_nothing(env: Env) -> None:
    env.issue("c-1")
    handle = env.handle("c-1")
    saved = env.credential_path("c-1").read_bytes()
    never = "urn:uuid:00000000-0000-4000-8000-000000000000"
    key, out = ("--key", str(env.uni_key)), env.at_out
    cases = [
        # The issuer's own id names one credential: never a second (it would replace the
        # issuer's only copy of the first).
        (("issue", "uni", "c-1", *key, "--subject", "s", "--achievement", ACHIEVEMENT, *out),
         "credential id 'c-1' was already issued"),
        (("revoke", "uni", never, *key), "refused (unknown-credential)"),
        (("revoke", "uni", "nope", *key, *out), "no credential 'nope' in"),
        (("reinstate", "uni", "c-1", *key, *out), "refused (not-suspended)"),
        (("reinstate", "uni", handle, *key), "refused (not-suspended)"),
        (("issue", "ghost", "c-1", *key, "--subject", "s", "--achievement", ACHIEVEMENT, *out),
         "issuer 'ghost' is not registered"),
        (("issuer", "add", "uni", "--key", env.uni_vkey), "refused (issuer-exists)"),
        (("issue", "uni", "c-9", *key, "--subject", "s", "--achievement", ACHIEVEMENT,
          "--part", "nope", *out), "part 'nope': no credential"),
        (("achievement", "add", "uni", ACHIEVEMENT, *key, "--name", "Another"),
         "refused (duplicate-achievement)"),
    ]
    other_key, _ = env.key("other")
    cases.append((("revoke", "uni", "c-1", "--key", str(other_key), *out),
                  "refused (wrong-signer)"))
    for args, words in cases:
        assert_error(env.run(*args), 3, match=words)
        assert env.size() == 3
    assert not env.credential_path("c-9").exists()
    assert env.credential_path("c-1").read_bytes() == saved
    assert sorted(p.name for p in (env.out / "uni").iterdir()) == ["c-1.json"]


def test_missing_store_exits_3(bare: Env) -> None:
    for args in (("status", "uni"), ("checkpoint",), ("entry", "0"), ("consistency", "0")):
        assert_error(bare.run(*args), 3, match="no ledger store")
    assert not bare.store.exists()


@pytest.mark.parametrize("args", [
    ("nope",), ("issue",), ("issue", "uni", "c-1"), ("status",), ("entry", "x"),
    ("init",), ("prove", "uni"), ("prove", "uni", "c-1", "--format", "pdf"),
    ("checkpoint", "--bogus"), ("consistency",), ("key", "new"),
], ids=lambda a: " ".join(a))
def test_usage_errors_exit_2(env: Env, args: tuple[str, ...]) -> None:
    result = env.run(*args)
    assert_usage_error(result)
    assert env.size() == 1


def test_issue_usage_errors_exit_2(env: Env) -> None:
    env.achievement()
    key = ("--key", str(env.uni_key), "--out", str(env.out))
    batch = env.tmp / "b.jsonl"
    batch.write_text(json.dumps({"id": "b-1", "subject": "s", "achievement": ACHIEVEMENT})
                     + "\n", encoding="utf-8")
    for args in (("issue", "uni", *key), ("issue", "uni", "c-1", "--subject", "s", *key),
                 ("issue", "uni", "c-1", "--achievement", ACHIEVEMENT, *key),
                 ("issue", "uni", "c-1", "--batch", str(batch), *key),
                 ("issue", "uni", "--batch", str(batch), "--achievement", ACHIEVEMENT, *key),
                 ("issue", "uni", "--batch", str(batch), "--subject-type", "emailAddress",
                  *key)):
        result = env.run(*args)
        assert_usage_error(result)
        assert result.stderr.startswith("credledger: error: ")
        assert len(result.stderr.splitlines()) == 1
    # The options of v1 are gone; a subject type is one of three.
    for option, value in (("--title", "Python 101"), ("--document", str(batch)),
                          ("--attachment", str(batch)), ("--subject-type", "phone")):
        assert_usage_error(env.run("issue", "uni", "c-1", "--subject", "s", "--achievement",
                                   ACHIEVEMENT, *key, option, value))
    assert env.size() == 2
    assert not env.out.exists()


# ------------------------------------------------------ typed errors, and files from outside


def test_proving_more_than_1024_credentials_is_a_usage_error(env: Env) -> None:
    from statements import handle

    env.ok("checkpoint")
    out = env.tmp / "many.json"
    ids = [handle(n) for n in range(1025)]  # never issued: each would get a proof of absence
    line = assert_error(env.run("prove", "uni", *ids, "-o", str(out)), 2,
                        match="more than 1024 credentials")
    assert "internal error" not in line and not out.exists()
    env.ok("prove", "uni", *ids[:1024], "-o", str(out))  # the limit itself is fine


def _export(env: Env) -> Path:
    env.issue("c-1")
    env.issue("c-2")
    env.ok("checkpoint")
    tiles = env.tmp / "tiles"
    env.ok("export", "tiles", str(tiles))
    return tiles


def test_audit_tiles_unreachable_url_is_one_line(env: Env) -> None:
    line = assert_error(env.run("audit", "--tiles", "http://127.0.0.1:1/", "--log-key",
                                env.log_vkey), 3, match="GET http://127.0.0.1:1/checkpoint: ")
    assert "internal error" not in line
    assert_error(env.run("audit", "--tiles", "ftp://example.org/log", "--log-key",
                         env.log_vkey), 2, match="want a directory or an http")


@pytest.mark.parametrize("which", ["tile", "entry-bundle", "checkpoint"])
def test_audit_tiles_with_a_missing_file_is_one_line(env: Env, which: str) -> None:
    tiles = _export(env)
    env.ok("audit", "--tiles", str(tiles), "--log-key", env.log_vkey)
    if which == "checkpoint":
        (tiles / "checkpoint").unlink()  # the wrong directory, not a failed audit: exit 3
        line = assert_error(env.run("audit", "--tiles", str(tiles), "--log-key",
                                    env.log_vkey), 3, match="checkpoint: no such file")
    else:
        under = tiles / "tile" / ("entries" if which == "entry-bundle" else "0")
        for p in under.rglob("*"):
            if p.is_file():
                p.unlink()
        line = assert_error(env.run("audit", "--tiles", str(tiles), "--log-key",
                                    env.log_vkey), 1, match="missing: ")
    assert "internal error" not in line


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_files_from_outside_that_are_not_regular_are_refused_at_once(env: Env,
                                                                     kind: str) -> None:
    # A FIFO (no writer: a plain open waits for ever) or /dev/zero (endless) where a command
    # reads a file: one line, exit 3, at once. Each command runs in a fresh interpreter with a
    # time limit, so a regression fails instead of hanging.
    tiles = _export(env)
    note = env.tmp / "checkpoint.txt"
    note.write_text(env.ok("checkpoint").stdout, encoding="utf-8")
    env.ok("witness", "init", str(env.tmp / "w1"), "--name", "w1.example")
    env.ok("witness", "init", str(env.tmp / "w2"), "--name", "w2.example")
    tiles2 = env.tmp / "tiles2"
    env.ok("export", "tiles", str(tiles2))

    def hostile(path: Path) -> Path:
        if path.exists():
            path.unlink()
        if kind == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to("/dev/zero")
        return path

    tile = next(p for p in (tiles2 / "tile" / "0").rglob("*") if p.is_file())
    cases = [
        ["witness", "cosign", str(hostile(env.tmp / "bad-note")), "--state", str(env.tmp / "w1"),
         "--log-key", env.log_vkey],
        ["witness", "cosign", str(note), "--state", str(env.tmp / "w2"), "--log-key",
         env.log_vkey],
        ["audit", "--tiles", str(tiles), "--log-key", env.log_vkey],
        ["audit", "--tiles", str(tiles2), "--log-key", env.log_vkey],
        ["audit", "--tiles", str(tiles2), "--log-key", env.log_vkey, "--checkpoint",
         str(hostile(env.tmp / "saved"))],
    ]
    hostile(env.tmp / "w2" / "state.json")
    hostile(tiles / "checkpoint")
    hostile(tile)
    for args in cases:
        code, out, err = _run_entry(args, through_click=True)
        lines = err.splitlines()
        assert (code, len(lines)) == (3, 1), (args, code, out, err)
        assert lines[0].startswith("credledger: error: ") and "not a regular file" in lines[0], \
            (args, err)


def _batch_file(env: Env, text: str | bytes) -> Path:
    path = env.tmp / "batch.jsonl"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _line(cred: str, subject: str = "s", **extra: Any) -> str:
    """One JSONL batch line: ``cred`` (the own id) to ``subject``, awarding cs201."""
    return json.dumps({"id": cred, "subject": subject, "achievement": ACHIEVEMENT, **extra}) + "\n"


GOOD_LINE = _line("b-1")
BAD_BATCHES: dict[str, str | bytes] = {
    "broken-json": GOOD_LINE + '{"id": "b-2", "subject": "s", "achievement": \n',
    "not-an-object": GOOD_LINE + '["b-2", "s", "cs201"]\n',
    "unknown-field": GOOD_LINE + _line("b-2", colour=1),
    "v1-title": GOOD_LINE + _line("b-2", title="Python 101"),
    "v1-document": GOOD_LINE + _line("b-2", document="ab" * 32),
    "missing-achievement": GOOD_LINE + '{"id": "b-2", "subject": "s"}\n',
    "unregistered-achievement": GOOD_LINE + _line("b-2", achievement="cs999"),
    "bad-subject-type": GOOD_LINE + _line("b-2", subject_type="phone"),
    "long-line": GOOD_LINE + _line("b-2", "x" * 70_000),
    "long-result": GOOD_LINE + _line("b-2", result="x" * 20_000),
    "repeated-id": GOOD_LINE + GOOD_LINE,
    "bad-id": GOOD_LINE + _line("b 2"),
    "bad-expiry": GOOD_LINE + _line("b-2", expires="soon"),
    "bad-parts": GOOD_LINE + _line("b-2", parts="b-1"),
    "not-utf8": GOOD_LINE.encode() + b'{"id": "b-2", "subject": "\xff", "achievement": "cs201"}\n',
    "empty": "\n\n",
    "refused-part": GOOD_LINE + _line("b-2", parts=["x"]),
}


@pytest.mark.parametrize("flaw", list(BAD_BATCHES))
def test_bad_batch_exits_nonzero_in_one_line(env: Env, flaw: str) -> None:
    env.achievement()
    path = _batch_file(env, BAD_BATCHES[flaw])
    result = env.run("issue", "uni", "--key", str(env.uni_key), "--batch", str(path), "--out",
                     str(env.out))
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line != "issuing"]
    assert len(errors) == 1 and errors[0].startswith("credledger: error: "), result.stderr
    if flaw not in ("empty", "not-utf8", "broken-json"):
        assert "batch.jsonl:2: " in errors[0], errors[0]  # the line that is wrong
    assert env.size() == 2
    assert not (env.out / "uni" / "b-1.json").exists()
    assert not list(env.out.glob("uni/.pending*"))


def test_a_good_batch_line_is_issued(env: Env) -> None:
    """The bad batches above differ from a good one only in their flaw."""
    env.achievement()
    path = _batch_file(env, GOOD_LINE + _line("b-2", "s2", subject_type="sisSourcedId",
                                              result="A", expires="2030-01-31", parts=["b-1"]))
    env.ok("issue", "uni", "--key", str(env.uni_key), "--batch", str(path), *env.at_out)
    assert env.size() == 4


def _pending_line(env: Env, cred: str) -> str:
    """The pending record of the credential issued as ``cred`` (docs/FORMAT.md §10.1), as a
    batch's pending file holds it before the credential is written."""
    return json.dumps({"origin": ORIGIN, "issuer": "uni", "id": cred,
                       "credential": env.credential(cred)}) + "\n"


def test_rerun_after_crash_keeps_the_pending_salts(env: Env) -> None:
    env.achievement()
    path = _batch_file(env, GOOD_LINE)
    env.ok("issue", "uni", "--key", str(env.uni_key), "--batch", str(path), "--out",
           str(env.out))
    # A crash after the commit, before the credentials were written: only the pending file
    # holds the salt (FORMAT.md §10). The operator runs the same command again.
    pending = env.out / "uni" / ".pending-b-1.jsonl"
    pending.write_text(_pending_line(env, "b-1"), encoding="utf-8")
    pending.chmod(0o600)
    env.credential_path("b-1").unlink()
    saved = pending.read_bytes()
    result = env.run("issue", "uni", "--key", str(env.uni_key), "--batch", str(path), "--out",
                     str(env.out))
    assert_error(result, 3, match="recover")
    assert pending.exists() and pending.read_bytes() == saved
    assert env.size() == 3


def _crash_after_commit(env: Env, lines: str) -> tuple[Path, Path]:
    """Issue ``lines`` as a batch, then undo the credential writes as a crash after the commit
    would have left them: only the pending file holds the salts."""
    env.achievement()
    path = _batch_file(env, lines)
    env.ok("issue", "uni", "--key", str(env.uni_key), "--batch", str(path), "--out",
           str(env.out))
    records = []
    for line in lines.splitlines():
        cred = json.loads(line)["id"]
        records.append(_pending_line(env, cred))
        env.credential_path(cred).unlink()
    pending = env.out / "uni" / ".pending-b-1.jsonl"
    pending.write_text("".join(records), encoding="utf-8")
    pending.chmod(0o600)
    return path, pending


def test_backup_is_a_compacted_working_copy(env: Env) -> None:
    for i in range(30):
        env.issue(f"b-{i}")
    env.ok("revoke", "uni", "b-3", "--key", str(env.uni_key), *env.at_out, "--reason",
           "issued-in-error")
    env.ok("checkpoint")
    dest = env.tmp / "backups" / "one"
    data = env.json("backup", str(dest))
    assert data["size"] == env.size() == 33
    assert data["backup_bytes"] <= data["store_bytes"]
    assert dest.stat().st_mode & 0o077 == 0 and (dest / "keys").stat().st_mode & 0o077 == 0
    assert sorted(p.name for p in (dest / "keys").iterdir()) == ["log.key", "registry.key"]
    for key in (dest / "keys").iterdir():
        assert key.stat().st_mode & 0o077 == 0
        assert key.read_bytes() == (env.store / "keys" / key.name).read_bytes()
    assert not [p for p in dest.parent.iterdir() if p.name != "one"]  # no temp dir left
    # The copy is a store in its own right: it audits, answers and takes new entries.
    audit = json.loads(env.run("audit", "--json", store=dest).stdout)
    assert audit["ok"] and audit["entries"] == 33
    status = json.loads(env.run("status", "uni", "b-3", *env.at_out, "--json",
                                store=dest).stdout)
    assert status["state"] == "revoked"
    result = env.runner.invoke(cli, ["--dir", str(dest), "issue", "uni", "b-99", "--key",
                                     str(env.uni_key), "--subject", "x", "--achievement",
                                     ACHIEVEMENT, "--out", str(env.out)])
    assert result.exit_code == 0, result.output
    assert env.size() == 33  # the original is untouched
    # A backup never overwrites.
    assert_error(env.run("backup", str(dest)), match="already exists")
    (env.tmp / "file").write_text("x")
    assert_usage_error(env.run("backup", str(env.tmp / "file")))  # a file: not a directory


def test_recover_writes_the_committed_documents(env: Env) -> None:
    from statements import handle

    lines = GOOD_LINE + _line("b-2", "s2")
    _, pending = _crash_after_commit(env, lines)
    # A credential of a batch that never committed, in the same pending file: dropped.
    record = json.loads(pending.read_text().splitlines()[0])
    ghost = dict(record, id="b-9", credential=dict(record["credential"], id=handle(9)))
    with pending.open("a", encoding="utf-8") as f:
        f.write(json.dumps(ghost) + "\n")
    # issue refuses to start until the pending file is dealt with
    line = assert_error(env.run("issue", "uni", "c-1", "--key", str(env.uni_key), "--subject",
                                "s", "--achievement", ACHIEVEMENT, "--out", str(env.out)), 3)
    assert "recover" in line and str(pending) in line
    data = env.json("recover", "uni", "--out", str(env.out))
    assert data == {"pending_files": 1, "documents": 2, "dropped": 1}
    assert not pending.exists()
    env.ok("checkpoint")
    for cred in ("b-1", "b-2"):
        doc = env.credential_path(cred)
        assert doc.stat().st_mode & 0o777 == 0o600
        bundle = env.tmp / f"{cred}.bundle"
        env.ok("prove", "uni", cred, *env.at_out, "-o", str(bundle))
        env.ok("verify", str(doc), "--bundle", str(bundle), "--log-key", env.log_vkey,
               "--subject", "s" if cred == "b-1" else "s2")
    assert not env.credential_path("b-9").exists()
    env.issue("c-1")  # and issuing works again


def test_interrupt_after_the_commit_keeps_the_salts(env: Env,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # Ctrl-C pressed while LMDB commits is raised only once the commit returned.
    import ledger.issuance as issuance_module

    env.achievement()
    real = Ledger.append

    def commit_then_interrupt(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(Ledger, "append", commit_then_interrupt)
    path = _batch_file(env, GOOD_LINE + _line("b-2", "s2"))
    result = env.run("issue", "uni", "--key", str(env.uni_key), "--batch", str(path), "--out",
                     str(env.out))
    line = assert_error(result, 130)
    assert "committed" in line and "recover" in line and "nothing partial" not in line
    pending = env.out / "uni" / ".pending-b-1.jsonl"
    assert len(pending.read_text().splitlines()) == 2
    monkeypatch.setattr(Ledger, "append", real)
    assert env.json("recover", "uni", "--out", str(env.out))["documents"] == 2
    # Ctrl-C while the holder documents are written, after the commit: the same (it said
    # "nothing partial was written" once).
    real_write = issuance_module.write_document
    written: list[str] = []

    def write_then_interrupt(out: Path, doc: dict[str, Any], **kwargs: Any) -> Path:
        if written:
            raise KeyboardInterrupt
        written.append(doc["id"])
        return real_write(out, doc, **kwargs)

    monkeypatch.setattr(issuance_module, "write_document", write_then_interrupt)
    path = _batch_file(env, _line("w-1") + _line("w-2", "s2"))
    line = assert_error(env.run("issue", "uni", "--key", str(env.uni_key), "--batch", str(path),
                                "--out", str(env.out)), 130)
    assert "committed" in line and ".pending-w-1.jsonl" in line and "nothing partial" not in line
    monkeypatch.setattr(issuance_module, "write_document", real_write)
    assert env.json("recover", "uni", "--out", str(env.out))["documents"] == 2
    assert (env.out / "uni" / "w-2.json").exists()
    # An interrupt before the commit: nothing in the log, no pending file left.
    def interrupt(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(Ledger, "append", interrupt)
    path = _batch_file(env, _line("b-3"))
    line = assert_error(env.run("issue", "uni", "--key", str(env.uni_key), "--batch", str(path),
                                "--out", str(env.out)), 130)
    assert "nothing partial" in line
    assert not list((env.out / "uni").glob(".pending*"))


def test_recover_rewrites_a_damaged_document(env: Env) -> None:
    _, pending = _crash_after_commit(env, GOOD_LINE)
    doc = env.out / "uni" / "b-1.json"
    record = json.loads(pending.read_text())
    doc.write_text("")  # written, but lost its content in a power cut before the sync
    doc.chmod(0o600)
    assert env.json("recover", "uni", "--out", str(env.out))["documents"] == 1
    assert json.loads(doc.read_text()) == record["credential"] and not pending.exists()


def test_recover_refuses_another_issuer_or_log(env: Env, bare: Env) -> None:
    _, pending = _crash_after_commit(env, GOOD_LINE)
    saved = pending.read_bytes()
    # The same documents under another issuer's directory name (a wrong ISSUER argument).
    other = env.out / "uni2"
    other.mkdir()
    (other / pending.name).write_bytes(saved)
    line = assert_error(env.run("recover", "uni2", "--out", str(env.out)), 3)
    assert "not of 'uni2'" in line and (other / pending.name).read_bytes() == saved
    # The right directory, the wrong store (another log).
    other_store = env.tmp / "other-store"
    result = env.runner.invoke(cli, ["--dir", str(other_store), "init", "--origin",
                                     "other.example/log"])
    assert result.exit_code == 0, result.output
    result = env.run("recover", "uni", "--out", str(env.out), store=other_store)
    line = assert_error(result, 3)
    assert "wrong --dir" in line and pending.read_bytes() == saved
    assert env.json("recover", "uni", "--out", str(env.out))["documents"] == 1


def test_recover_removes_stale_temporary_files(env: Env) -> None:
    uni = env.out / "uni"
    uni.mkdir(parents=True)
    stale = uni / ".pending-x.jsonl.123-abcd.tmp"  # its writer died before linking it
    stale.write_text("{}\n")
    env.issue("c-1")  # does not block issuing
    assert env.json("recover", "uni", "--out", str(env.out))["pending_files"] == 0
    assert not stale.exists()


def test_recover_leaves_a_pending_file_in_use_alone(env: Env) -> None:
    import fcntl

    _, pending = _crash_after_commit(env, GOOD_LINE)
    fd = os.open(pending, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a running issue holds its own pending file
        assert env.json("recover", "uni", "--out", str(env.out))["pending_files"] == 0
        assert pending.exists()
        env.issue("c-1")  # a batch in progress elsewhere does not block this one
    finally:
        os.close(fd)
    assert env.json("recover", "uni", "--out", str(env.out))["documents"] == 1
    assert not pending.exists()


def test_unencodable_text_is_a_field_error(env: Env) -> None:
    # A non-UTF-8 byte on a command line arrives as a lone surrogate (surrogateescape).
    env.achievement()
    for option in ("--subject", "--result"):
        args = {"--subject": "s", "--result": "A", option: "\udcff"}
        result = env.run("issue", "uni", "c-1", "--key", str(env.uni_key), "--achievement",
                         ACHIEVEMENT, *[x for kv in args.items() for x in kv], *env.at_out)
        assert "internal error" not in assert_error(result, 3)
    path = _batch_file(env, GOOD_LINE + '{"id": "b-2", "subject": "\\ud800", '
                                        '"achievement": "cs201"}\n')
    result = env.run("issue", "uni", "--key", str(env.uni_key), "--batch", str(path), "--out",
                     str(env.out))
    line = assert_error(result, 3)
    assert "internal error" not in line and ":2:" in line
    assert env.size() == 2 and not env.out.exists()


def test_own_ids_never_name_a_path_out_of_out(env: Env) -> None:
    """The issuer's own id names its credential's file, OUT/ISSUER/<id>.json: an id that is
    not one ([A-Za-z0-9._:@+-], starting with a letter or digit) is refused everywhere, and
    nothing is written or read outside OUT/ISSUER (found by this migration: v2 wrote
    OUT/x.json for '../x')."""
    env.issue("c-1")
    before = env.size()
    for bad in ("../x", "a/b", "b 2", ".hidden", ""):
        line = assert_error(env.run("issue", "uni", bad, "--key", str(env.uni_key),
                                    "--subject", "s", "--achievement", ACHIEVEMENT,
                                    *env.at_out), 3)
        assert "credential id: want" in line
        assert_error(env.run("issue", "uni", "c-2", "--key", str(env.uni_key), "--subject",
                             "s", "--achievement", ACHIEVEMENT, "--part", bad, *env.at_out),
                     3, match="part: want")
        for args in (("revoke", "uni", bad, "--key", str(env.uni_key)), ("status", "uni", bad),
                     ("prove", "uni", bad)):
            if bad:
                assert_error(env.run(*args, *env.at_out), 3, match="credential id: want")
    path = _batch_file(env, _line("b-1") + _line("../b-2"))
    assert_error(env.run("issue", "uni", "--key", str(env.uni_key), "--batch", str(path),
                         *env.at_out), 3, match="batch.jsonl:2: credential id: want")
    assert env.size() == before
    assert sorted(p.name for p in env.tmp.rglob("*.json")) == ["c-1.json"]


def test_a_result_of_70000_characters(env: Env) -> None:
    env.achievement()
    result = env.run("issue", "uni", "c-1", "--key", str(env.uni_key), "--subject", "s",
                     "--achievement", ACHIEVEMENT, "--result", "x" * 70_000, *env.at_out)
    line = assert_error(result, 3, match="result")
    assert len(line) < 300
    assert env.size() == 2


@pytest.mark.parametrize("problem", ["garbage", "missing", "world-readable", "group-readable",
                                     "directory", "verifier-key"])
def test_bad_key_files(env: Env, problem: str) -> None:
    path = env.tmp / "bad.key"
    if problem == "garbage":
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"\x00\xffnot a key at all\n")
        os.close(fd)
    elif problem == "verifier-key":
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, env.uni_vkey.encode() + b"\n")
        os.close(fd)
    elif problem in ("world-readable", "group-readable"):
        path.write_bytes(env.uni_key.read_bytes())
        path.chmod(0o644 if problem == "world-readable" else 0o640)
    elif problem == "directory":
        path.mkdir()
    secret = env.uni_key.read_text(encoding="ascii").strip()
    env.issue("c-1")
    for args in (("issue", "uni", "c-2", "--key", str(path), "--subject", "s", "--achievement",
                  ACHIEVEMENT, "--out", str(env.out)),
                 ("revoke", "uni", "c-1", "--key", str(path), "--out", str(env.out)),
                 ("revoke", "uni", env.handle("c-1"), "--key", str(path)),
                 ("key", "show", str(path))):
        result = env.run(*args)
        assert secret not in result.output
        if problem == "directory":  # click's own check of --key: a usage error
            assert_usage_error(result)
            continue
        line = assert_error(result, 3)
        assert str(path) in line
        if problem == "world-readable":
            assert "chmod 600" in line
    assert env.size() == 3


# ----------------------------------------------------------------------------- help, demo


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            out.extend(_commands(command, (*path, name)))
        else:
            out.append((*path, name))
    return out


def _help_cases() -> list[Any]:
    return [pytest.param(p, id=" ".join(p) or "credledger") for p in _commands(cli)]


def test_every_command_is_walked() -> None:
    names = {" ".join(p) for p in _commands(cli)}
    assert {"init", "key new", "issuer add", "issuer rotate", "issuer revoke-key", "issue",
            "revoke", "suspend", "reinstate", "checkpoint", "status", "entry", "prove",
            "consistency", "verify", "audit", "demo"} <= names


@pytest.mark.parametrize("path", _help_cases())
def test_help_has_an_example(path: tuple[str, ...]) -> None:
    runner = CliRunner()
    for flag in ("--help", "-h"):
        result = runner.invoke(cli, [*path, flag])
        assert result.exit_code == 0, result.output
        assert "Example" in result.stdout, result.stdout
        assert result.stdout.split("\n\n")[1].strip(), "help starts with a summary"


def test_version_without_installed_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    import ledger

    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert "credledger" in result.stdout and ledger.__version__ in result.stdout


def test_demo_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "$ credledger" in result.output
    assert not any(tmp_path.iterdir())  # nothing left in the working directory


@pytest.fixture(autouse=True)
def _no_env_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CREDLEDGER_DIR", raising=False)
    monkeypatch.delenv("CREDLEDGER_DEBUG", raising=False)
    yield


# ----------------------------------------------------------------------------- encrypted keys


def test_encrypted_issuer_key(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    path = env.tmp / "sealed.key"
    monkeypatch.setenv("CREDLEDGER_PASSPHRASE", "correct horse battery staple")
    vkey = env.json("key", "new", str(path), "--name", "uni2", "--encrypt")["vkey"]
    text = path.read_text(encoding="ascii")
    assert text.startswith("ENCRYPTED+KEY+") and "PRIVATE+KEY" not in text
    assert path.stat().st_mode & 0o777 == 0o600
    assert env.json("key", "show", str(path))["vkey"] == vkey
    env.ok("issuer", "add", "uni2", "--key", vkey, "--name", "Second University")
    env.achievement(issuer="uni2", key=path)
    before = env.size()
    env.ok("issue", "uni2", "c-1", "--key", str(path), "--subject", "s", "--achievement",
           ACHIEVEMENT, "--out", str(env.out))
    assert env.size() == before + 1
    # Wrong passphrase, and none at all (not a terminal): one-line errors, nothing written.
    monkeypatch.setenv("CREDLEDGER_PASSPHRASE", "wrong")
    line = assert_error(env.run("issue", "uni2", "c-2", "--key", str(path), "--subject", "s",
                                "--achievement", ACHIEVEMENT, "--out", str(env.out)), 3)
    assert "passphrase" in line and str(path) in line
    monkeypatch.delenv("CREDLEDGER_PASSPHRASE")
    line = assert_error(env.run("revoke", "uni2", "c-1", "--key", str(path), "--reason",
                                "withdrawn", "--out", str(env.out)), 3)
    assert "encrypted" in line and "CREDLEDGER_PASSPHRASE" in line
    assert env.size() == before + 1


def test_encrypted_store_keys(bare: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDLEDGER_PASSPHRASE", "s3cret passphrase")
    data = bare.json("init", "--origin", ORIGIN, "--encrypt")
    for name in ("log.key", "registry.key"):
        assert (bare.store / "keys" / name).read_text().startswith("ENCRYPTED+KEY+")
    bare.uni_key, uni_vkey = bare.key("uni")
    bare.ok("issuer", "add", "uni", "--key", uni_vkey, "--name", "Example University")
    note = bare.ok("checkpoint").stdout
    assert data["log_vkey"].split("+")[0] in note
    monkeypatch.delenv("CREDLEDGER_PASSPHRASE")
    bare.issue("c-1")  # (an issuer's key signs it: no store key is needed)
    line = assert_error(bare.run("checkpoint"), 3)
    assert "log.key" in line and "encrypted" in line


def test_encrypt_needs_a_passphrase(bare: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDLEDGER_PASSPHRASE", raising=False)
    result = bare.run("key", "new", str(bare.tmp / "k.key"), "--encrypt")
    assert_error(result, 2)
    assert not (bare.tmp / "k.key").exists()


# ----------------------------------------------------------------------------- issue 15


def test_reinstated_status_and_verify_name_the_reinstatement(env: Env) -> None:
    env.issue("c-1")
    key = ("--key", str(env.uni_key), "--out", str(env.out))
    env.ok("suspend", "uni", "c-1", *key, "--reason", "under-review")
    env.ok("reinstate", "uni", "c-1", *key, "--reason", "review-complete")
    human = env.ok("status", "uni", "c-1", *env.at_out).stdout
    assert "reinstated at entry 4 (" in human and human.rstrip().endswith(": review-complete")
    assert "issued at entry 4" not in human
    status = env.json("status", "uni", "c-1", *env.at_out)
    env.ok("checkpoint")
    bundle = env.tmp / "c-1.bundle.json"
    env.ok("prove", "uni", "c-1", *env.at_out, "-o", str(bundle))
    verdict = json.loads(env.ok("verify", str(env.credential_path("c-1")), "--bundle",
                                str(bundle), "--log-key", env.log_vkey, "--json").stdout)
    (cred,) = verdict["credentials"]
    assert cred["answer"] == "VALID" and cred["credential_checked"] is True
    assert cred["changed_index"] == status["changed_index"] == 4
    assert cred["changed_time"][:19] == status["changed_time"][:19]
    assert cred["reason"] == "review-complete"


def test_counts_are_singular_for_one(bare: Env) -> None:
    bare.ok("init", "--origin", ORIGIN)
    _, vkey = bare.key("uni")
    out = bare.ok("issuer", "add", "uni", "--key", vkey).stdout
    assert "the log now has 1 entry\n" in out and "1 entries" not in out
    out = bare.ok("backup", str(bare.tmp / "b1")).stdout
    assert "the log of 1 entry (" in out
    bare.ok("checkpoint")
    out = bare.ok("audit").stdout
    assert "1 entry (1 issuer, 0 credentials" in out and "1 checkpoint checked" in out


def test_audit_summary_counts_every_kind_of_change(env: Env) -> None:
    key = ("--key", str(env.uni_key), "--out", str(env.out))
    for cred in ("c-1", "c-2", "c-3"):
        env.issue(cred)
    env.ok("suspend", "uni", "c-1", *key)
    env.ok("reinstate", "uni", "c-1", *key)
    env.ok("suspend", "uni", "c-2", *key)
    env.ok("revoke", "uni", "c-3", *key)
    new_key, new_vkey = env.key("uni2")
    env.ok("issuer", "rotate", "uni", "--key", str(env.uni_key), "--new-key", str(new_key))
    env.ok("issuer", "revoke-key", "uni", new_vkey)  # by the registry
    env.ok("checkpoint")
    report = env.json("audit")
    assert (report["entries"], report["credentials"], report["revocations"],
            report["suspensions"], report["reinstatements"], report["key_rotations"],
            report["key_revocations"]) == (11, 3, 1, 2, 1, 1, 1)
    assert report["achievements"] == 1
    human = env.ok("audit").stdout
    assert ("11 entries (1 issuer, 3 credentials, 1 achievement, 1 revocation, 2 suspensions, "
            "1 reinstatement, 1 key rotation, 1 key revocation), 1 checkpoint checked") in human


def test_a_file_that_is_no_key_file_is_told_so_before_its_mode(env: Env) -> None:
    cohort = env.tmp / "cohort.jsonl"
    cohort.write_text(_line("c-1", "Ada"))
    cohort.chmod(0o644)
    message = assert_error(env.run("issue", "uni", "--key", str(cohort), "--batch", str(cohort),
                                   "--out", str(env.out)), 3, match="not a key file")
    assert "chmod" not in message
    # A real key file with a loose mode is still told to be made private.
    env.uni_key.chmod(0o644)
    assert_error(env.run("issue", "uni", "c-1", "--key", str(env.uni_key), "--subject", "Ada",
                         "--achievement", ACHIEVEMENT, "--out", str(env.out)), 3,
                 match="chmod 600")


def test_bundles_hold_nothing_personal(env: Env) -> None:
    """Issue 16 (replaces the private bundles that embedded the holder's document): a bundle
    travels beside the credential and holds nothing of the holder: no subject, salt, hash or
    own id; it is world-readable, the credential private."""
    env.issue("c-1", "--result", "A+ with distinction")
    env.ok("checkpoint")
    by_own, by_handle = env.tmp / "own.json", env.tmp / "handle.json"
    env.ok("prove", "uni", "c-1", *env.at_out, "-o", str(by_own))
    env.ok("prove", "uni", env.handle("c-1"), "-o", str(by_handle))
    assert by_own.read_bytes() == by_handle.read_bytes()
    assert stat.S_IMODE(by_own.stat().st_mode) == 0o644
    assert stat.S_IMODE(env.credential_path("c-1").stat().st_mode) == 0o600
    text = by_own.read_text()
    ident = env.credential("c-1")["credentialSubject"]["identifier"][0]
    for secret in ("holder of c-1", "c-1.json", '"c-1"', ident["salt"],
                   ident["identityHash"].removeprefix("sha256$"), "A+ with distinction"):
        assert secret not in text, secret
    # The bundle's credential is named by its handle only.
    assert json.loads(text)["credentials"] == [{"issuer": "uni", "id": env.handle("c-1")}]


def test_a_refused_issue_leaves_no_empty_folders(env: Env) -> None:
    env.issue("c-1")
    new_key, _ = env.key("uni-2")
    env.ok("issuer", "rotate", "uni", "--key", str(env.uni_key), "--new-key", str(new_key))
    # Refused at the append (the old key), after the folders for its pending file were made.
    fresh = env.tmp / "fresh" / "out"
    result = env.run("issue", "uni", "c-2", "--key", str(env.uni_key), "--subject", "Ada",
                     "--achievement", ACHIEVEMENT, "--out", str(fresh))
    assert_error(result, 3, match="key-not-active")
    assert not (env.tmp / "fresh").exists()
    # A directory that was there before stays, and so does one with other files in it.
    assert_error(env.run("issue", "uni", "c-2", "--key", str(env.uni_key), "--subject", "Ada",
                         "--achievement", ACHIEVEMENT, "--out", str(env.out)), 3,
                 match="key-not-active")
    assert sorted(p.name for p in (env.out / "uni").iterdir()) == ["c-1.json"]


def test_max_age_is_told_in_days_and_hours(env: Env) -> None:
    env.issue("c-1")
    note = env.tmp / "checkpoint.txt"
    note.write_text(env.ok("checkpoint").stdout, encoding="utf-8")
    wkey = env.ok("witness", "init", str(env.tmp / "w"), "--name", "w.example").stdout.strip()
    cosigned = env.tmp / "cosigned.txt"
    env.ok("witness", "cosign", str(note), "--state", str(env.tmp / "w"), "--log-key",
           env.log_vkey, "-o", str(cosigned))
    env.ok("checkpoint", "--add-cosignatures", str(cosigned), "--witness", wkey)
    bundle = env.tmp / "b.json"
    env.ok("prove", "uni", "c-1", *env.at_out, "-o", str(bundle))
    result = env.run("verify", str(bundle), "--log-key", env.log_vkey, "--witness", wkey,
                     "--max-age", "36h", "--at", "2099-01-01")
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "older than the allowed 1 day 12 h" in result.output
    assert " s old" not in result.output and "days" in result.output


# ------------------------------------------------------------------------- bulk proofs (issue 15)


def _cohort(env: Env, n: int) -> Path:
    env.achievement()
    batch = env.tmp / "cohort.jsonl"
    batch.write_text("".join(_line(f"s-{i}", f"Student {i}") for i in range(n)))
    env.ok("issue", "uni", "--key", str(env.uni_key), "--batch", str(batch),
           "--out", str(env.out))
    return batch


def test_prove_all_a_cohort_from_its_batch_file(env: Env) -> None:
    """Issue 15: a whole cohort's bundles in one command, from one snapshot, one checkpoint;
    each verifies with its credential; a revoked one answers REVOKED; nothing personal in
    them (0644)."""
    batch = _cohort(env, 6)
    env.ok("revoke", "uni", "s-2", "--key", str(env.uni_key), *env.at_out, "--reason",
           "withdrawn")
    now = env.size()
    bundles = env.tmp / "bundles"
    result = env.ok("prove-all", "uni", str(batch), "--out-dir", str(bundles), *env.at_out)
    assert f"signed a checkpoint of size {now}" in result.stderr
    assert result.stdout == f"wrote 6 bundles to {bundles}, as of the checkpoint of size {now}\n"
    assert sorted(p.name for p in bundles.iterdir()) == [f"s-{i}.bundle.json" for i in range(6)]
    for i in range(6):
        path = bundles / f"s-{i}.bundle.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o644  # nothing personal in it
        assert json.loads(path.read_text())["credentials"] == [
            {"issuer": "uni", "id": env.handle(f"s-{i}")}]
        verdict = env.run("verify", str(env.credential_path(f"s-{i}")), "--bundle", str(path),
                          "--subject", f"Student {i}", "--log-key", env.log_vkey, "--json")
        data = json.loads(verdict.stdout)
        assert data["checkpoint"]["size"] == now
        if i == 2:
            assert (verdict.exit_code, data["answer"]) == (1, "REVOKED")
        else:
            assert (verdict.exit_code, data["answer"]) == (0, "VALID"), data
    # The same bundle as 'prove' writes for one credential.
    single = env.tmp / "s-4.json"
    env.ok("prove", "uni", "s-4", *env.at_out, "-o", str(single))
    assert single.read_text() == (bundles / "s-4.bundle.json").read_text()


def test_prove_all_an_id_list_never_issued_and_strict(env: Env) -> None:
    _cohort(env, 3)
    env.ok("checkpoint")
    ids = env.tmp / "ids.txt"
    ids.write_text("s-0\n\ns-9\ns-1\n")
    out = env.tmp / "b"
    data = env.json("prove-all", "uni", str(ids), "--out-dir", str(out), *env.at_out)
    assert data == {"bundles": 2, "never_issued": ["s-9"], "checkpoint_size": 5,
                    "checkpoint_signed": False, "out_dir": str(out)}
    assert sorted(p.name for p in out.iterdir()) == ["s-0.bundle.json", "s-1.bundle.json"]
    text = env.ok("prove-all", "uni", str(ids), "--out-dir", str(out), *env.at_out).stdout
    assert "; 1 never issued, skipped" in text
    # --strict: refused, nothing written.
    strict = env.tmp / "strict"
    assert_error(env.run("prove-all", "uni", str(ids), "--out-dir", str(strict), "--strict",
                         *env.at_out), 3, match="(the first: 's-9')")
    assert not strict.exists()
    # A credential the issuer holds but the log does not (from another store, say): never
    # issued here; --strict refuses it too.
    foreign = env.credential("s-1")
    foreign["id"] = "urn:uuid:00000000-0000-4000-8000-000000000000"
    env.credential_path("s-7").write_text(json.dumps(foreign))
    ids.write_text("s-0\ns-7\n")
    data = env.json("prove-all", "uni", str(ids), "--out-dir", str(out), *env.at_out)
    assert (data["bundles"], data["never_issued"]) == (1, ["s-7"])
    assert_error(env.run("prove-all", "uni", str(ids), "--out-dir", str(strict), "--strict",
                         *env.at_out), 3, match="never issued by 'uni'")
    assert not strict.exists()
    # Without --out it finds none of them: each is never issued, not an error.
    data = env.json("prove-all", "uni", str(ids), "--out-dir", str(out), "--out",
                    str(env.tmp / "elsewhere"))
    assert (data["bundles"], data["never_issued"]) == (0, ["s-0", "s-7"])
    # Bad input files: one line each.
    ids.write_text("s-0\ns-0\n")
    assert_error(env.run("prove-all", "uni", str(ids), "--out-dir", str(strict)), 3,
                 match="ids.txt:2")
    ids.write_text("s 0\n")
    assert_error(env.run("prove-all", "uni", str(ids), "--out-dir", str(strict)), 3,
                 match="ids.txt:1")
    ids.write_text("\n")
    assert_error(env.run("prove-all", "uni", str(ids), "--out-dir", str(strict)), 3,
                 match="no credential ids")


def test_prove_all_reads_one_snapshot(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """All bundles from one snapshot: the log growing (and a new checkpoint being signed)
    while they are built changes none of them."""
    from ledger import bundle as bundle_module

    batch = _cohort(env, 4)
    size = env.json("checkpoint")["size"]
    snapshots = []
    real_builder = bundle_module._Builder

    class Spy(real_builder):  # type: ignore[misc, valid-type]
        def __init__(self, snap: Any, size: int | None) -> None:
            snapshots.append(snap)
            super().__init__(snap, size)

        def build(self, credentials: Any) -> Any:
            if credentials[0][1] == env.handle("s-1"):  # between bundles, another process
                for args in (["issue", "uni", "late", "--key", str(env.uni_key),  # appends, signs
                              "--subject", "s", "--achievement", ACHIEVEMENT, "--out",
                              str(env.out)], ["checkpoint"]):
                    subprocess.run([sys.executable, "-m", "ledger", "--dir", str(env.store),
                                    *args], check=True, capture_output=True)
            return super().build(credentials)

    monkeypatch.setattr(bundle_module, "_Builder", Spy)
    out = env.tmp / "b"
    env.ok("prove-all", "uni", str(batch), "--out-dir", str(out), *env.at_out)
    notes = {json.loads((out / f"s-{i}.bundle.json").read_text())["checkpoint"]
             for i in range(4)}
    assert len(snapshots) == 1 and len(notes) == 1
    assert parse_checkpoint(parse_note(notes.pop()).text).size == size == 6
    assert [s for s, _ in read_ledger(env.store).checkpoints()] == [6, 7]  # it did grow


# ------------------------------------------------------------- issue 15: the registrar's CSV


def _issue_batch(env: Env, path: Path, *extra: str) -> Result:
    return env.run("issue", "uni", "--key", str(env.uni_key), "--batch", str(path), "--out",
                   str(env.out), *extra)


def test_issue_batch_csv_from_excel(env: Env) -> None:
    env.issue("m-1")
    env.issue("m-2")
    path = env.tmp / "cohort.csv"
    # Excel: a UTF-8 BOM, CRLF line ends, a quoted cell with a comma, an empty cell.
    path.write_bytes(b"\xef\xbb\xbfid,subject,subject_type,achievement,result,expires,parts\r\n"
                     b'c-1,"Lovelace, Ada",,cs201,,2030-01-31,m-1; m-2\r\n'
                     b"c-2,grace@example.org,emailAddress,cs201,B+,,\r\n"
                     + "c-3,Émilie du Châtelet,name,cs201,,,\r\n".encode())
    result = _issue_batch(env, path)
    assert result.exit_code == 0, result.output
    assert "issued 3 credentials" in result.stdout
    doc = _check_holder_document(env, "c-1", "Lovelace, Ada", 4)
    assert doc["validUntil"] == "2030-01-31T23:59:59Z"
    assert [e["id"] for e in doc["evidence"]] == [env.handle("m-1"), env.handle("m-2")]
    doc = _check_holder_document(env, "c-2", "grace@example.org", 5,
                                 subject_type="emailAddress")
    assert doc["credentialSubject"]["result"][0]["value"] == "B+"
    _check_holder_document(env, "c-3", "Émilie du Châtelet", 6)
    # --format csv for another name; a mapping from the registrar's column names.
    other = env.tmp / "registrar.txt"
    other.write_text("student_no,email,course,grade\nd-1,ada@example.org,cs201,A\n",
                     encoding="utf-8")
    result = _issue_batch(env, other, "--format", "csv", "--columns",
                          "id=student_no,subject=email,achievement=course,result=grade")
    assert result.exit_code == 0, result.output
    doc = _check_holder_document(env, "d-1", "ada@example.org", 7)
    assert doc["credentialSubject"]["result"][0]["value"] == "A"


CSV_HEADER = "id,subject,achievement\n"
BAD_CSV: dict[str, tuple[str | bytes, str]] = {
    # the physical line, counting the header as line 1 and a quoted cell's line breaks
    "bad-id": (CSV_HEADER + 'a-1,"two\nlines",cs201\na 2,s,cs201\n', ":4: "),
    "cells": (CSV_HEADER + "a-1,s,cs201\n\na-2,s\n", ":4: 2 cells"),
    "repeated": (CSV_HEADER + "a-1,s,cs201\na-1,s,cs201\n",
                 ":3: credential id 'a-1' appears twice"),
    "bad-expiry": ("id,subject,achievement,expires\na-1,s,cs201,31/01/2030\n", ":2: expires"),
    "not-utf8": (CSV_HEADER.encode() + b"a-1,s\xff,cs201\n", ":2: not UTF-8"),
    "unknown-column": ("id,subject,achievement,expiry\na-1,s,cs201,2030-01-31\n",
                       ":1: unknown column 'expiry'"),
    "v1-title-column": ("id,subject,title\na-1,s,Python 101\n", ":1: unknown column 'title'"),
    "missing-column": ("id,subject\na-1,s\n", ":1: no 'achievement' column"),
    "bad-subject-type": ("id,subject,subject_type,achievement\na-1,s,phone,cs201\n",
                         ":2: 'subject_type' must be one of"),
    "unregistered": (CSV_HEADER + "a-1,s,cs201\na-2,s,cs999\n", ":3: achievement 'cs999'"),
    "bad-quote": (CSV_HEADER + 'a-1,s,cs201\na-2,"s"x,cs201\n', ":3: not CSV"),
    "long-record": (CSV_HEADER + 'a-1,"' + "x\n" * 40_000 + '",cs201\n',
                    ":2: record (lines 2-"),
    "long-line": (CSV_HEADER + "a-1," + "x" * 70_000 + ",cs201\n", ":2: line longer"),
    "header-only": (CSV_HEADER, ": no credentials"),
}


@pytest.mark.parametrize("flaw", list(BAD_CSV))
def test_bad_csv_names_the_line(env: Env, flaw: str) -> None:
    env.achievement()
    text, where = BAD_CSV[flaw]
    path = env.tmp / "cohort.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    message = assert_error(_issue_batch(env, path), 3)
    assert f"cohort.csv{where}" in message, message
    assert env.size() == 2
    assert not list(env.out.glob("uni/*"))


def test_columns_usage_errors(env: Env) -> None:
    env.achievement()
    path = _batch_file(env, GOOD_LINE)
    assert_usage_error(_issue_batch(env, path, "--columns", "id=no"))  # a JSONL file
    csv_path = env.tmp / "c.csv"
    csv_path.write_text(CSV_HEADER + "a-1,s,cs201\n", encoding="utf-8")
    for columns in ("colour=x", "id", "title=course", "document=pdf"):
        result = _issue_batch(env, csv_path, "--columns", columns)
        assert_usage_error(result)
        assert result.stderr.startswith("credledger: error: --columns")
    assert_usage_error(env.run("issue", "uni", "c-1", "--key", str(env.uni_key), "--subject",
                               "s", "--achievement", ACHIEVEMENT, "--format", "csv"))
    assert env.size() == 2


def test_skip_existing_makes_a_rerun_safe(env: Env) -> None:
    env.achievement()
    path = env.tmp / "cohort.csv"
    path.write_text(CSV_HEADER + "a-1,s1,cs201\na-2,s2,cs201\n", encoding="utf-8")
    assert _issue_batch(env, path).exit_code == 0
    first = env.credential_path("a-1").read_bytes()
    # The registrar adds a line and runs it again: without --skip-existing, refused.
    path.write_text(CSV_HEADER + "a-1,s1,cs201\na-2,s2,cs201\na-3,s3,cs201\n",
                    encoding="utf-8")
    assert_error(_issue_batch(env, path), 3, match="cohort.csv:2: credential id 'a-1' was "
                                                   "already issued")
    assert env.size() == 4
    result = _issue_batch(env, path, "--skip-existing")
    assert result.exit_code == 0, result.output
    assert "issued 1 credential " in result.stdout and "skipped 2" in result.stdout
    assert env.size() == 5
    assert env.credential_path("a-1").read_bytes() == first  # untouched
    _check_holder_document(env, "a-3", "s3", 4)
    data = json.loads(_issue_batch(env, path, "--skip-existing", "--json").stdout)
    assert (data["count"], data["skipped"]) == (0, 3)
    result = _issue_batch(env, path, "--skip-existing")
    assert result.exit_code == 0 and "all 3 credentials are already in the log" in result.stdout
    assert env.size() == 5


def test_an_interrupted_batch_blocks_issue_to_any_out(env: Env,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from ledger import issuance

    def fail(*_: Any, **__: Any) -> None:
        raise OSError(28, "No space left on device")

    env.achievement()
    lines = GOOD_LINE + _line("b-2", "s2")
    path = _batch_file(env, lines)
    with monkeypatch.context() as m:
        m.setattr(issuance, "write_document", fail)  # the disk fills after the commit
        assert_error(_issue_batch(env, path), 3, match="recover")
    pending = env.out / "uni" / ".pending-b-1.jsonl"
    assert pending.exists() and env.size() == 4
    record = env.store / "pending" / "uni"
    assert json.loads(record.read_text()) == [str(env.out / "uni")]
    # Another --out (relative, from elsewhere) does not hide the interrupted batch.
    other = env.tmp / "elsewhere"
    message = assert_error(env.run("issue", "uni", "c-9", "--key", str(env.uni_key), "--subject",
                                   "s", "--achievement", ACHIEVEMENT, "--out", str(other)), 3)
    assert str(pending) in message and f"credledger recover uni --out {env.out}'" in message
    assert env.size() == 4 and not other.exists()
    env.ok("recover", "uni", "--out", str(env.out))
    assert not pending.exists() and not record.exists()
    _check_holder_document(env, "b-2", "s2", 3)
    env.ok("issue", "uni", "c-9", "--key", str(env.uni_key), "--subject", "s", "--achievement",
           ACHIEVEMENT, "--out", str(other))
    assert not record.exists()  # cleared once the batch's pending file is gone


def test_verify_shows_what_the_employer_sees(env: Env) -> None:
    """Issue 15: the issuer's name, 'as of' the checkpoint's last entry, whether the holder
    was checked; roots in base64; a saved checkpoint; log keys from the environment or a trust
    file (a missing one names the bundle's origin); several files and stdin."""
    env.issue("c-1")
    env.issue("c-2")
    env.ok("revoke", "uni", "c-2", "--key", str(env.uni_key), *env.at_out, "--reason",
           "withdrawn")
    cp = env.json("checkpoint")
    good, bad = env.tmp / "c-1.bundle.json", env.tmp / "c-2.bundle.json"
    env.ok("prove", "uni", "c-1", *env.at_out, "-o", str(good))
    env.ok("prove", "uni", "c-2", *env.at_out, "-o", str(bad))
    doc, key = env.credential_path("c-1"), env.log_vkey
    last_time = env.json("entry", str(cp["size"] - 1))["time"][:19] + "Z"  # whole seconds
    code, out, err = _run_entry(["verify", str(good), "--log-key", key], through_click=False)
    assert code == 0 and err == "", err
    assert "issued by Example University (uni)" in out
    assert "credential not checked (only its bundle was given)" in out
    assert f"as of {last_time} (the time of the checkpoint's last entry)" in out
    code, out, _ = _run_entry(["verify", str(doc), "--bundle", str(good), "--log-key", key],
                              through_click=False)
    assert code == 0 and "credential checked; holder not checked (no --subject)" in out
    code, out, _ = _run_entry(["verify", str(doc), "--bundle", str(good), "--log-key", key,
                               "--subject", "holder of c-1"], through_click=False)
    assert code == 0 and "credential checked; holder 'holder of c-1' matches it" in out
    assert "not checked" not in out
    code, out, _ = _run_entry(["verify", str(good), "--log-key", key, "--json"],
                              through_click=False)
    data = json.loads(out)
    assert data["as_of"] == last_time
    c = data["credentials"][0]
    assert c["issuer_name"] == "Example University" and c["holder_checked"] is False
    # --root in the base64 a checkpoint prints, as well as hex.
    b64root = base64.b64encode(bytes.fromhex(cp["root"])).decode()
    assert b64root in cp["note"]
    code, out, _ = _run_entry(["verify", str(good), "--root", b64root, "--size", str(cp["size"])],
                              through_click=False)
    assert code == 0 and f"trusted by root {cp['root']}" in out
    # A saved checkpoint: verified under --log-key, or a pin without it.
    saved = env.tmp / "saved.cp"
    saved.write_text(cp["note"])
    code, out, _ = _run_entry(["verify", str(good), "--checkpoint", str(saved), "--log-key", key],
                              through_click=False)
    assert code == 0 and f"trusted by checkpoint {saved} signed by log key" in out
    code, out, _ = _run_entry(["verify", str(good), "--checkpoint", str(saved)],
                              through_click=False)
    assert code == 0 and "(unsigned pin)" in out
    code, _, err = _run_entry(["verify", str(good), "--checkpoint", str(saved), "--log-key",
                               env.registry_vkey or env.uni_vkey], through_click=False)
    assert code in (1, 2) and "--checkpoint" in err
    env.issue("c-3")
    env.ok("checkpoint")
    newer = env.tmp / "c-3.bundle.json"
    env.ok("prove", "uni", "c-3", *env.at_out, "-o", str(newer))
    code, out, _ = _run_entry(["verify", str(newer), "--checkpoint", str(saved)],
                              through_click=False)
    assert code == 1 and "INVALID" in out  # pinned to the older tree
    # Log keys from CREDLEDGER_LOG_KEY or a trust file; a missing one names the origin.
    origin = cp["origin"]
    code, _, err = _run_entry(["verify", str(good)], through_click=False)
    assert code == 2 and f"no trusted log key for {origin!r}" in err
    code, out, _ = _run_entry(["verify", str(good)], through_click=False,
                              extra_env={"CREDLEDGER_LOG_KEY": key})
    assert code == 0 and "VALID" in out
    trust = env.tmp / "keys.trust"
    trust.write_text(f"# the logs we trust\n{key}\n")
    code, out, _ = _run_entry(["verify", str(good), "--trust", str(trust)], through_click=False)
    assert code == 0 and "trusted by log key" in out
    trust.write_text("# nothing\n")
    code, _, err = _run_entry(["verify", str(good), "--trust", str(trust)], through_click=False)
    assert code == 2 and origin in err
    # Several files, one block each, the worst exit code; '-' is stdin.
    code, out, err = _run_entry(["verify", str(good), "-", "--log-key", key],
                                through_click=False, stdin=bad.read_bytes())
    assert code == 1 and out.count("== ") == 2 and "REVOKED" in out and "VALID" in out
    # Two holders' credentials, each with its own bundle (one from stdin), in one run.
    code, out, err = _run_entry(["verify", str(doc), str(env.credential_path("c-2")),
                                 "--bundle", str(good), "--bundle", "-", "--log-key", key],
                                through_click=False, stdin=bad.read_bytes())
    assert code == 1 and out.count("credential checked") == 2 and err == ""
    assert out.index(env.handle("c-1")) < out.index("== -") < out.index(env.handle("c-2"))
    code, out, err = _run_entry(["verify", str(good), str(env.tmp / "nope.json"), "--log-key",
                                 key, "--json"], through_click=False)
    assert code == 3 and "nope.json: " in err
    blocks = json.loads(out)
    assert [b["valid"] for b in blocks] == [True, False] and blocks[0]["file"] == str(good)
    big = env.tmp / "big"
    big.write_bytes(b" " * (16 * 1024 * 1024 + 1))
    code, _, err = _run_entry(["verify", "-", "--log-key", key], through_click=False,
                              stdin=big.read_bytes())
    assert code == 1 and "stdin: larger than" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
def test_verify_refuses_a_fifo_in_every_file_option_at_once(env: Env) -> None:
    # Every file verify reads goes through files.open_regular: a FIFO (nobody writing to it) as
    # the bundle (FILE or --bundle), the credential, a trust file or a saved checkpoint is refused at
    # once, exit 3, one line, on the fast path and through click alike (it used to wait).
    env.issue("c-1")
    env.ok("checkpoint")
    good = env.tmp / "c-1.bundle.json"
    env.ok("prove", "uni", "c-1", *env.at_out, "-o", str(good))
    fifo = env.tmp / "fifo"
    os.mkfifo(fifo)
    key = env.log_vkey
    cred = str(env.credential_path("c-1"))
    for args in ([str(fifo), "--log-key", key],
                 [cred, "--bundle", str(fifo), "--log-key", key],
                 [cred, str(fifo), "--log-key", key],
                 [str(fifo), "--bundle", str(good), "--log-key", key],
                 [str(good), "--trust", str(fifo)],
                 [str(good), "--log-key", key, "--checkpoint", str(fifo)]):
        for through_click in (False, True):
            code, out, err = _run_entry(["verify", *args], through_click=through_click)
            assert code == 3, (args, out, err)
            lines = err.strip().splitlines()
            assert len(lines) == 1 and "not a regular file (a FIFO)" in lines[0], (args, err)


def test_fast_verify_ends_at_once_yet_delivers_all_its_output(env: Env) -> None:
    """The click-free verify leaves without the interpreter's teardown (ledger.main.exit_now):
    every byte it printed still arrives, in order, and a reader that goes away early (| head)
    costs no traceback and no change of the exit code."""
    import subprocess
    import sys

    env.issue("c-1")
    env.json("checkpoint")
    bundle = env.tmp / "c-1.bundle.json"
    env.ok("prove", "uni", "c-1", *env.at_out, "-o", str(bundle))
    args = ["verify", *[str(bundle)] * 300, "--log-key", env.log_vkey]
    code, out, err = _run_entry(args, through_click=False)
    click_code, click_out, click_err = _run_entry(args, through_click=True)
    assert (code, out, err) == (click_code, click_out, click_err) == (0, out, "")
    assert len(out) > 1 << 16 and out.count(f"VALID      uni/{env.handle('c-1')}") == 300  # more than a pipe holds
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("CREDLEDGER_")}
    proc = subprocess.Popen([sys.executable, "-c", "from ledger.main import main; main()", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10) == b"== " + str(bundle).encode()[:7]
    proc.stdout.close()  # the reader goes away with most of the output unread
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 0
    assert b"Traceback" not in stderr and b"BrokenPipe" not in stderr, stderr


@pytest.mark.parametrize("closed", [1, 2], ids=["stdout-closed", "stderr-closed"])
def test_fast_verify_keeps_its_exit_code_with_an_output_closed(env: Env, closed: int) -> None:
    """``credledger verify ... >&-`` (or ``2>&-``): Python starts with that stream None; the
    verify still ends with its own exit code (0 for VALID, 3 for a missing file), no traceback.
    (Found by review: exit_now flushed None and exited 1.)"""
    import subprocess
    import sys

    env.issue("c-1")
    env.json("checkpoint")
    bundle = env.tmp / "c-1.bundle.json"
    env.ok("prove", "uni", "c-1", *env.at_out, "-o", str(bundle))
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("CREDLEDGER_")}
    for target, want in ((str(bundle), 0), (str(env.tmp / "missing.json"), 3)):
        proc = subprocess.run(
            [sys.executable, "-c", "from ledger.main import main; main()", "verify", target,
             "--log-key", env.log_vkey], env=child_env, timeout=60, check=False,
            stdout=subprocess.DEVNULL if closed == 2 else None,
            stderr=subprocess.PIPE if closed == 1 else subprocess.DEVNULL,
            preexec_fn=lambda: os.close(closed))  # closes one fd, nothing else
        assert proc.returncode == want, (target, proc.stderr)
        assert proc.stderr is None or b"Traceback" not in proc.stderr
