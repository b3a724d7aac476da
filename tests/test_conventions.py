"""Issue 15's conventions, tried as a user would, on real stores: ``-V``, ``--dir`` after the
command, ``--json`` everywhere (errors too, one shape), ``entry`` as JSON, ``NO_COLOR``, shell
completion, the note while another writer holds the store, ``audit --since``, and ``verify``
with several FILEs and their documents.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import test_cli
from click.testing import CliRunner
from test_cli import ORIGIN, Env, assert_error

from ledger import __version__
from ledger.cli import cli

# test_cli's fixtures: a bare directory, a store with issuer uni, no CREDLEDGER_* variables.
bare, env, _no_env_dir = test_cli.bare, test_cli.env, test_cli._no_env_dir

ACH = "cs201"
NEVER = "urn:uuid:00000000-0000-4000-8000-0000000003e7"  # a handle never issued


def _achievement(env: Env) -> None:
    """Register uni's achievement cs201 (an issue needs one), unless it is there."""
    shown = json.loads(env.ok("achievement", "show", "uni", "--json").stdout)["achievements"]
    if ACH not in [a["id"] for a in shown]:
        env.ok("achievement", "add", "uni", ACH, "--key", str(env.uni_key), "--name",
               "Data Structures", "--description", "Lists, trees and graphs.", "--criteria",
               "Pass the final exam.")


def _issue(env: Env, cred: str, *extra: str) -> None:
    """Issue ``cred`` (own id) of cs201 to env.out, registering cs201 first if need be."""
    _achievement(env)
    env.ok("issue", "uni", cred, "--key", str(env.uni_key), "--subject", f"holder of {cred}",
           "--achievement", ACH, "--out", str(env.out), *extra)


def _handle(env: Env, cred: str) -> str:
    """The credential's id (its handle in the log), from the issuer's copy in env.out."""
    return str(json.loads((env.out / "uni" / f"{cred}.json").read_text())["id"])


def test_dash_v_is_the_version() -> None:
    for flag in ("-V", "--version"):
        result = CliRunner().invoke(cli, [flag])
        assert result.exit_code == 0, result.output
        assert result.stdout == f"credledger, version {__version__}\n"


# ----------------------------------------------------------------------------- --dir after


def _store_commands() -> list[tuple[str, ...]]:
    """Every command whose code opens the store (``open_ledger``, ``store_path``, or
    ``open_log``: the store, or with ``--log URL`` a served log)."""
    import inspect

    out = []

    def walk(group: click.Group, path: tuple[str, ...]) -> None:
        for name, cmd in sorted(group.commands.items()):
            if isinstance(cmd, click.Group):
                walk(cmd, (*path, name))
            elif cmd.callback is not None:
                source = inspect.getsource(inspect.unwrap(cmd.callback))
                if "open_ledger(" in source or "store_path(" in source or "open_log(" in source:
                    out.append((*path, name))
    walk(cli, ())
    return out


def test_every_command_that_opens_the_store_takes_dir_after_it() -> None:
    commands = _store_commands()
    assert {("status",), ("init",), ("issue",), ("audit",), ("export", "tiles"),
            ("issuer", "add"), ("revoke",), ("prove-all",)} <= set(commands)
    for path in commands:
        cmd: click.Command = cli
        for name in path:
            assert isinstance(cmd, click.Group)
            cmd = cmd.commands[name]
        assert any("--dir" in p.opts for p in cmd.params), f"{' '.join(path)}: no --dir"


# Command lines that reach the opening of the store (a key file they read first is given).
_OPENING = [
    ["status", "uni"], ["status", "uni", "c-1"], ["entry", "0"], ["checkpoint"],
    ["consistency", "0"], ["backup", "{tmp}/backup"], ["prove", "uni", NEVER],
    ["prove-all", "uni", "{tmp}/ids.txt", "--out-dir", "{tmp}/bundles"], ["audit"],
    ["export", "tiles", "{tmp}/tiles"], ["issuer", "retire", "uni"],
    ["issuer", "add", "x", "--key", "{vkey}"], ["issuer", "rotate", "uni", "--key", "{key}",
                                                   "--new-key", "{key}"],
    ["issuer", "revoke-key", "uni", "0123456789abcdef"],
    ["issue", "uni", "c-1", "--key", "{key}", "--subject", "s", "--achievement", "a",
     "--out", "{tmp}/out"],
    ["recover", "uni", "--out", "{tmp}/out"],
    ["revoke", "uni", NEVER, "--key", "{key}"], ["suspend", "uni", NEVER, "--key", "{key}"],
    ["reinstate", "uni", NEVER, "--key", "{key}"],
    ["status-list", "uni", "--key", "{key}"],
]


@pytest.mark.parametrize("args", _OPENING, ids=lambda a: " ".join(a[:2]))
def test_dir_after_the_command_is_the_store(env: Env, args: list[str]) -> None:
    """``credledger CMD ... --dir DIR`` opens DIR, as ``credledger --dir DIR CMD ...`` does:
    a missing DIR is named, and the store given before the command is not used."""
    (env.tmp / "ids.txt").write_text("c-1\n")
    words = [a.format(tmp=env.tmp, key=env.uni_key, vkey=env.uni_vkey) for a in args]
    missing = env.tmp / "no-store-here"
    result = env.runner.invoke(cli, [*words, "--dir", str(missing)])
    assert_error(result, 3, match=f"no ledger store in {missing}")
    result = env.runner.invoke(cli, [*words, "--dir", str(missing)],
                               env={"CREDLEDGER_DIR": str(env.store)})
    assert_error(result, 3, match=f"no ledger store in {missing}")  # after the command wins


def test_dir_before_after_and_from_the_environment(env: Env) -> None:
    _issue(env, "c-1")
    runner, store = env.runner, str(env.store)
    c1 = _handle(env, "c-1")  # the status of a credential by its handle: no OUT to look in
    want = env.ok("status", "uni", c1).stdout
    assert want.startswith(f"uni/{c1}: ISSUED")
    for args, environ in (
        (["status", "uni", c1, "--dir", store], {}),
        (["status", "--dir", store, "uni", c1], {}),
        (["--dir", store, "status", "uni", c1, "--dir", store], {}),  # the same twice
        (["status", "uni", c1], {"CREDLEDGER_DIR": store}),
        (["status", "uni", c1, "--dir", store], {"CREDLEDGER_DIR": str(env.tmp / "x")}),
        (["--dir", store, "status", "uni", c1], {"CREDLEDGER_DIR": str(env.tmp / "x")}),
    ):
        result = runner.invoke(cli, args, env=environ)
        assert (result.exit_code, result.stdout) == (0, want), (args, result.output)
    # Two different directories: a usage error, and nothing is opened.
    result = runner.invoke(cli, ["--dir", store, "status", "uni", "--dir", str(env.tmp / "x")])
    assert result.exit_code == 2, result.output
    assert "--dir is given twice" in result.stderr
    # Through the console script, as a user types it.
    proc = subprocess.run([sys.executable, "-m", "ledger", "status", "uni", c1, "--dir",
                           store], capture_output=True, text=True, check=False, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "CREDLEDGER_DIR"})
    assert (proc.returncode, proc.stdout) == (0, want), proc.stderr


# ----------------------------------------------------------------------------- NO_COLOR


@pytest.mark.parametrize("no_color", [None, "", "1"], ids=["unset", "empty", "set"])
def test_no_color_is_honoured_by_the_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          no_color: str | None) -> None:
    """On a terminal (``color=True``), the demo is in colour unless NO_COLOR is set to
    something (no-color.org: an empty value does not count)."""
    monkeypatch.chdir(tmp_path)
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    result = CliRunner().invoke(cli, ["demo"], color=True)
    assert result.exit_code == 0, result.output
    assert ("\x1b[" in result.output) == (not no_color)


def test_no_colour_into_a_pipe(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.run([sys.executable, "-m", "ledger", "demo"], capture_output=True,
                          cwd=tmp_path, env=environ, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert b"\x1b" not in proc.stdout + proc.stderr


def test_colour_is_only_written_through_one_helper() -> None:
    """Every colour goes through ``cliutil.secho``, which honours NO_COLOR."""
    for path in (Path(__file__).parent.parent / "ledger").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name == "cliutil.py":
            text = text.replace("click.style(text, fg=fg)", "", 1)
        for needle in ("click.style(", "click.secho(", "\\x1b", "\\033", "\\u001b"):
            assert needle not in text, f"{path.name} writes colour without cliutil.secho"


# ----------------------------------------------------------------------------- completion, help


def _console(args: list[str], **environ: str) -> subprocess.CompletedProcess[str]:
    """``credledger ARGS`` through the console script's entry (ledger.main), as installed."""
    env_ = {k: v for k, v in os.environ.items() if not k.startswith(("CREDLEDGER_", "_CRED"))}
    env_.update(environ)
    return subprocess.run([sys.executable, "-c", "from ledger.main import main; main()", *args],
                          capture_output=True, text=True, env=env_, check=False, timeout=60)


def test_shell_completion_through_the_console_script(tmp_path: Path) -> None:
    script = _console([], _CREDLEDGER_COMPLETE="bash_source")
    assert script.returncode == 0, script.stderr
    assert "_credledger_completion()" in script.stdout
    assert "complete -o nosort -F _credledger_completion credledger" in script.stdout
    for words, cword, want in (("credledger sta", 1, "plain,status"),
                               ("credledger status uni --d", 3, "plain,--dir"),
                               ("credledger verify --log", 2, "plain,--log-key")):
        done = _console([], _CREDLEDGER_COMPLETE="bash_complete", COMP_WORDS=words,
                        COMP_CWORD=str(cword))
        assert want in done.stdout.splitlines(), (words, done.stdout, done.stderr)
    # Completion is click's even when verify's arguments would take the click-free path.
    done = _console(["verify", str(tmp_path / "c-1.bundle.json")],
                    _CREDLEDGER_COMPLETE="bash_complete", COMP_WORDS="credledger verify --log",
                    COMP_CWORD="2")
    assert done.stdout.splitlines() == ["plain,--log-key"], done.stdout + done.stderr


def test_help_documents_completion_and_the_environment() -> None:
    text = CliRunner().invoke(cli, ["--help"]).stdout
    for needle in ('eval "$(_CREDLEDGER_COMPLETE=bash_source credledger)"', "CREDLEDGER_DEBUG=1",
                   "CREDLEDGER_DIR", "CREDLEDGER_PASSPHRASE", "CREDLEDGER_LOG_KEY", "NO_COLOR"):
        assert needle in text, needle
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for needle in ("_CREDLEDGER_COMPLETE=bash_source", "CREDLEDGER_DEBUG", "NO_COLOR"):
        assert needle in readme, needle


# ----------------------------------------------------------------------------- entry


def test_entry_shows_every_kind_by_field_name_faithfully(env: Env) -> None:
    """``entry --json`` gives the statement's fields by name (and in order, as before), bytes
    in hex, exactly what the leaf bytes hold; the human form quotes text and escapes what a
    terminal would obey; --raw and --json together are a usage error."""
    import msgpack

    from ledger.events import _STATEMENT_FIELDS, FIELD_NAMES, KINDS

    assert set(FIELD_NAMES) == set(KINDS)
    for kind, count in _STATEMENT_FIELDS.items():  # (names for optional last fields too)
        assert len(FIELD_NAMES[kind]) in (count, count + 1), kind
    name = 'it\'s "x" \u202eevil\tend'  # entry 1: text a terminal would obey, in the log
    env.ok("achievement", "add", "uni", ACH, "--key", str(env.uni_key), "--name", name,
           "--description", "a\tb \u2066c", "--criteria", "Pass.", "--type", "Course")
    _issue(env, "m-1")
    _issue(env, "c-1", "--expires", "2030-01-31", "--part", "m-1", "--result", "A")
    _issue(env, "c-2")
    key = ("--key", str(env.uni_key), "--out", str(env.out))
    env.ok("suspend", "uni", "c-2", *key, "--reason", "under-review")
    env.ok("reinstate", "uni", "c-2", *key, "--reason", "review-complete")
    env.ok("revoke", "uni", "m-1", *key, "--reason", "issued-in-error")
    env.ok("status-list", "uni", "--key", str(env.uni_key))  # a revocation and a suspension list
    new_key, _ = env.key("uni-2")
    env.ok("issuer", "rotate", "uni", "--key", str(env.uni_key), "--new-key", str(new_key))
    env.ok("issuer", "revoke-key", "uni", env.json("key", "show", str(new_key))["key_id"],
           "--reason", "lost")
    env.ok("issuer", "retire", "uni", "--reason", "merged")
    kinds = set()
    for index in range(env.json("checkpoint")["size"]):
        data = env.json("entry", str(index))
        raw = env.ok("entry", str(index), "--raw").stdout_bytes
        items = msgpack.unpackb(raw)
        statement = msgpack.unpackb(items[5])
        want = [v.hex() if isinstance(v, bytes) else v for v in statement[3:]]
        assert data["kind"] == statement[0] and data["issuer"] == statement[1]
        assert data["fields"] == want
        names = FIELD_NAMES[statement[0]]
        assert len(want) in (len(names), _STATEMENT_FIELDS[statement[0]])
        assert data["statement_fields"] == dict(zip(names, want))
        assert (data["signer"], data["signature"]) == (items[6].hex(), items[7].hex())
        kinds.add(data["kind"])
        human = env.ok("entry", str(index)).stdout
        for name in names[:len(want)]:
            assert any(line.split()[0] == name for line in human.splitlines()), (name, human)
        assert not any(c in human for c in "\t\u202e\u2066"), human
    assert kinds == {"register-issuer", "register-achievement", "issue", "suspend", "reinstate",
                     "revoke", "publish-status-list", "rotate-key", "revoke-key",
                     "retire-issuer"}
    human = env.ok("entry", "1").stdout  # the name, quoted and escaped, in one line
    assert 'name            "it\'s \\"x\\" \\u202eevil\\tend"\n' in human
    assert 'description     "a\\tb \\u2066c"\n' in human
    c1 = env.json("entry", "3")
    assert c1["statement_fields"]["credential"] == _handle(env, "c-1")
    assert c1["statement_fields"]["parts"] == [_handle(env, "m-1")]
    assert c1["statement_fields"]["achievement"] == ACH
    assert "2030-01-31" in env.ok("entry", "3").stdout  # valid_until, shown as a date
    assert "holder of" not in json.dumps(c1)  # nothing personal in the entry
    result = env.run("entry", "0", "--raw", "--json")
    assert result.exit_code == 2 and not result.stdout_bytes


# ----------------------------------------------------------------------------- --json


def _leaf_commands() -> list[tuple[tuple[str, ...], click.Command]]:
    out = []

    def walk(group: click.Group, path: tuple[str, ...]) -> None:
        for name, cmd in sorted(group.commands.items()):
            if isinstance(cmd, click.Group):
                walk(cmd, (*path, name))
            else:
                out.append(((*path, name), cmd))
    walk(cli, ())
    return out


def test_every_command_that_prints_data_takes_json() -> None:
    """Only the narrated demo has no --json."""
    without = {" ".join(path) for path, cmd in _leaf_commands()
               if not any("--json" in p.opts for p in cmd.params)}
    assert without == {"demo"}


def _json(env: Env, *args: str) -> Any:
    """``credledger ARGS --json``: exit 0, one JSON object on stdout, nothing on stderr."""
    result = env.run(*args, "--json")
    assert result.exit_code == 0, (args, result.output)
    assert not result.stderr, (args, result.stderr)
    return json.loads(result.stdout)


def _command_of(args: tuple[str, ...]) -> str:
    words = [a for a in args if not a.startswith("-")]
    return "-".join(words[:2] if words[0] in ("key", "issuer", "witness", "export",
                                              "achievement") else words[:1])


def test_every_json_object_names_its_format(env: Env) -> None:
    """Each command's --json object starts with "format": "credledger-COMMAND/1"; prove and
    witness cosign have --json now (the proof itself inside, unless -o is given)."""
    t = env.tmp
    new_key, new_vkey = env.key("uni-2")
    o2_key, _ = env.key("o2")
    out = ("--out", str(env.out))
    calls: list[tuple[str, ...]] = [
        ("key", "new", str(t / "x.key")), ("key", "show", str(env.uni_key)),
        ("issuer", "add", "other", "--key", new_vkey),
        ("achievement", "add", "uni", ACH, "--key", str(env.uni_key), "--name", "T",
         "--description", "D", "--criteria", "C"),
        ("achievement", "show", "uni"),
        ("issue", "uni", "c-1", "--key", str(env.uni_key), "--subject", "s", "--achievement",
         ACH, *out),
        ("issue", "uni", "c-2", "--key", str(env.uni_key), "--subject", "s", "--achievement",
         ACH, *out),
        ("suspend", "uni", "c-2", "--key", str(env.uni_key), *out),
        ("reinstate", "uni", "c-2", "--key", str(env.uni_key), *out),
        ("revoke", "uni", "c-2", "--key", str(env.uni_key), *out),
        ("status-list", "uni", "--key", str(env.uni_key)),
        ("checkpoint",), ("status", "uni"), ("status", "uni", "c-1", *out), ("entry", "1"),
        ("consistency", "1"), ("backup", str(t / "backup")),
        ("prove", "uni", "c-1", *out, "-o", str(t / "c-1.bundle.json")),
        ("prove-all", "uni", str(t / "ids.txt"), "--out-dir", str(t / "bundles"), *out),
        ("audit",), ("export", "tiles", str(t / "tiles")),
        ("witness", "init", str(t / "w"), "--name", "w.example"),
        ("issuer", "rotate", "other", "--key", str(new_key), "--new-key", str(o2_key)),
        ("issuer", "revoke-key", "other", env.json("key", "show", str(o2_key))["key_id"]),
        ("issuer", "retire", "other"),
    ]
    (t / "ids.txt").write_text("c-1\nc-2\n")
    for args in calls:
        data = _json(env, *args)
        assert next(iter(data)) == "format", args
        assert data["format"] == f"credledger-{_command_of(args)}/1", (args, data["format"])
    # prove: the bundle inside (it verifies), or what was written with -o.
    data = _json(env, "prove", "uni", "c-1", *out)
    assert (data["proof"], data["credentials"], data["output"]) == (
        "bundle", [f"uni/{_handle(env, 'c-1')}"], None)
    assert data["checkpoint_signed"] is True  # the log grew since the last checkpoint
    bundle = t / "embedded.bundle.json"
    bundle.write_text(json.dumps(data["bundle"]))
    credential = str(env.out / "uni" / "c-1.json")
    verdict = _json(env, "verify", credential, "--bundle", str(bundle), "--log-key",
                    env.log_vkey)
    assert (verdict["format"], verdict["answer"]) == ("credledger-verify/1", "VALID")
    assert verdict["credentials"][0]["credential_checked"] is True
    data = _json(env, "prove", "uni", "c-1", *out, "--format", "tlog-proof")
    assert data["tlog_proof"] == env.ok("prove", "uni", "c-1", *out, "--format",
                                        "tlog-proof").stdout
    data = _json(env, "prove", "uni", "c-1", *out, "-o", str(t / "c-1.bundle.json"))
    assert data["output"] == str(t / "c-1.bundle.json") and "bundle" not in data
    many = _json(env, "verify", str(bundle), str(t / "c-1.bundle.json"), "--log-key",
                 env.log_vkey)
    assert [v["format"] for v in many] == ["credledger-verify/1"] * 2
    # witness cosign: the cosigned note inside, or written with -o.
    note = t / "cp.txt"
    note.write_text(env.ok("checkpoint").stdout)
    cosign = ("witness", "cosign", str(note), "--state", str(t / "w"), "--log-key", env.log_vkey)
    data = _json(env, *cosign)
    assert data["format"] == "credledger-witness-cosign/1"
    assert data["note"].startswith(note.read_text()) and data["witness"] == "w.example"
    assert data["size"] == env.size()
    data = _json(env, *cosign, "-o", str(t / "cosigned.txt"))
    assert "note" not in data and (t / "cosigned.txt").read_text().startswith(note.read_text())


def _one_json_error(stderr: str, code: int) -> str:
    """stderr under --json: exactly one line, the error object in its one shape."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    value = json.loads(lines[0])
    assert value == {"format": "credledger-error/1",
                     "error": {"code": code, "message": value["error"]["message"]}}, value
    assert isinstance(value["error"]["message"], str) and value["error"]["message"]
    return str(value["error"]["message"])


def test_errors_under_json_are_one_json_object(env: Env) -> None:
    _issue(env, "c-1")
    cases: list[tuple[list[str], int, str]] = [
        (["status", "nope", "--json"], 3, "issuer 'nope' is not registered"),
        (["status", "--json"], 2, "Missing argument 'ISSUER'."),
        (["--json", "status", "uni"], 2, "No such option '--json'."),
        (["status", "uni", "--bogus", "--json"], 2, "No such option '--bogus'."),
        (["revoke", "uni", NEVER, "--key", str(env.uni_key), "--json"], 3,
         "refused (unknown-credential)"),
        (["revoke", "uni", "c-9", "--key", str(env.uni_key), "--out", str(env.out), "--json"],
         3, "no credential 'c-9' in"),
        (["issue", "uni", "c-9", "--key", str(env.uni_key), "--subject", "s", "--achievement",
          "phd", "--out", str(env.out), "--json"], 3, "achievement 'phd' is not registered"),
        (["revoke", "uni", NEVER, "--key", str(env.uni_key), "--reason", "because", "--json"],
         2, "Invalid value for '--reason'"),
        (["status", "uni", "--json", "--dir", str(env.tmp / "none")], 2, "--dir is given twice"),
        (["entry", "0", "--raw", "--json"], 2, "--raw writes the leaf bytes"),
    ]
    for args, code, message in cases:
        result = env.run(*args)
        assert result.exit_code == code, (args, result.output)
        assert not result.stdout, (args, result.stdout)
        assert message in _one_json_error(result.stderr, code), args
        plain = env.run(*[a for a in args if a != "--json"])  # without --json: the text line
        if code == 3:
            assert_error(plain, 3, match=message)


def test_verify_errors_under_json_on_both_paths(env: Env) -> None:
    """The click-free verify and click's give the same JSON: answers on stdout, each with its
    format, and the error as one JSON line on stderr."""
    from test_cli import _run_entry

    _issue(env, "c-1")
    good = env.tmp / "c-1.bundle.json"
    env.ok("prove", "uni", "c-1", "--out", str(env.out), "-o", str(good))
    cred = str(env.out / "uni" / "c-1.json")
    notes = env.tmp / "notes.txt"
    notes.write_text("not a bundle\n")
    key = ["--log-key", env.log_vkey]
    at = ["--at", "2027-06-01"]
    cases: list[tuple[list[str], int]] = [
        ([str(good), *key, "--json", *at], 0),
        ([cred, "--bundle", str(good), *key, "--json", *at], 0),
        ([cred, "--bundle", str(good), *key, "--json", *at, "--subject", "holder of c-1"], 0),
        ([cred, "--bundle", str(good), *key, "--json", *at, "--subject", "someone else"], 1),
        # (every case pins --at: an answer says when it was judged, to the second, and the
        # two runs compared may fall either side of a second)
        ([str(notes), *key, "--json", *at], 1),
        ([str(env.tmp / "missing.json"), *key, "--json", *at], 3),
        ([str(good), "--json", *at], 2),
        ([cred, *key, "--json", *at], 2),  # a credential without its bundle
        ([str(good), "--bundle", cred, *key, "--json", *at], 2),  # a credential as a bundle
        ([str(good), *key, "--json", "--document", str(notes), *at], 2),  # gone with v1
        ([str(good), str(notes), *key, "--json", *at], 1),
        ([str(good), str(env.tmp / "missing.json"), *key, "--json", *at], 3),
        ([str(good), "--json", "--log-key"], 2),  # click's parse
        ([str(good), "--json", "--size", "-1", *key, *at], 2),
    ]
    for args, code in cases:
        fast = _run_entry(["verify", *args], through_click=False)
        slow = _run_entry(["verify", *args], through_click=True)
        assert fast == slow, args
        assert fast[0] == code, (args, fast)
        if code:
            _one_json_error(fast[2], code)
        else:
            assert not fast[2]
        if fast[1]:
            value = json.loads(fast[1])
            for answer in value if isinstance(value, list) else [value]:
                assert answer["format"] == "credledger-verify/1"


# ----------------------------------------------------------------------------- another writer

_HOLD = """
import sys, time
from ledger.store import Store

def hold(txn):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))

Store(sys.argv[1]).write(hold)
"""


def test_a_note_while_another_process_holds_the_write_lock(env: Env) -> None:
    """While another process holds the store's write lock (a big batch, say), a writer waits:
    after 1.5 s it says so on stderr, once, and goes on when the lock is released. A command
    that only reads neither waits nor says anything (it waited silently, at the opening)."""
    import time

    _issue(env, "c-1")
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(env.store), "6"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        start = time.monotonic()
        writer = _console_popen(["--dir", str(env.store), "issue", "uni", "c-2", "--key",
                                 str(env.uni_key), "--subject", "s", "--achievement", ACH,
                                 "--out", str(env.out)])
        readers = [_console_popen(["--dir", str(env.store), *args]) for args in (
            ["status", "uni", "c-1", "--out", str(env.out), "--json"], ["entry", "1", "--json"],
            ["audit", "--json"])]
        read = [p.communicate(timeout=60) for p in readers]
        read_time = time.monotonic() - start
        out, err = writer.communicate(timeout=60)
        write_time = time.monotonic() - start
    finally:
        holder.wait(timeout=60)
    assert holder.returncode == 0
    assert read_time < 4 < write_time, (read_time, write_time)
    for proc, (rout, rerr) in zip(readers, read, strict=True):
        assert (proc.returncode, rerr) == (0, ""), rerr
        assert json.loads(rout)["format"].startswith("credledger-")
    assert writer.returncode == 0, err
    assert err == ("credledger: waiting for another writer: another process holds the store's "
                   "write lock (a big batch?); going on once it is released\n")  # once
    assert "issued 1 credential" in out
    # Without another writer: no note.
    result = _console(["--dir", str(env.store), "revoke", "uni", "c-2", "--key",
                       str(env.uni_key), "--out", str(env.out)])
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_a_store_lacking_a_database_is_opened_for_reading_as_a_writer(tmp_path: Path) -> None:
    """A store of format v1 lacks databases a writer adds: opened read-only, it is opened as a
    writer instead (which adds them), and reads."""
    import lmdb

    from ledger.store import Store

    Store(tmp_path / "s", create=True).close()
    env = lmdb.open(str(tmp_path / "s"), max_dbs=20)
    db = env.open_db(b"maproots")
    with env.begin(write=True) as txn:
        txn.drop(db, delete=True)
    env.close()
    with Store(tmp_path / "s", readonly=True) as store:
        assert store.read(lambda t: t.get("maproots", bytes(32))) is None
    with Store(tmp_path / "s", readonly=True) as store:  # now a reader's
        assert store.read(lambda t: t.get("maproots", bytes(32))) is None


_HOLD_BARE = """
import sys, time
import lmdb

env = lmdb.open(sys.argv[1], max_dbs=20, subdir=True)
txn = env.begin(write=True)  # LMDB's write lock, and no database opened or created
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
txn.abort()
"""


def test_a_store_without_the_achievements_database_is_read_without_the_write_lock(
        env: Env) -> None:
    """A store written before achievements lacks that database. Opened read-only (status,
    audit, backup) while another process holds the write lock, it answers at once, reads the
    database as empty, and is not written: it was opened as a writer instead, which waited for
    the lock and added the database (found by review)."""
    import hashlib
    import time

    import lmdb

    from ledger.store import DATA_FILE, DB_NAMES, Store

    _, poly_vkey = env.key("poly")  # entry 1 (no issue: that needs an achievement registered)
    env.ok("issuer", "add", "poly", "--key", poly_vkey)
    dbs = lmdb.open(str(env.store), max_dbs=len(DB_NAMES) + 2, subdir=True)
    with dbs.begin(write=True) as txn:
        txn.drop(dbs.open_db(b"achievements", txn=txn), delete=True)
    dbs.close()
    data = env.store / DATA_FILE

    def state() -> tuple[bytes, int]:
        return hashlib.sha256(data.read_bytes()).digest(), data.stat().st_mtime_ns

    before = state()
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_BARE, str(env.store), "6"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        start = time.monotonic()
        with Store(env.store, readonly=True) as store:
            assert store.read(lambda t: (
                t.get("achievements", bytes(40)), list(t.items("achievements")),
                list(t.prefix("achievements", b"")), t.last("achievements"),
                t.get_many("achievements", [bytes(40)]))) == (None, [], [], None, {})
            assert store.read(lambda t: t.entry(1)) is not None
        readers = [_console_popen(["--dir", str(env.store), *args]) for args in (
            ["status", "uni", "--json"], ["audit", "--json"],
            ["backup", str(env.tmp / "backup"), "--json"])]
        read = [p.communicate(timeout=60) for p in readers]
        read_time = time.monotonic() - start
    finally:
        holder.wait(timeout=60)
    assert holder.returncode == 0
    assert read_time < 4, read_time
    for proc, (out, err) in zip(readers, read, strict=True):
        assert (proc.returncode, err) == (0, ""), err
    assert json.loads(read[0][0])["achievements"] == []
    assert json.loads(read[1][0])["achievements"] == 0
    assert state() == before  # not written
    dbs = lmdb.open(str(env.store), max_dbs=len(DB_NAMES) + 2, subdir=True, readonly=True)
    with dbs.begin() as txn:
        assert txn.get(b"achievements") is None  # still no such database
    dbs.close()


def test_a_reader_that_lacked_the_achievements_database_never_reads_it_as_empty_wrongly(
        tmp_path: Path) -> None:
    """Opened read-only without the database, a store that a writer then gives it (its first
    achievement) says so when the reader's snapshot has it, rather than read it as empty."""
    import lmdb

    from ledger.errors import StoreError
    from ledger.store import DB_NAMES, Store

    Store(tmp_path / "s", create=True).close()
    dbs = lmdb.open(str(tmp_path / "s"), max_dbs=len(DB_NAMES) + 2, subdir=True)
    with dbs.begin(write=True) as txn:
        txn.drop(dbs.open_db(b"achievements", txn=txn), delete=True)
    dbs.close()
    with Store(tmp_path / "s", readonly=True) as reader:
        assert reader.read(lambda t: list(t.items("achievements"))) == []
        add = ("import sys; from ledger.store import Store; "
               "Store(sys.argv[1]).write(lambda t: t.put('achievements', b'k', b'v'))")
        subprocess.run([sys.executable, "-c", add, str(tmp_path / "s")], check=True)
        with pytest.raises(StoreError, match="added the 'achievements' database since"):
            reader.read(lambda t: list(t.items("achievements")))
        assert reader.read(lambda t: t.last("meta")) is None  # the rest reads on
    with Store(tmp_path / "s", readonly=True) as reader:
        assert reader.read(lambda t: list(t.items("achievements"))) == [(b"k", b"v")]


def _console_popen(args: list[str]) -> subprocess.Popen[str]:
    env_ = {k: v for k, v in os.environ.items() if not k.startswith(("CREDLEDGER_", "_CRED"))}
    return subprocess.Popen([sys.executable, "-c", "from ledger.main import main; main()", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_)


# ----------------------------------------------------------------------------- verify, several FILEs


def test_verify_matches_credentials_to_one_of_several_bundles(env: Env) -> None:
    """With several bundles (FILEs or --bundle), each holder's credential goes with the one
    bundle proving it, on both paths, whatever the order; one that goes with no bundle or with
    several is a usage error naming the fix; a credential never goes with a tlog-proof. (v1's
    --document and --attachment: the credential is now the holder's file itself.)"""
    from test_cli import _run_entry

    for cred in ("c-1", "c-2", "c-3"):
        _issue(env, cred)
    env.ok("checkpoint")
    b1, b2, b3, proof2 = (env.tmp / n for n in ("c-1.bundle.json", "c-2.bundle.json",
                                                 "c-3.bundle.json", "c-2.tlog"))
    out_dir = ("--out", str(env.out))
    for cred, path in (("c-1", b1), ("c-2", b2), ("c-3", b3)):
        env.ok("prove", "uni", cred, *out_dir, "-o", str(path))
    env.ok("prove", "uni", "c-2", *out_dir, "--format", "tlog-proof", "-o", str(proof2))
    again = env.tmp / "c-1-again.bundle.json"
    env.ok("prove", "uni", "c-1", *out_dir, "-o", str(again))
    d1, d2, d3 = (str(env.out / "uni" / f"c-{n}.json") for n in (1, 2, 3))
    h1, h2 = _handle(env, "c-1"), _handle(env, "c-2")
    forged = env.tmp / "forged-c-3.json"
    doc = json.loads(Path(d3).read_text())
    doc["credentialSubject"]["identifier"][0]["salt"] = "00" * 32  # another holder's hash
    forged.write_text(json.dumps(doc))
    key = ["--log-key", env.log_vkey]

    def both(*args: str) -> tuple[int, str, str]:
        fast = _run_entry(["verify", *args], through_click=False)
        assert fast == _run_entry(["verify", *args], through_click=True), args
        return fast

    # The proofs in order (the FILEs that are not credentials, then each --bundle), each
    # block with its credential checked.
    for args, order in (([d2, d1, "--bundle", str(b1), "--bundle", str(b2)], (h1, h2)),
                        ([d1, str(b2), d2, "--bundle", str(b1)], (h2, h1))):
        code, out, err = both(*args, *key)
        assert (code, err) == (0, ""), out + err
        blocks = out.split("\n== ")
        assert len(blocks) == 2
        for block, handle in zip(blocks, order, strict=True):
            assert f"VALID      uni/{handle} " in block and "credential checked" in block
    code, out, err = both(d1, "--bundle", str(b1), "--bundle", str(b2), *key, "--json",
                          "--at", "2027-06-01")
    answers = json.loads(out)
    assert code == 0 and [a["credentials"][0]["credential_checked"] for a in answers] == [
        True, False]
    # The holder, checked against the credential of each bundle: one without its credential
    # cannot be (INVALID, exit 1).
    code, out, _ = both(d1, "--bundle", str(b1), "--bundle", str(b2), *key, "--subject",
                        "holder of c-1")
    blocks = out.split("\n== ")
    assert code == 1 and "credential checked; holder 'holder of c-1' matches it" in blocks[0]
    assert "INVALID    a holder (--subject) is checked against the holder's credential; none " \
           "is given" in blocks[1]
    # A forged credential still goes with its bundle, which then does not verify.
    code, out, err = both(str(forged), "--bundle", str(b1), "--bundle", str(b3), *key)
    assert code == 1 and "INVALID" in out.split("\n== ")[1], out + err
    # Usage errors, naming the fix.
    for args, message in (
        ([d2, "--bundle", str(b1), "--bundle", str(b3)],
         (f"{d2}: none of the bundles proves its credential {h2}; verify it with its own "
         f"bundle: credledger verify {d2} --bundle BUNDLE")),
        ([d1, "--bundle", str(b1), "--bundle", str(again)],
         f"{d1}: 2 bundles prove its credential {h1}"),
        ([d2, "--bundle", str(b1), "--bundle", str(proof2)],
         f"{d2}: none of the bundles proves its credential {h2}"),
        ([d2, "--bundle", str(proof2)], ("is a tlog-proof, which proves only that an entry is "
                                        "in the log")),
        ([d1, d2], f"{d1} is a holder's credential: verify it with its proof bundle"),
    ):
        code, out, err = both(*args, *key)
        assert (code, out) == (2, ""), (args, out, err)
        assert message in err, (args, err)
        assert len(err.splitlines()) == 1


# ----------------------------------------------------------------------------- audit --since


def _batch(env: Env, first: int, count: int, **extra: Any) -> None:
    _achievement(env)
    path = env.tmp / f"batch-{first}.jsonl"
    path.write_text("".join(json.dumps({"id": f"c-{i}", "subject": f"s{i}", "achievement": ACH,
                                        **extra}) + "\n"
                            for i in range(first, first + count)))
    env.ok("issue", "uni", "--key", str(env.uni_key), "--batch", str(path), "--out",
           str(env.out))


@pytest.fixture
def grown(env: Env) -> tuple[Env, Path, Path]:
    """A log of 300 entries (the issuer, its achievement, 298 credentials) whose checkpoint an
    audit saved, then grown to 707 entries (a level-1 tile and partial tiles on both sides of
    the saved size), with changes to credentials issued before it; published as tiles."""
    _batch(env, 1, 298)
    saved = env.tmp / "seen.checkpoint"
    env.ok("checkpoint")
    env.ok("audit", "--save-checkpoint", str(saved))
    _batch(env, 300, 400, parts=["c-7"])  # stacks a credential issued before the saved size
    key = ["--key", str(env.uni_key), "--out", str(env.out)]
    env.ok("revoke", "uni", "c-5", *key, "--reason", "issued-in-error")
    env.ok("suspend", "uni", "c-6", *key)
    env.ok("reinstate", "uni", "c-6", *key)
    env.ok("checkpoint")
    for n in range(700, 704):  # entries after the newest checkpoint, as a store may have
        _issue(env, f"c-{n}")
    tiles = env.tmp / "tiles"
    env.ok("export", "tiles", str(tiles))
    return env, saved, tiles


def test_audit_since_a_saved_checkpoint_checks_the_new_entries(
        grown: tuple[Env, Path, Path]) -> None:
    env, saved, tiles = grown
    size = env.size()
    assert json.loads(saved.read_text().split("\n")[1]) == 300
    data = env.json("audit", "--since", str(saved))
    assert (data["since"], data["new_entries"], data["entries"]) == (300, size - 300, size)
    assert data["rules_checked"] is True and data["consistent_to"] == 703
    assert (data["credentials"], data["revocations"], data["suspensions"],
            data["reinstatements"]) == (404, 1, 1, 1)
    full = env.json("audit")
    assert (data["root"], data["state_root"]) == (full["root"], full["state_root"])
    # From the published tiles: the new entries and their tiles, not their rules.
    result = env.ok("audit", "--tiles", str(tiles), "--log-key", env.log_vkey, "--since",
                    str(saved), "--save-checkpoint", str(env.tmp / "next.checkpoint"))
    assert "403 new entries of 703, after the saved checkpoint of size 300" in result.stdout
    assert "NOT checked: the rules and the status map of the new entries" in result.stderr
    data = env.json("audit", "--tiles", str(tiles), "--log-key", env.log_vkey, "--since",
                    str(saved))
    assert (data["since"], data["new_entries"], data["rules_checked"]) == (300, 403, False)
    with test_cli.read_ledger(env.store) as led:
        assert data["root"] == led.root_at(703).hex()
    # The next run starts where this one ended; nothing new is fine.
    data = env.json("audit", "--tiles", str(tiles), "--log-key", env.log_vkey, "--since",
                    str(env.tmp / "next.checkpoint"))
    assert (data["since"], data["new_entries"]) == (703, 0)
    for since in (str(saved), str(env.tmp / "next.checkpoint")):
        assert env.json("audit", "--since", since)["ok"] is True
    result = env.run("audit", "--since", str(saved), "--checkpoint", str(saved))
    assert result.exit_code == 2


def test_audit_since_a_checkpoint_the_log_does_not_extend_fails(
        grown: tuple[Env, Path, Path]) -> None:
    """A saved checkpoint (signed by the log key) that is not a prefix of the log: a forked
    history at its size, or a log rolled back below it. Exit 1, rule fork, store and tiles."""
    from ledger.keys import read_signer
    from ledger.note import Checkpoint, sign_checkpoint

    env, _, tiles = grown
    signer = read_signer(env.store / "keys" / "log.key")
    for size, root in ((300, bytes(range(32))), (5000, bytes(32)), (1, bytes(32))):
        forged = env.tmp / f"forged-{size}.checkpoint"
        forged.write_text(sign_checkpoint(Checkpoint(ORIGIN, size, root), signer))
        for where in ([], ["--tiles", str(tiles), "--log-key", env.log_vkey]):
            line = assert_error(env.run("audit", *where, "--since", str(forged)), 1)
            assert "fork:" in line and ("forked" in line or "rolled back" in line), line
    # A checkpoint the log key did not sign is refused as such.
    other = read_signer(env.key("x")[0])
    unsigned = env.tmp / "unsigned.checkpoint"
    unsigned.write_text(sign_checkpoint(Checkpoint("x", 300, bytes(32)), other))
    assert_error(env.run("audit", "--since", str(unsigned)), 1, match="saved checkpoint")


def test_audit_since_finds_a_tampered_new_entry(grown: tuple[Env, Path, Path]) -> None:
    from ledger.store import Store, u64
    from ledger.tiles import encode_bundle, parse_bundle

    env, saved, tiles = grown
    # In the published tiles: entry 500 (bundle 1 holds entries 256..511).
    path = tiles / "tile" / "entries" / "001"
    entries = parse_bundle(path.read_bytes(), 256)
    entries[500 - 256] = entries[500 - 256][:-1] + bytes([entries[500 - 256][-1] ^ 1])
    path.write_bytes(encode_bundle(entries))
    line = assert_error(env.run("audit", "--tiles", str(tiles), "--log-key", env.log_vkey,
                                "--since", str(saved)), 1)
    assert "entry 500" in line, line
    # In the store: the same change to entry 500.
    with Store(env.store) as store:
        store.write(lambda t: t.put("entries", u64(500), entries[500 - 256]))
    line = assert_error(env.run("audit", "--since", str(saved)), 1)
    assert "entry 500" in line, line


def test_audit_since_reads_the_prior_state_with_map_proofs(grown: tuple[Env, Path, Path]) -> None:
    """The records the new entries' rules need (c-5, revoked after the saved size) are read
    with map proofs against the saved state: a changed stored record is found."""
    from ledger.records import CRED, map_key
    from ledger.store import Store

    env, saved, _ = grown
    with test_cli.read_ledger(env.store) as led:
        proof, record = led.map_proof(map_key(CRED, "uni", _handle(env, "c-5")),
                                      led.entry(299).state_root)
    value = proof.value()
    assert value is not None and record is not None
    with Store(env.store) as store:
        store.write(lambda t: t.put("records", value, record[:-1] + bytes([record[-1] ^ 1])))
    line = assert_error(env.run("audit", "--since", str(saved)), 1)
    assert "map:" in line and "does not hash" in line, line


def test_prove_of_the_latest_checkpoint_never_waits_for_a_writer(env: Env) -> None:
    """prove and prove-all, when the latest checkpoint covers the log (nothing to sign), open
    the store read-only: while another process holds the write lock they answer at once and
    say nothing of waiting; once the log has grown they must sign, so they wait, and say so."""
    import time

    _issue(env, "c-1")
    env.ok("checkpoint")
    ids = env.tmp / "ids.txt"
    ids.write_text("c-1\n", encoding="utf-8")
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_BARE, str(env.store), "5"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        start = time.monotonic()
        procs = [_console_popen(["--dir", str(env.store), *args]) for args in (
            ["prove", "uni", "c-1", "--out", str(env.out), "-o", str(env.tmp / "b.json")],
            ["prove-all", "uni", str(ids), "--out-dir", str(env.tmp / "bundles"), "--out",
             str(env.out), "--json"])]
        done = [p.communicate(timeout=60) for p in procs]
        elapsed = time.monotonic() - start
    finally:
        holder.wait(timeout=60)
    assert elapsed < 3.5, elapsed
    for proc, (_, err) in zip(procs, done, strict=True):
        assert proc.returncode == 0, err
        assert "waiting for another writer" not in err
    assert json.loads(done[1][0])["checkpoint_signed"] is False
    _issue(env, "c-2")  # the log grows: a proof must now sign a checkpoint, as a writer
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_BARE, str(env.store), "3"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        proc = _console_popen(["--dir", str(env.store), "prove", "uni", "c-2", "--out",
                               str(env.out), "-o", str(env.tmp / "c2.json")])
        _, err = proc.communicate(timeout=60)
    finally:
        holder.wait(timeout=60)
    assert proc.returncode == 0 and "waiting for another writer" in err, err
    assert "signed a checkpoint of size 4" in err  # the issuer, cs201, c-1, c-2
