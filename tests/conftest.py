"""Fixtures shared by the test files: the CLI tests' real stores (``env``, a store with an issuer;
``bare``, an empty one), defined in tests/test_cli.py beside the ``Env`` helper they return; and
``node``, the node binary with the interop tests' pinned npm packages (tests/interop/)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from test_cli import bare, env

__all__ = ["bare", "env", "node"]

INTEROP = Path(__file__).resolve().parent / "interop"
_INSTALLED = ("vc", "eddsa-rdfc-2022-cryptosuite", "vc-bitstring-status-list")


@pytest.fixture(scope="session")
def node() -> str:
    """The node binary, once tests/interop's pinned packages are installed (``npm ci``, from
    its package-lock.json); skips, saying why, where node or npm is missing or the packages
    cannot be installed (offline)."""
    node_bin, npm = shutil.which("node"), shutil.which("npm")
    if node_bin is None or npm is None:
        pytest.skip("node or npm is not installed: the independent verifier cannot run")
    markers = [INTEROP / "node_modules" / "@digitalbazaar" / name / "package.json"
               for name in _INSTALLED]
    if not all(m.exists() for m in markers):
        try:
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                                  cwd=INTEROP, capture_output=True, text=True, timeout=600,
                                  check=False)
        except subprocess.TimeoutExpired:
            pytest.skip("npm ci timed out: the pinned packages cannot be installed")
        if done.returncode != 0 or not all(m.exists() for m in markers):
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            pytest.skip(f"npm ci failed (offline?): {tail[0][:200]}")
    return node_bin
