"""The documentation stays true to the code.

- docs/FORMAT.md's worked example is what ``docs/make_format_example.py`` generates now;
- every command README.md's command table names exists in ``ledger.cli``;
- every command's ``--help`` shows an example.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ledger.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SCRIPT = ROOT / "docs" / "make_format_example.py"


def test_format_example_is_current() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], cwd=ROOT, check=False,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (
        f"docs/FORMAT.md is stale or the example no longer builds "
        f"(run python docs/make_format_example.py --write):\n{result.stdout}\n{result.stderr}")


# ------------------------------------------------------------------------------ the command tree


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group under ``group``, as paths of names, depth first."""
    out: list[tuple[str, ...]] = []
    for name in sorted(group.commands):
        cmd = group.commands[name]
        out.append((*path, name))
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, (*path, name)))
    return out


def _resolve(words: list[str]) -> tuple[str, ...] | None:
    """The longest command path that ``words`` start with, or None if the first is no command.

    A group must be followed by one of its subcommands: ``key`` alone is not a command."""
    cmd: click.Command = cli
    path: list[str] = []
    for word in words:
        if not isinstance(cmd, click.Group) or word not in cmd.commands:
            break
        cmd = cmd.commands[word]
        path.append(word)
    if not path or isinstance(cmd, click.Group):
        return None
    return tuple(path)


def _readme_commands() -> list[str]:
    """The command column of README.md's command table: each cell's first code span, split at
    ``/`` alternatives (``revoke / suspend / reinstate ISSUER ...``)."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index("| command | what it does |")
    cells: list[str] = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        match = re.match(r"\|\s*`([^`]+)`", line)
        assert match, f"README.md command table: no command in {line!r}"
        cells.extend(alt.strip() for alt in match.group(1).split(" / "))
    return cells


README_COMMANDS = _readme_commands()


def test_readme_command_table_is_found() -> None:
    assert len(README_COMMANDS) >= 10, README_COMMANDS


@pytest.mark.parametrize("usage", README_COMMANDS)
def test_readme_command_exists(usage: str) -> None:
    words = usage.split()
    path = _resolve(words)
    assert path is not None, f"README.md names `{usage}`, but credledger has no such command"
    # What follows the command is its arguments and options, never another command word.
    rest = words[len(path):]
    assert not rest or not re.fullmatch(r"[a-z][a-z-]*", rest[0]), (
        f"README.md names `{usage}`: {' '.join(path)} has no subcommand {rest[0]!r}")


# ------------------------------------------------------------------------------ --help examples


def _get(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = cli
    for name in path:
        assert isinstance(cmd, click.Group)
        cmd = cmd.commands[name]
    return cmd


# Commands whose --help is known to lack an example, as {path: reason}: each is a strict xfail,
# so it fails as a reminder once the example lands and the entry must be removed. (The key,
# issuer and witness groups were here until their examples landed.)
NO_EXAMPLE_YET: dict[tuple[str, ...], str] = {}


@pytest.mark.parametrize("path", [
    pytest.param(p, id=" ".join(p),
                 marks=[pytest.mark.xfail(strict=True, reason=NO_EXAMPLE_YET[p])]
                 if p in NO_EXAMPLE_YET else [])
    for p in _commands(cli)
])
def test_help_has_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"credledger {' '.join(path)} --help shows no example"
