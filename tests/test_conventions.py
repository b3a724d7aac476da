"""Issue 15's conventions, tried as a user would, on real stores: ``-V``, ``--dir`` after the
command, ``--json`` everywhere (errors too, one shape), ``entry`` as JSON, ``NO_COLOR``, shell
completion, the note while another writer holds the store, ``audit --since``, and ``verify``
with several FILEs and their documents.
"""

from __future__ import annotations

from click.testing import CliRunner
from test_cli import Env, _no_env_dir, assert_error, bare, env  # noqa: F401  (fixtures)

from ledger import __version__
from ledger.cli import cli


def test_dash_v_is_the_version() -> None:
    for flag in ("-V", "--version"):
        result = CliRunner().invoke(cli, [flag])
        assert result.exit_code == 0, result.output
        assert result.stdout == f"credledger, version {__version__}\n"
