"""Issue 15's conventions, tried as a user would, on real stores: ``-V``, ``--dir`` after the
command, ``--json`` everywhere (errors too, one shape), ``entry`` as JSON, ``NO_COLOR``, shell
completion, the note while another writer holds the store, ``audit --since``, and ``verify``
with several FILEs and their documents.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import test_cli
from click.testing import CliRunner
from test_cli import Env, assert_error

from ledger import __version__
from ledger.cli import cli

# test_cli's fixtures: a bare directory, a store with issuer uni, no CREDLEDGER_* variables.
bare, env, _no_env_dir = test_cli.bare, test_cli.env, test_cli._no_env_dir


def test_dash_v_is_the_version() -> None:
    for flag in ("-V", "--version"):
        result = CliRunner().invoke(cli, [flag])
        assert result.exit_code == 0, result.output
        assert result.stdout == f"credledger, version {__version__}\n"


# ----------------------------------------------------------------------------- --dir after


def _store_commands() -> list[tuple[str, ...]]:
    """Every command whose code opens the store (``open_ledger``, ``store_path``)."""
    import inspect

    out = []

    def walk(group: click.Group, path: tuple[str, ...]) -> None:
        for name, cmd in sorted(group.commands.items()):
            if isinstance(cmd, click.Group):
                walk(cmd, (*path, name))
            elif cmd.callback is not None:
                source = inspect.getsource(inspect.unwrap(cmd.callback))
                if "open_ledger(" in source or "store_path(" in source:
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
    ["consistency", "0"], ["backup", "{tmp}/backup"], ["prove", "uni", "c-1"],
    ["prove-all", "uni", "{tmp}/ids.txt", "--out-dir", "{tmp}/bundles"], ["audit"],
    ["export", "tiles", "{tmp}/tiles"], ["issuer", "retire", "uni"],
    ["issuer", "add", "x", "--key", "{vkey}"], ["issuer", "rotate", "uni", "--key", "{key}",
                                                   "--new-key", "{key}"],
    ["issuer", "revoke-key", "uni", "0123456789abcdef"],
    ["issue", "uni", "c-1", "--key", "{key}", "--subject", "s", "--title", "t",
     "--out", "{tmp}/out"],
    ["recover", "uni", "--out", "{tmp}/out"],
    ["revoke", "uni", "c-1", "--key", "{key}"], ["suspend", "uni", "c-1", "--key", "{key}"],
    ["reinstate", "uni", "c-1", "--key", "{key}"],
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
    env.issue("c-1")
    runner, store = env.runner, str(env.store)
    want = env.ok("status", "uni", "c-1").stdout
    for args, environ in (
        (["status", "uni", "c-1", "--dir", store], {}),
        (["status", "--dir", store, "uni", "c-1"], {}),
        (["--dir", store, "status", "uni", "c-1", "--dir", store], {}),  # the same twice
        (["status", "uni", "c-1"], {"CREDLEDGER_DIR": store}),
        (["status", "uni", "c-1", "--dir", store], {"CREDLEDGER_DIR": str(env.tmp / "x")}),
        (["--dir", store, "status", "uni", "c-1"], {"CREDLEDGER_DIR": str(env.tmp / "x")}),
    ):
        result = runner.invoke(cli, args, env=environ)
        assert (result.exit_code, result.stdout) == (0, want), (args, result.output)
    # Two different directories: a usage error, and nothing is opened.
    result = runner.invoke(cli, ["--dir", store, "status", "uni", "--dir", str(env.tmp / "x")])
    assert result.exit_code == 2, result.output
    assert "--dir is given twice" in result.stderr
    # Through the console script, as a user types it.
    proc = subprocess.run([sys.executable, "-m", "ledger", "status", "uni", "c-1", "--dir",
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
    assert {k: len(v) for k, v in FIELD_NAMES.items()} == _STATEMENT_FIELDS
    pdf = env.tmp / "c.pdf"
    pdf.write_bytes(b"%PDF-1.7 a certificate")
    env.issue("m-1")
    env.issue("c-1", "--expires", "2030-01-31", "--part", "m-1", "--attachment", str(pdf))
    title = 'it\'s "x" \u202eevil\tend'
    env.ok("issue", "uni", "c-2", "--key", str(env.uni_key), "--subject", "s", "--title", title,
           "--out", str(env.out))
    env.ok("suspend", "uni", "c-2", "--key", str(env.uni_key), "--reason", "a\tb \u2066c")
    new_key, _ = env.key("uni-2")
    env.ok("issuer", "rotate", "uni", "--key", str(env.uni_key), "--new-key", str(new_key))
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
        assert data["statement_fields"] == dict(zip(FIELD_NAMES[statement[0]], want,
                                                    strict=True))
        assert (data["signer"], data["signature"]) == (items[6].hex(), items[7].hex())
        kinds.add(data["kind"])
        human = env.ok("entry", str(index)).stdout
        for name in FIELD_NAMES[data["kind"]]:
            assert any(line.split()[0] == name for line in human.splitlines()), (name, human)
        assert not any(c in human for c in "\t\u202e\u2066"), human
    assert kinds == {"register-issuer", "issue", "suspend", "rotate-key", "retire-issuer"}
    human = env.ok("entry", "3").stdout  # the title, quoted and escaped, in one line
    assert 'title           "it\'s \\"x\\" \\u202eevil\\tend"\n' in human
    assert "valid through 2030-01-31" in env.ok("entry", "2").stdout
    result = env.run("entry", "0", "--raw", "--json")
    assert result.exit_code == 2 and not result.stdout_bytes
