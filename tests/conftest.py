"""Fixtures shared by the test files: the CLI tests' real stores (``env``, a store with an issuer;
``bare``, an empty one), defined in tests/test_cli.py beside the ``Env`` helper they return."""

from test_cli import bare, env

__all__ = ["bare", "env"]
