"""``credledger achievement add|show``, and achievements in ``status ISSUER``, ``entry`` and
``audit``, tried as a user would, on real stores through the command line: the refusals
(exit 3 naming the rule; exit 2 for a usage error), a retired issuer, a rotated key, the human
and ``--json`` shapes (docs/FORMAT.md §3.2, §6.2, §6.3).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lmdb
from test_cli import (  # the CLI tests' store fixtures and helpers
    Env,
    assert_error,
    read_ledger,
)

from ledger.cli import cli
from ledger.events import REGISTER_ACHIEVEMENT, decode_statement
from ledger.store import DB_NAMES


def _json(env: Env, *args: str) -> dict[str, Any]:
    """A command's --json object, without the "format" member the conventions add."""
    data = env.json(*args)
    data.pop("format", None)
    return dict(data)


def _kid(env: Env, key: Path) -> str:
    return str(env.json("key", "show", str(key))["key_id"])


def _add(env: Env, ach: str, *extra: str, key: Path | None = None) -> dict[str, Any]:
    return _json(env, "achievement", "add", "uni", ach, "--key", str(key or env.uni_key),
                 *extra)


def _time(env: Env, index: int) -> str:
    return str(env.json("entry", str(index))["time"])


def _issue(env: Env, cred: str, ach: str = "cs201") -> dict[str, Any]:
    """Issue ``cred`` (own id) awarding the registered achievement ``ach``, to env.out."""
    return _json(env, "issue", "uni", cred, "--key", str(env.uni_key), "--subject",
                 f"holder of {cred}", "--achievement", ach, "--out", str(env.out))


def test_add_then_show_one_and_all(env: Env) -> None:
    added = _add(env, "cs201", "--name", "Data Structures", "--description",
                 "Lists, trees and graphs.", "--criteria", "Pass the final exam.",
                 "--type", "Course")
    assert added == {"first_index": 1, "count": 1, "size": 2, "root": added["root"],
                     "issuer": "uni", "id": "cs201"}
    assert len(added["root"]) == 64
    second = env.ok("achievement", "add", "uni", "b-1", "--key", str(env.uni_key), "--name",
                    "Ünïcode badge")
    assert second.stdout == "registered achievement 'b-1' of 'uni': entry 2; the log now has " \
                            "3 entries\n"
    kid = _kid(env, env.uni_key)
    one = _json(env, "achievement", "show", "uni", "cs201")
    with read_ledger(env.store) as led:
        statement_time = decode_statement(led.entry(1).statement).time
    from ledger.cliutil import iso
    assert one == {"kind": "achievement", "issuer": "uni", "id": "cs201",
                   "name": "Data Structures", "achievement_type": "Course",
                   "description": "Lists, trees and graphs.",
                   "criteria": "Pass the final exam.", "registered_at": 1,
                   "registered_time": _time(env, 1), "statement_time": iso(statement_time),
                   "key_id": kid, "trusted": True, "tree_size": 3}
    every = _json(env, "achievement", "show", "uni")
    assert every["issuer"] == "uni" and every["tree_size"] == 3
    assert [a["id"] for a in every["achievements"]] == ["cs201", "b-1"]
    assert every["achievements"][0] == {k: v for k, v in one.items() if k != "tree_size"}
    assert every["achievements"][1]["achievement_type"] is None
    assert every["achievements"][1]["description"] == ""

    human = env.ok("achievement", "show", "uni").stdout.splitlines()
    assert human == [
        "issuer uni: 2 achievements, in the order registered",
        (f'  cs201: "Data Structures" (Course), registered at entry 1 ({_time(env, 1)}) by key '
        f"{kid}"),
        '    description: "Lists, trees and graphs."',
        '    criteria:    "Pass the final exam."',
        f'  b-1: "Ünïcode badge", registered at entry 2 ({_time(env, 2)}) by key {kid}',
        "    description: (none)",
        "    criteria:    (none)"]
    assert env.ok("achievement", "show", "uni", "b-1").stdout.splitlines() == human[4:]


def test_show_what_is_not_there(env: Env) -> None:
    assert_error(env.run("achievement", "show", "uni", "cs201"),
                 match="issuer 'uni' never registered achievement 'cs201'")
    assert_error(env.run("achievement", "show", "nobody"), match="issuer 'nobody' is not "
                                                                 "registered")
    data = _json(env, "achievement", "show", "uni")
    assert data == {"issuer": "uni", "achievements": [], "tree_size": 1}
    assert env.ok("achievement", "show", "uni").stdout == (
        "issuer uni: 0 achievements, in the order registered\n")
    assert_error(env.run("achievement", "show", "uni", "bad id"), match="achievement id")
    # status: an empty list, and no section in the human form.
    assert _json(env, "status", "uni")["achievements"] == []
    assert "achievements" not in env.ok("status", "uni").stdout


def test_a_duplicate_is_refused_naming_the_rule(env: Env) -> None:
    _add(env, "cs201", "--name", "Data Structures")
    size = env.size()
    for extra in (["--name", "Data Structures"], ["--name", "Data Structures v2", "--type",
                                                  "Course"]):
        line = assert_error(env.run("achievement", "add", "uni", "cs201", "--key",
                                    str(env.uni_key), *extra), 3)
        assert line == ("credledger: error: refused (duplicate-achievement): issuer 'uni' "
                        "already registered achievement 'cs201' (entry 1); an achievement "
                        "never changes: register a new version under a new id")
    assert env.size() == size
    _add(env, "cs201-2027", "--name", "Data Structures v2")


def test_a_retired_issuer_and_a_rotated_key(env: Env) -> None:
    k2, _ = env.key("uni-2")
    env.ok("issuer", "rotate", "uni", "--key", str(env.uni_key), "--new-key", str(k2))
    assert_error(env.run("achievement", "add", "uni", "cs201", "--key", str(env.uni_key),
                         "--name", "X"), 3, match="refused (key-not-active)")
    added = _add(env, "cs201", "--name", "X", key=k2)
    assert added["first_index"] == 2
    assert _json(env, "achievement", "show", "uni", "cs201")["key_id"] == _kid(env, k2)
    other, other_vkey = env.key("poly")
    env.ok("issuer", "add", "poly", "--key", other_vkey)
    assert_error(env.run("achievement", "add", "uni", "cs202", "--key", str(other),
                         "--name", "X"), 3, match="refused (wrong-signer)")
    assert_error(env.run("achievement", "add", "nobody", "cs202", "--key", str(k2),
                         "--name", "X"), 3, match="refused (unknown-issuer)")
    env.ok("issuer", "retire", "uni", "--reason", "merged")
    assert_error(env.run("achievement", "add", "uni", "cs202", "--key", str(k2), "--name", "X"),
                 3, match="refused (issuer-retired)")
    # What it registered stays.
    assert [a["id"] for a in _json(env, "achievement", "show", "uni")["achievements"]] == [
        "cs201"]


def test_fields_are_checked_before_anything_is_signed(env: Env) -> None:
    size = env.size()
    for extra, match in ((["--name", " "], "name: must not be empty"),
                         (["--name", "x" * 257], "name: at most 256 characters"),
                         (["--name", "X", "--type", "course"], "achievement type"),
                         (["--name", "X", "--type", "ext:"], "achievement type"),
                         (["--name", "X", "--description", "a\rb"], "description: control"),
                         (["--name", "a\nb"], "name: control"),
                         (["--name", "X", "--criteria", "c" * 4097], "criteria: at most 4096")):
        assert_error(env.run("achievement", "add", "uni", "cs201", "--key", str(env.uni_key),
                             *extra), 3, match=match)
    assert_error(env.run("achievement", "add", "uni", "bad/id", "--key", str(env.uni_key),
                         "--name", "X"), 3, match="achievement id")
    result = env.run("achievement", "add", "uni", "cs201", "--key", str(env.uni_key))
    assert result.exit_code == 2 and "--name" in result.output
    assert env.size() == size


def test_criteria_from_a_file(env: Env) -> None:
    text = env.tmp / "criteria.txt"
    text.write_text("Pass the final exam with 50% or more.\n", encoding="utf-8")
    _add(env, "cs201", "--name", "X", "--criteria-file", str(text))
    assert _json(env, "achievement", "show", "uni", "cs201")["criteria"] == \
        "Pass the final exam with 50% or more."
    text.write_bytes(b"Windows line end\r\n")
    _add(env, "cs202", "--name", "X", "--criteria-file", str(text))
    assert _json(env, "achievement", "show", "uni", "cs202")["criteria"] == "Windows line end"
    text.write_bytes(b"Paragraph one.\r\n\r\n- two\r\n- lines\r\n")  # paragraphs (§1.5)
    _add(env, "cs204", "--name", "X", "--criteria-file", str(text))
    assert _json(env, "achievement", "show", "uni", "cs204")["criteria"] == \
        "Paragraph one.\n\n- two\n- lines"
    shown = env.ok("achievement", "show", "uni", "cs204").stdout
    assert 'criteria:    "Paragraph one.\\n\\n- two\\n- lines"' in shown  # one line, quoted
    text.write_bytes(b"a bare\rcarriage return\n")
    assert_error(env.run("achievement", "add", "uni", "cs203", "--key", str(env.uni_key),
                         "--name", "X", "--criteria-file", str(text)), 3,
                 match="criteria: control characters")
    text.write_bytes(b"\xff\xfe")
    assert_error(env.run("achievement", "add", "uni", "cs203", "--key", str(env.uni_key),
                         "--name", "X", "--criteria-file", str(text)), 3, match="not UTF-8")
    assert_error(env.run("achievement", "add", "uni", "cs203", "--key", str(env.uni_key),
                         "--name", "X", "--criteria-file", str(env.tmp / "missing.txt")), 3)
    assert_error(env.run("achievement", "add", "uni", "cs203", "--key", str(env.uni_key),
                         "--name", "X", "--criteria", "a", "--criteria-file", str(text)), 2,
                 match="--criteria and --criteria-file: give one")


def test_status_lists_the_achievements(env: Env) -> None:
    _add(env, "cs201", "--name", "Data Structures", "--type", "Course", "--criteria", "Pass.",
         "--description", "Lists, trees and graphs.")
    assert _issue(env, "c-1")["first_index"] == 2
    _add(env, "b-1", "--name", "Helper", "--type", "ext:Volunteer")
    kid = _kid(env, env.uni_key)
    data = _json(env, "status", "uni")
    assert data["achievements"] == [
        {"id": "cs201", "name": "Data Structures", "achievement_type": "Course",
         "registered_at": 1, "registered_time": _time(env, 1), "key_id": kid, "trusted": True},
        {"id": "b-1", "name": "Helper", "achievement_type": "ext:Volunteer",
         "registered_at": 3, "registered_time": _time(env, 3), "key_id": kid, "trusted": True}]
    human = env.ok("status", "uni").stdout.splitlines()
    start = human.index("achievements, oldest first (2):")
    assert human[start + 1:] == [
        (f'  cs201: "Data Structures" (Course), registered at entry 1 ({_time(env, 1)}) by key '
        f"{kid}"),
        (f'  b-1: "Helper" (ext:Volunteer), registered at entry 3 ({_time(env, 3)}) by key '
        f"{kid}")]
    # A credential's status is unchanged by an achievement named like its own id.
    _add(env, "c-1", "--name", "Same id as a credential")
    handle = json.loads((env.out / "uni" / "c-1.json").read_text())["id"]
    for cred in ("c-1", handle):
        status = _json(env, "status", "uni", cred, "--out", str(env.out))
        assert status["kind"] == "credential" and status["achievement"] == "cs201", status
    assert _json(env, "achievement", "show", "uni", "c-1")["name"] == "Same id as a credential"


def test_a_compromised_key_marks_what_it_registered(env: Env) -> None:
    _add(env, "early", "--name", "Early")
    late = _add(env, "late", "--name", "Late")["first_index"]
    kid = _kid(env, env.uni_key)
    k2, _ = env.key("uni-2")
    env.ok("issuer", "rotate", "uni", "--key", str(env.uni_key), "--new-key", str(k2))
    env.ok("issuer", "revoke-key", "uni", kid, "--compromised-since", str(late), "--reason",
           "stolen")
    trusted = {a["id"]: a["trusted"]
               for a in _json(env, "achievement", "show", "uni")["achievements"]}
    assert trusted == {"early": True, "late": False}
    out = env.ok("achievement", "show", "uni", "late").stdout.splitlines()
    assert out[1] == (f"    NOT TRUSTED: key {kid} is flagged as compromised from entry {late} "
                      "on (revoked at entry 4): a thief may have registered this")
    assert "NOT TRUSTED" not in env.ok("achievement", "show", "uni", "early").stdout
    assert "NOT TRUSTED" in env.ok("status", "uni").stdout


def test_entry_and_audit(env: Env) -> None:
    _add(env, "cs201", "--name", "Data Structures", "--description", "d", "--criteria", "c",
         "--type", "Badge")
    data = _json(env, "entry", "1")
    assert data["kind"] == REGISTER_ACHIEVEMENT and data["issuer"] == "uni"
    assert data["fields"] == ["cs201", "Data Structures", "d", "c", "Badge"]
    assert data["statement_fields"] == {"achievement_id": "cs201", "name": "Data Structures",
                                        "description": "d", "criteria": "c",
                                        "achievement_type": "Badge"}
    human = env.ok("entry", "1").stdout.splitlines()
    assert [line.split(None, 1) for line in human[8:13]] == [
        ["achievement_id", '"cs201"'], ["name", '"Data Structures"'], ["description", '"d"'],
        ["criteria", '"c"'], ["achievement_type", '"Badge"']]
    audit = _json(env, "audit")
    assert (audit["achievements"], audit["issuers"], audit["entries"]) == (1, 1, 2)
    assert "1 achievement, " in env.ok("audit").stdout
    assert json.loads(env.ok("audit", "--json").stdout)["ok"] is True


def test_the_conventions(env: Env) -> None:
    """--dir after the command, --json's format, errors as JSON, like every other command."""
    elsewhere = env.tmp / "elsewhere"
    assert env.runner.invoke(cli, ["init", "--origin", "other.example/log", "--dir",
                                   str(elsewhere)]).exit_code == 0
    add = ["achievement", "add", "uni", "cs201", "--key", str(env.uni_key), "--name", "X"]
    result = env.runner.invoke(cli, [*add, "--dir", str(env.store), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["format"] == "credledger-achievement-add/1"
    # The same directory twice is fine; two different ones are a usage error.
    result = env.runner.invoke(cli, ["--dir", str(env.store), "achievement", "show", "uni",
                                     "--dir", str(env.store), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["format"] == "credledger-achievement-show/1"
    assert [a["id"] for a in shown["achievements"]] == ["cs201"]
    result = env.runner.invoke(cli, ["--dir", str(env.store), "achievement", "show", "uni",
                                     "--dir", str(elsewhere)])
    assert result.exit_code == 2 and "--dir is given twice" in result.output
    # The --dir after the command wins over CREDLEDGER_DIR: the other store has no uni.
    result = env.runner.invoke(cli, ["achievement", "show", "uni", "--dir", str(elsewhere)],
                               env={"CREDLEDGER_DIR": str(env.store)})
    assert result.exit_code == 3 and "issuer 'uni' is not registered" in result.stderr
    for args in (["achievement", "show", "uni", "nope", "--json"], [*add, "--json"]):
        result = env.run(*args)
        assert result.exit_code == 3
        error = json.loads(result.stderr)
        assert error["format"] == "credledger-error/1" and error["error"]["code"] == 3
    assert "duplicate-achievement" in json.loads(env.run(*add, "--json").stderr)["error"][
        "message"]


def test_a_store_without_the_achievements_database(env: Env) -> None:
    """A store an older version wrote lacks the database: the commands that only read
    (opened read-only) and those that write both work on it."""
    _, poly_vkey = env.key("poly")
    env.ok("issuer", "add", "poly", "--key", poly_vkey)  # a log of more than the fixture's
    dbs = lmdb.open(str(env.store), max_dbs=len(DB_NAMES) + 2, subdir=True)
    with dbs.begin(write=True) as txn:
        txn.drop(dbs.open_db(b"achievements", txn=txn), delete=True)
    dbs.close()
    assert _json(env, "status", "uni")["achievements"] == []
    assert _json(env, "achievement", "show", "uni")["achievements"] == []
    _add(env, "cs201", "--name", "X", "--description", "d", "--criteria", "c")
    assert [a["id"] for a in _json(env, "achievement", "show", "uni")["achievements"]] == [
        "cs201"]
    _issue(env, "c-1")  # the database written is the one issuing reads
    audit = _json(env, "audit")
    assert (audit["achievements"], audit["credentials"]) == (1, 1)


def test_a_bundle_whose_last_entry_registers_an_achievement_verifies(env: Env) -> None:
    """The offline verifier decodes the checkpoint's last entry, whatever its kind."""
    _add(env, "cs201", "--name", "X", "--description", "d", "--criteria", "c")
    _issue(env, "c-1")
    _add(env, "b-1", "--name", "Y")
    bundle = env.tmp / "c-1.bundle.json"
    env.ok("prove", "uni", "c-1", "--out", str(env.out), "-o", str(bundle))
    entries = json.loads(bundle.read_text())["entries"]
    assert max(e["index"] for e in entries) == 3  # the registration, the tree's last entry
    credential = str(env.out / "uni" / "c-1.json")
    for files in ([str(bundle)], [credential, "--bundle", str(bundle)]):
        result = env.run("verify", *files, "--log-key", env.log_vkey)
        assert result.exit_code == 0 and result.stdout.startswith("VALID      uni/urn:uuid:"), \
            result.output
    assert "credential checked" in result.stdout
