"""The documentation stays true to the code.

- docs/FORMAT.md's worked example is what ``docs/make_format_example.py`` generates now;
- every command README.md's command table names exists in ``ledger.cli``;
- every command's ``--help`` shows an example;
- docs/ARCHITECTURE.md's module table is the package's import graph, layered;
- the code cites documents of the repository, never one outside it.
"""

from __future__ import annotations

import ast
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


# ------------------------------------------------------------------------------ the architecture


ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
PACKAGE = ROOT / "ledger"


def _runtime_imports(path: Path) -> set[str]:
    """The package modules ``path`` imports at run time (anywhere in it, lazily too), not
    those imported only for type hints under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hints: set[int] = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.If) and isinstance(node.test, ast.Name)
                and node.test.id == "TYPE_CHECKING"):
            hints.update(id(n) for n in ast.walk(node))
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in hints:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "ledger":
                out |= {a.name for a in node.names if a.name != "__version__"}
            elif node.module.startswith("ledger."):
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("ledger.")}
    out.discard(path.stem)
    return out


def _documented_modules() -> dict[str, tuple[int, set[str]]]:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    table = text.split("<!-- modules:")[1].split("<!-- end of modules -->")[0]
    rows: dict[str, tuple[int, set[str]]] = {}
    for line in table.splitlines():
        m = re.fullmatch(r"\| `(\w+)` \| (\d) \| [^|]+ \|(.*)\|", line.strip())
        if m:
            rows[m[1]] = (int(m[2]), {x.strip() for x in m[3].split(",") if x.strip()})
    return rows


def test_the_architecture_table_is_the_import_graph() -> None:
    documented = _documented_modules()
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert set(documented) == modules, "docs/ARCHITECTURE.md lists other modules than ledger/"
    for name, (_, listed) in documented.items():
        actual = _runtime_imports(PACKAGE / f"{name}.py")
        assert actual == listed, f"{name}: imports {sorted(actual)}, the table says {sorted(listed)}"


def test_imports_flow_down_the_layers() -> None:
    documented = _documented_modules()
    for name, (layer, imports) in documented.items():
        for dep in imports:
            assert documented[dep][0] <= layer, f"{name} (layer {layer}) imports {dep} " \
                                                 f"(layer {documented[dep][0]})"


def test_the_checker_sees_lazy_imports_and_skips_type_hints(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from typing import TYPE_CHECKING\nfrom ledger import merkle\n"
                     "if TYPE_CHECKING:\n    from ledger.log import Ledger\n"
                     "def f():\n    import ledger.store\n    from ledger.events import pack\n")
    assert _runtime_imports(probe) == {"merkle", "store", "events"}


def test_the_code_cites_only_documents_of_the_repository() -> None:
    outside = re.compile(r"DESIGN(\.md)?\s*§|\.\./shared|shared/(DESIGN|STYLE)")
    for path in [*PACKAGE.glob("*.py"), *(ROOT / "tests").glob("*.py"),
                 *(ROOT / "docs").glob("*.md"), README]:
        if path.name == "test_docs.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not outside.search(line), f"{path.name}:{n} cites a document outside the " \
                                             f"repository: {line.strip()}"
