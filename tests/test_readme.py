"""The README's whole story runs as it is written, in an empty directory, through the installed
``credledger`` console script, and says what the README says it says."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- story: tests/test_readme.py runs this block"


def story() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text[text.index(MARKER):]
    start = after.index("```sh\n") + len("```sh\n")
    return after[start:after.index("\n```", start)]


def test_the_story_is_found_and_makes_what_it_uses() -> None:
    script = story()
    assert "credledger init" in script and "credledger verify" in script
    # every variable the story reads, it sets (or is the shell's own)
    import re

    used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", script))
    made = set(re.findall(r"(?:^|\s|export\s)([A-Z][A-Z0-9_]*)=", script, re.MULTILINE))
    assert used <= made | {"PWD"}, used - made
    assert "./ledger" not in script.replace("never ./ledger", "")


def test_the_whole_story_runs(tmp_path: Path) -> None:
    bindir = Path(sys.executable).parent
    assert shutil.which("credledger", path=str(bindir)), \
        f"no credledger console script in {bindir}: install the package (pip install -e .)"
    bash = shutil.which("bash")
    assert bash is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDLEDGER_")}
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run([bash, "-euo", "pipefail", "-c", story()], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=240, check=False)
    out = result.stdout
    assert result.returncode == 0, f"{out}\n{result.stderr}"
    creds = tmp_path / "credentials" / "uni"
    import json

    c1, c4 = (json.loads((creds / f"cs-00{n}.json").read_text())["id"] for n in (1, 4))
    assert f"VALID      uni/{c1} 'Python 101', issued by Example University (uni)" in out
    assert "credential checked; holder 'ada@example.org' matches it" in out
    assert f"REVOKED    uni/{c4} 'Python 101'" in out and ": withdrawn;" in out
    assert "exit 1: not VALID" in out
    assert "audit OK (the store): 13 entries" in out and "audit OK (tiles at ./public)" in out
    assert "cosigned by w1.example" in out
    assert sorted(p.name for p in (tmp_path / "bundles").iterdir()) == [
        f"cs-00{i}.bundle.json" for i in range(1, 5)]
    assert (creds / "cs-001.json").stat().st_mode & 0o777 == 0o600
    # Nothing personal is published: not in the tiles (the log), not in a bundle.
    published = [p for d in ("public", "bundles") for p in (tmp_path / d).rglob("*")
                 if p.is_file()]
    published.append(tmp_path / "cs-001.bundle.json")
    for path in published:
        data = path.read_bytes()
        for private in (b"ada@example.org", b"edsger@example.org", b"cs-00"):
            assert private not in data, (path, private)
