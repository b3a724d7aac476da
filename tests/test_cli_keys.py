"""Issue 15, "Keys": an issuer's key history in ``status``, and a key flagged as stolen from a
given entry on (``issuer revoke-key --compromised-since``), tried as a user would, on real
stores through the command line: the refusals, what ``verify`` answers on either side of the
compromise index (human and ``--json``, through click and the fast path), and the audit.

The semantics are docs/FORMAT.md's (§3.2 revoke-key, §5.2 key record, §6, §9.2, §9.3); the
reasons, docs/SECURITY.md's.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import msgpack
import pytest
from test_cli import (  # the CLI tests' store fixtures and helpers
    Env,
    _run_entry,
    assert_error,
    read_ledger,
)

from ledger.note import parse_verifier
from ledger.records import KEY, KeyRecord, decode_record, map_key, record_hash

ACH, ACH_NAME = "cs201", "Data Structures"


def _kid(env: Env, key: Path) -> str:
    return str(env.json("key", "show", str(key))["key_id"])


def _ready(env: Env) -> int:
    """Register uni's achievement cs201 (an issue needs it; unless the fixture did) with the
    first key; the index before the next entry's, so that a test's first own entry is
    ``_ready(env) + 1`` whatever the fixture wrote."""
    shown = env.json("achievement", "show", "uni")["achievements"]
    if ACH not in [a["id"] for a in shown]:
        env.ok("achievement", "add", "uni", ACH, "--key", str(env.uni_key), "--name", ACH_NAME,
               "--description", "Lists, trees and graphs.", "--criteria", "Pass the exam.")
    return env.size() - 1


def _issue(env: Env, cred: str, key: Path) -> int:
    data = env.json("issue", "uni", cred, "--key", str(key), "--subject", f"holder of {cred}",
                    "--achievement", ACH, "--out", str(env.out))
    return int(data["first_index"])


def _handle(env: Env, cred: str) -> str:
    """The credential's id (its handle in the log) from the issuer's copy in OUT."""
    return str(json.loads((env.out / "uni" / f"{cred}.json").read_text())["id"])


def _cred_file(env: Env, cred: str) -> Path:
    return env.out / "uni" / f"{cred}.json"


def _last(env: Env, *args: str) -> int:
    """Run a command that appends one entry; return its index."""
    return int(env.json(*args)["first_index"])


def _entry_time(env: Env, index: int) -> str:
    return str(env.json("entry", str(index))["time"])


def _bundle(env: Env, cred: str) -> Path:
    path = env.tmp / f"{cred}.bundle.json"
    env.ok("prove", "uni", cred, "--out", str(env.out), "-o", str(path))
    return path


def _verify(env: Env, bundle: Path, *extra: str, cred: str | None = None) -> tuple[int, str]:
    """``verify`` the holder's credential ``cred`` (by own id) with its bundle, or the
    bundle alone (status only)."""
    files = [str(bundle)] if cred is None else [str(_cred_file(env, cred)), "--bundle",
                                                 str(bundle)]
    result = env.run("verify", *files, "--log-key", env.log_vkey, *extra)
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout


def _verify_json(env: Env, bundle: Path, cred: str | None = None) -> tuple[int, dict[str, Any]]:
    code, out = _verify(env, bundle, "--json", cred=cred)
    data = json.loads(out)
    (answer,) = data["credentials"]
    if cred is not None:  # the credential itself was checked, and is the one the log holds
        assert answer["credential_checked"] is True and answer["id"] == _handle(env, cred), answer
    return code, {"top": data, **answer}


# ----------------------------------------------------------------------------- status


def test_status_lists_the_key_history(env: Env) -> None:
    """add, rotate, revoke-key, retire: every key, when it was active, how it ended."""
    o = _ready(env)
    first = _issue(env, "c-1", env.uni_key)
    k2, k2_vkey = env.key("uni-2")
    # While the first key is active: one key, active, named as the active key.
    data = env.json("status", "uni")
    assert [k["key_id"] for k in data["keys"]] == [_kid(env, env.uni_key)]
    assert data["active_key"] == _kid(env, env.uni_key)
    assert data["keys"][0]["end"] is None and data["keys"][0]["revoked"] is None
    assert "active from entry 0 (" in env.ok("status", "uni").stdout
    rotated = _last(env, "issuer", "rotate", "uni", "--key", str(env.uni_key), "--new-key",
                    str(k2))
    _issue(env, "c-2", k2)
    revoked = _last(env, "issuer", "revoke-key", "uni", k2_vkey, "--reason", "laptop stolen")
    retired = _last(env, "issuer", "retire", "uni", "--reason", "merged into poly")
    assert (first, rotated, revoked, retired) == (o + 1, o + 2, o + 4, o + 5)
    rot, rev, ret = rotated, revoked, retired

    data = env.json("status", "uni")
    assert (data["registered_at"], data["retired_at"], data["reason"]) == (0, ret,
                                                                           "merged into poly")
    assert data["registered_time"] == _entry_time(env, 0)
    assert data["retired_time"] == _entry_time(env, ret)
    assert data["active_key"] is None
    k1, k2rec = data["keys"]
    assert k1 == {
        "key_id": _kid(env, env.uni_key),
        "public_key": base64.b64encode(parse_verifier(env.uni_vkey).public_key).decode(),
        "introduced_by": "register-issuer", "active_from": 0,
        "active_from_time": _entry_time(env, 0), "ended_at": rot,
        "ended_time": _entry_time(env, rot), "end": "rotated", "revoked": None}
    assert k2rec == {
        "key_id": _kid(env, k2),
        "public_key": base64.b64encode(parse_verifier(k2_vkey).public_key).decode(),
        "introduced_by": "rotate-key", "active_from": rot,
        "active_from_time": _entry_time(env, rot), "ended_at": rev,
        "ended_time": _entry_time(env, rev), "end": "revoked",
        "revoked": {"index": rev, "time": _entry_time(env, rev), "reason": "laptop stolen",
                    "compromised_since": rev}}

    human = env.ok("status", "uni").stdout.splitlines()
    assert human[0] == (f"issuer uni (Example University): registered at entry 0 "
                        f"({_entry_time(env, 0)}), retired at entry {ret} "
                        f"({_entry_time(env, ret)}): merged into poly")
    assert human[1] == "keys, oldest first (2):"
    assert human[2].split() == [_kid(env, env.uni_key), "public", "key", k1["public_key"]]
    assert human[3].strip() == (f"active from entry 0 ({_entry_time(env, 0)}, register-issuer) "
                                f"to entry {rot} ({_entry_time(env, rot)}): rotated")
    assert human[5].strip() == (f"active from entry {rot} ({_entry_time(env, rot)}, rotate-key) "
                                f"to entry {rev} ({_entry_time(env, rev)}): revoked")
    assert human[6].strip() == f"revoked at entry {rev} ({_entry_time(env, rev)}): laptop stolen"
    # Then the achievements (the keys' section ends there).
    assert human[7:] == [
        "achievements, oldest first (1):",
        (f'  {ACH}: "{ACH_NAME}", registered at entry {o} ({_entry_time(env, o)}) by key '
        f"{_kid(env, env.uni_key)}")]
    assert_error(env.run("status", "nobody"), 3, match="not registered")


def test_status_of_a_retired_issuer_with_an_active_key(env: Env) -> None:
    env.ok("issuer", "retire", "uni")
    human = env.ok("status", "uni").stdout
    assert "active from entry 0 (" in human
    assert "signs nothing since the issuer retired at entry 1" in human
    assert env.json("status", "uni")["active_key"] is None


# ----------------------------------------------------------------------------- a stolen, rotated key


def _rotated_story(env: Env) -> dict[str, Any]:
    """uni registers its achievement, issues c-1..c-3 with its first key, rotates, issues c-4
    with the new key; then the registry flags the first key as stolen from c-2's issuance
    on."""
    o = _ready(env)
    issued = [_issue(env, cred, env.uni_key) for cred in ("c-1", "c-2", "c-3")]
    assert issued == [o + 1, o + 2, o + 3]
    k2, _ = env.key("uni-2")
    rotated = _last(env, "issuer", "rotate", "uni", "--key", str(env.uni_key), "--new-key",
                    str(k2))
    _issue(env, "c-4", k2)
    kid = _kid(env, env.uni_key)
    result = env.ok("issuer", "revoke-key", "uni", kid, "--compromised-since", str(o + 2),
                    "--reason", "old laptop stolen")
    assert result.stdout.startswith(f"revoked key {kid} of 'uni', compromised since entry "
                                    f"{o + 2}: entry {o + 6};")
    return {"k2": k2, "kid": kid, "rotated": rotated, "flagged": o + 6, "since": o + 2, "o": o}


def test_a_rotated_key_is_flagged_as_stolen_from_an_index_on(env: Env) -> None:
    story = _rotated_story(env)
    kid, flagged, since, o = story["kid"], story["flagged"], story["since"], story["o"]
    assert story["rotated"] == o + 4
    first = env.json("status", "uni")["keys"][0]
    # The key's span is kept (it was rotated at o + 4); the revocation is added to it.
    assert (first["ended_at"], first["end"]) == (o + 4, "rotated")
    assert first["revoked"] == {"index": flagged, "time": _entry_time(env, flagged),
                                "reason": "old laptop stolen", "compromised_since": since}
    human = env.ok("status", "uni").stdout
    assert (f"revoked at entry {flagged} ({_entry_time(env, flagged)}): old laptop stolen; "
            f"compromised from entry {since} on: what it signed at entries {since}..{o + 3} is "
            "not trusted") in human
    entry = env.json("entry", str(flagged))
    assert entry["kind"] == "revoke-key" and entry["fields"] == [kid, "old laptop stolen", since]

    env.ok("checkpoint")
    # Before the compromise index: VALID, and the output says the key was later revoked.
    c1_handle = _handle(env, "c-1")
    code, out = _verify(env, _bundle(env, "c-1"), cred="c-1")
    assert code == 0 and out.startswith(f"VALID      uni/{c1_handle} '{ACH_NAME}', ")
    assert (f"; signed by key {kid}, revoked at entry {flagged} (old laptop stolen), "
            f"compromised from entry {since} on (after this issuance)") in out
    code, c1 = _verify_json(env, _bundle(env, "c-1"), cred="c-1")
    assert code == 0 and c1["answer"] == "VALID" and c1["top"]["valid"] is True
    assert c1["key_revoked"] == {"index": flagged, "reason": "old laptop stolen",
                                 "compromised_since": since}
    assert c1["compromise"] is None
    # At and after it (until the rotation): KEY COMPROMISED, exit 1; the credential's own
    # proof verifies (the thief holds the key): the log's flag is what tells.
    for cred, index in (("c-2", since), ("c-3", since + 1)):
        bundle = _bundle(env, cred)
        code, out = _verify(env, bundle, cred=cred)
        assert code == 1 and out.startswith(f"KEY COMPROMISED uni/{_handle(env, cred)} "
                                            f"'{ACH_NAME}', ")
        assert (f"; signed by key {kid}, which the log flags as compromised from entry {since} "
                f"on (revoked at entry {flagged}: old laptop stolen)") in out
        assert "credential checked" in out
        for answer in (_verify_json(env, bundle, cred=cred), _verify_json(env, bundle)):
            code, data = answer
            assert code == 1 and data["top"]["valid"] is False
            assert data["top"]["answer"] == data["answer"] == "KEY COMPROMISED"
            assert data["compromise"] == {"entry": index, "kind": "issue", "key_id": kid,
                                          "compromised_since": since, "revoked_at": flagged,
                                          "reason": "old laptop stolen"}
        # The click-free path (the console script's verify) says the same, byte for byte.
        for extra in ([], ["--json"]):
            args = ["verify", str(_cred_file(env, cred)), "--bundle", str(bundle),
                    "--log-key", env.log_vkey, "--at", "2030-01-01", *extra]
            fast = _run_entry(args, through_click=False)
            slow = _run_entry(args, through_click=True)
            assert fast[0] == slow[0] == 1 and fast[1] == slow[1] and fast[2] == slow[2]
            assert "KEY COMPROMISED" in fast[1]
    # The new key's credential: untouched.
    code, c4 = _verify_json(env, _bundle(env, "c-4"), cred="c-4")
    assert code == 0 and c4["answer"] == "VALID"
    assert c4["key_revoked"] is None and c4["compromise"] is None
    # Several credentials in one bundle: the worst answer, exit 1.
    both = env.tmp / "both.json"
    env.ok("prove", "uni", "c-1", "--with", f"uni/{_handle(env, 'c-3')}", "--out", str(env.out),
           "-o", str(both))
    code, out = _verify(env, both, "--json")
    assert code == 1 and json.loads(out)["answer"] == "KEY COMPROMISED"


def test_flagging_a_key_is_refused_for_bad_indexes_signers_and_twice(env: Env) -> None:
    o = _ready(env)
    for cred in ("c-1", "c-2"):
        _issue(env, cred, env.uni_key)
    k2, _ = env.key("uni-2")
    env.ok("issuer", "rotate", "uni", "--key", str(env.uni_key), "--new-key", str(k2))  # o+3
    _, poly_vkey = env.key("poly")
    env.ok("issuer", "add", "poly", "--key", poly_vkey)  # o+4
    kid, kid2 = _kid(env, env.uni_key), _kid(env, k2)
    size = env.size()

    def refused(*args: str, rule: str, match: str = "") -> None:
        line = assert_error(env.run("issuer", "revoke-key", "uni", *args), 3,
                            match=f"refused ({rule})")
        assert match in line
        assert env.size() == size  # nothing written

    # A rotated key without a compromise index: still refused, with the way out.
    refused(kid, rule="key-not-active", match="to flag it as stolen, give the index")
    # After it ended: it signed nothing at or after its rotation (entry o + 3).
    refused(kid, "--compromised-since", str(o + 3), rule="bad-compromise-index",
            match=f"was rotated at index {o + 3}")
    refused(kid, "--compromised-since", str(o + 4), rule="bad-compromise-index")
    # Before the key existed: the second key became active at entry o + 3.
    refused(kid2, "--compromised-since", str(o + 2), rule="bad-compromise-index",
            match=f"became active at index {o + 3}")
    # After the revocation itself (an active key ends at the revoke-key entry).
    refused(kid2, "--compromised-since", str(size + 1), rule="bad-compromise-index",
            match=f"after this revocation (index {size})")
    # The wrong signer: another issuer's key; the rotated key itself (it signs nothing now).
    poly_key = env.tmp / "poly.key"
    refused(kid, "--compromised-since", "1", "--key", str(poly_key), rule="wrong-signer")
    refused(kid, "--compromised-since", "1", "--key", str(env.uni_key), rule="key-not-active")
    # An index is a number.
    result = env.run("issuer", "revoke-key", "uni", kid, "--compromised-since", "-1")
    assert result.exit_code == 2 and env.size() == size
    # The issuer's active key may flag its old key; once only.
    env.ok("issuer", "revoke-key", "uni", kid, "--compromised-since", str(o + 2), "--key",
           str(k2), "--reason", "backup disk stolen")
    size += 1
    refused(kid, "--compromised-since", "1", rule="key-not-active",
            match=f"was already revoked at index {size - 1}")
    refused(kid, rule="key-not-active", match="already revoked")
    # An unknown key id.
    refused("0123456789abcdef", "--compromised-since", "1", rule="unknown-key")
    env.ok("checkpoint")
    assert env.json("audit")["key_revocations"] == 1


def test_an_active_key_flagged_from_an_earlier_index(env: Env) -> None:
    """The same option on a key still active: it ends at the revoke-key entry, as a plain
    revocation, and what it signed from the compromise index on is not trusted."""
    o = _ready(env)
    for cred in ("c-1", "c-2", "c-3"):
        _issue(env, cred, env.uni_key)
    kid = _kid(env, env.uni_key)
    # The key revokes itself, compromised since c-2's issuance.
    flagged = _last(env, "issuer", "revoke-key", "uni", kid, "--key", str(env.uni_key),
                    "--compromised-since", str(o + 2), "--reason", "stolen")
    assert flagged == o + 4
    size = env.size()
    assert_error(env.run("issue", "uni", "c-9", "--key", str(env.uni_key), "--subject", "s",
                         "--achievement", ACH, "--out", str(env.out)), 3,
                 match="key-not-active")
    assert env.size() == size and not _cred_file(env, "c-9").exists()
    (key,) = env.json("status", "uni")["keys"]
    assert (key["ended_at"], key["end"]) == (o + 4, "revoked")
    assert key["revoked"]["compromised_since"] == o + 2
    env.ok("checkpoint")
    answers = {cred: _verify_json(env, _bundle(env, cred), cred=cred)
               for cred in ("c-1", "c-2", "c-3")}
    assert {c: (code, d["answer"]) for c, (code, d) in answers.items()} == {
        "c-1": (0, "VALID"), "c-2": (1, "KEY COMPROMISED"), "c-3": (1, "KEY COMPROMISED")}
    assert answers["c-1"][1]["key_revoked"] == {"index": o + 4, "reason": "stolen",
                                                "compromised_since": o + 2}


def test_a_compromise_index_equal_to_the_revocation_is_a_plain_revocation(env: Env) -> None:
    o = _ready(env)
    _issue(env, "c-1", env.uni_key)
    kid = _kid(env, env.uni_key)
    env.ok("issuer", "revoke-key", "uni", kid, "--compromised-since", str(o + 2), "--reason",
           "r")
    with read_ledger(env.store) as ledger:
        rec = ledger.record(KEY, "uni", kid)
    # The 8-field record a revoke-key without the option writes (docs/FORMAT.md §5.2).
    assert isinstance(rec, KeyRecord) and rec.revoked_at is None
    assert len(msgpack.unpackb(rec.encode())) == 8
    assert (rec.ended_at, rec.end, rec.reason) == (o + 2, "revoked", "r")
    env.ok("checkpoint")
    code, c1 = _verify_json(env, _bundle(env, "c-1"), cred="c-1")
    assert code == 0 and c1["key_revoked"] == {"index": o + 2, "reason": "r",
                                               "compromised_since": o + 2}


def test_a_reinstatement_signed_after_the_compromise_is_not_trusted(env: Env) -> None:
    """The credential stands on its reinstatement: signed in the compromise window, by the
    issuing key or by a later one, it is KEY COMPROMISED although the issuance came before."""
    o = _ready(env)
    key = ("--key", str(env.uni_key), "--out", str(env.out))
    _issue(env, "c-1", env.uni_key)  # o+1
    _issue(env, "c-2", env.uni_key)  # o+2
    env.ok("suspend", "uni", "c-1", *key, "--reason", "under-review")  # o+3
    env.ok("suspend", "uni", "c-2", *key, "--reason", "under-review")  # o+4
    thief = _last(env, "reinstate", "uni", "c-1", *key, "--reason",
                  "review-complete")  # o+5: by the thief
    assert thief == o + 5
    k2, _ = env.key("uni-2")
    env.ok("issuer", "rotate", "uni", *key[:2], "--new-key", str(k2))  # o+6
    env.ok("issuer", "revoke-key", "uni", _kid(env, env.uni_key), "--compromised-since",
           str(thief), "--key", str(k2), "--reason", "stolen")  # o+7
    env.ok("checkpoint")
    code, c1 = _verify_json(env, _bundle(env, "c-1"), cred="c-1")
    assert code == 1 and c1["answer"] == "KEY COMPROMISED"
    assert c1["compromise"]["kind"] == "reinstate" and c1["compromise"]["entry"] == thief
    code, out = _verify(env, _bundle(env, "c-1"), cred="c-1")
    assert f"; reinstated at entry {thief} by key {_kid(env, env.uni_key)}, which the log flags" \
           in out
    # c-2 is reinstated by the second key, which is then flagged from that reinstatement on.
    again = _last(env, "reinstate", "uni", "c-2", "--key", str(k2), "--out", str(env.out),
                  "--reason", "review-complete")  # o+8
    env.ok("checkpoint")
    code, c2 = _verify_json(env, _bundle(env, "c-2"), cred="c-2")
    assert code == 0 and c2["answer"] == "VALID" and c2["changed_index"] == again
    env.ok("issuer", "revoke-key", "uni", _kid(env, k2), "--compromised-since", str(again))
    env.ok("checkpoint")
    bundle = _bundle(env, "c-2")
    code, c2 = _verify_json(env, bundle, cred="c-2")
    assert code == 1 and c2["answer"] == "KEY COMPROMISED"
    assert c2["compromise"]["key_id"] == _kid(env, k2) != c2["key_id"]
    # The reinstating key's record is in the bundle and needed: without it, INVALID.
    doc = json.loads(bundle.read_text())
    k2_map_key = base64.b64encode(map_key(KEY, "uni", _kid(env, k2))).decode()
    doc["map"] = [m for m in doc["map"] if m["key"] != k2_map_key]
    stripped = env.tmp / "stripped.json"
    stripped.write_text(json.dumps(doc))
    for cred in (None, "c-2"):
        code, out = _verify(env, stripped, cred=cred)
        assert code == 1 and out.startswith("INVALID") and "lacks its status-map proof" in out


def test_a_bundle_without_the_flagging_entry_is_invalid(env: Env) -> None:
    story = _rotated_story(env)
    env.ok("checkpoint")
    for cred in ("c-1", "c-2"):  # VALID or KEY COMPROMISED: the revoke-key entry is checked
        doc = json.loads(_bundle(env, cred).read_text())
        assert story["flagged"] in {e["index"] for e in doc["entries"]}
        doc["entries"] = [e for e in doc["entries"] if e["index"] != story["flagged"]]
        stripped = env.tmp / "stripped.json"
        stripped.write_text(json.dumps(doc))
        for with_credential in (None, cred):
            code, out = _verify(env, stripped, cred=with_credential)
            assert code == 1 and out.startswith("INVALID") and \
                f"the bundle lacks entry {story['flagged']}" in out


# ----------------------------------------------------------------------------- audit


def test_the_audit_passes_and_a_tampered_key_record_fails_it(env: Env) -> None:
    story = _rotated_story(env)
    env.ok("checkpoint")
    report = env.json("audit")
    assert report["ok"] is True and report["key_revocations"] == 1
    # The published tiles replay alike.
    tiles = env.tmp / "tiles"
    env.ok("export", "tiles", str(tiles))
    env.ok("audit", "--tiles", str(tiles), "--log-key", env.log_vkey)
    # The operator hides the compromise: the key record goes back to "rotated", unflagged.
    k = map_key(KEY, "uni", story["kid"])
    with read_ledger(env.store) as ledger:
        rec = ledger.record(KEY, "uni", story["kid"])
        assert isinstance(rec, KeyRecord) and rec.compromised_since == story["since"]
        hidden = KeyRecord(rec.issuer, rec.key_id, rec.public_key, rec.active_from,
                           rec.ended_at, rec.end, "")
        assert decode_record(hidden.encode()) == hidden

        def tamper(txn: Any) -> None:
            txn.put("records", record_hash(hidden.encode()), hidden.encode())
            txn.put("status", k, record_hash(hidden.encode()))
        ledger.store.write(tamper)
    # status now believes the tampered record; the audit does not.
    assert env.json("status", "uni")["keys"][0]["revoked"] is None
    line = assert_error(env.run("audit"), 1)
    assert "status-index" in line


def test_the_audit_refuses_a_flag_the_writer_should_have_refused(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """An operator whose writer accepted a compromise index outside the key's span: the
    audit's replay of the rules stops at that entry, naming the rule."""
    import ledger.log
    from ledger.errors import RefusedError
    from ledger.rules import apply_rules

    o = _ready(env)
    _issue(env, "c-1", env.uni_key)
    k2, _ = env.key("uni-2")
    env.ok("issuer", "rotate", "uni", "--key", str(env.uni_key), "--new-key", str(k2))  # o+2
    kid = _kid(env, env.uni_key)

    def lax(state: Any, st: Any, signer: bytes, index: int, registry: bytes,
            **kw: Any) -> Any:
        try:
            return apply_rules(state, st, signer, index, registry, **kw)
        except RefusedError as exc:
            if exc.rule != "bad-compromise-index":
                raise
            old = state.key(st.issuer, st.fields[0])  # write what a careless writer would
            return [KeyRecord(old.issuer, old.key_id, old.public_key, old.active_from,
                              old.ended_at, old.end, st.fields[1], index, 0)]

    monkeypatch.setattr(ledger.log, "apply_rules", lax)
    env.ok("issuer", "revoke-key", "uni", kid, "--compromised-since",
           str(o + 2))  # refused: o+2 >= o+2
    monkeypatch.undo()
    env.ok("checkpoint")
    line = assert_error(env.run("audit"), 1)
    assert f"entry {o + 3}: rule bad-compromise-index" in line


def test_old_events_write_the_records_they_always_wrote(env: Env) -> None:
    """A guard (it passes on the code before compromise indexes too): a store without them
    keeps its bytes, rotated and plainly revoked keys being 8-field records, so an old
    store's map replays to the same roots."""
    k2, k2_vkey = env.key("uni-2")
    env.ok("issuer", "rotate", "uni", "--key", str(env.uni_key), "--new-key", str(k2))
    env.ok("issuer", "revoke-key", "uni", k2_vkey)
    with read_ledger(env.store) as ledger:
        for key in (env.uni_key, k2):
            rec = ledger.record(KEY, "uni", _kid(env, key))
            assert isinstance(rec, KeyRecord)
            assert len(msgpack.unpackb(rec.encode())) == 8
    assert json.loads(env.ok("entry", "2", "--json").stdout)["fields"][1:] == [""]
