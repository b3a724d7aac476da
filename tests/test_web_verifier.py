"""The browser verifier's modules (ledger/web/verifier/) give the Python code's verdicts, in node.

The differential corpus of tests/web_corpus.py (thousands of cases: canonical msgpack and every
byte-mutation kind of tests/test_fuzz.py, RFC 9162 proofs, status-map proofs from real stores,
every Wycheproof and speccheck Ed25519 vector, key strings, signed notes, checkpoints and
cosignatures, valid and tampered) goes through the JavaScript modules in node
(ledger/web/test/node-runner.mjs); every case must be accepted with the same value, or refused by the
same check, as the Python code. tests/test_web_browser.py runs the same corpus in Chromium.

Skipped, with the reason, where node (20 or later, for WebCrypto's Ed25519) is missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ledger import ldloader
import web_corpus

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "ledger" / "web"
MODULES = sorted((WEB / "verifier").glob("*.js"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return web_corpus.session_corpus(tmp_path_factory)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the JavaScript verifier cannot run here")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=60,
                             check=False).stdout.strip()
    match = re.fullmatch(r"v(\d+)\..*", version)
    if match is None or int(match[1]) < 20:
        pytest.skip(f"node {version or '(unknown version)'} is older than 20, whose WebCrypto "
                    "has Ed25519")
    return node


def test_the_corpus_holds_every_check_and_every_mutation_kind(corpus: list[dict[str, Any]]
                                                               ) -> None:
    assert len(corpus) >= 500, web_corpus.summary(corpus)
    seen = {c["expect"]["check"] for c in corpus}
    assert web_corpus.every_check() <= seen, web_corpus.every_check() - seen
    ids = {c["id"] for c in corpus}
    for op in range(12):  # tests/test_fuzz.py's byte-mutation kinds, each forced in turn
        assert any(i.startswith(f"msgpack/mutate-bytes-op{op}-") for i in ids), op
    for op in range(13):  # and its text-mutation kinds, on signed notes
        assert any(i.startswith(f"note/mutate-text-op{op}-") for i in ids), op
    vectors = [c for c in corpus if re.match(r"ed25519/(wycheproof|speccheck)-", c["id"])]
    assert len(vectors) == 151 + 10
    for domain in ("msgpack", "inclusion", "consistency", "map", "note", "witness"):
        verdicts = {c["expect"]["ok"] for c in corpus if c["domain"] == domain}
        assert verdicts == {True, False}, domain


def test_node_gives_the_python_verdict_on_every_case(corpus: list[dict[str, Any]],
                                                     tmp_path: Path) -> None:
    node = _node()
    cases_file, results_file = tmp_path / "corpus.json", tmp_path / "results.json"
    cases_file.write_text(json.dumps(web_corpus.inputs(corpus)), encoding="utf-8")
    done = subprocess.run([node, str(WEB / "test" / "node-runner.mjs"), str(cases_file),
                           str(results_file)], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(results_file.read_text(encoding="utf-8"))
    problems = web_corpus.compare(corpus, out["results"])
    print(f"{out['engine']}: {web_corpus.summary(corpus)}; {len(problems)} differ; "
          f"{out['ms']} ms")
    assert not problems, f"{len(problems)} of {len(corpus)} cases differ:\n" + \
        "\n".join(problems[:30])
    # What the byte checks add: WebCrypto alone differs from the ledger only where they refuse.
    raw = web_corpus.raw_ed25519_differences(corpus, out["rawEd25519"])
    print(f"WebCrypto's Ed25519 alone differs from the ledger's rule on {len(raw)} of "
          f"{len(out['rawEd25519'])} cases: {raw}")


def test_web_readme_names_every_check() -> None:
    text = (WEB / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([a-z0-9]+\.[a-z0-9-]+)`", text))
    assert web_corpus.every_check() | {"ed25519.unsupported"} <= named
    in_code = set()
    for path in MODULES:
        in_code |= set(re.findall(r'VerifyError\(\s*"([a-z0-9]+\.[a-z0-9-]+)"',
                                  path.read_text(encoding="utf-8")))
        in_code |= set(re.findall(r'fail\(\s*"([a-z0-9]+\.[a-z0-9-]+)"', path.read_text(
            encoding="utf-8")))
        in_code |= set(re.findall(r'(?:noteError|checkpointError)\(\s*"([a-z0-9]+\.[a-z0-9-]+)"',
                                  path.read_text(encoding="utf-8")))
    assert in_code - {"msgpack.value"} <= named, in_code - named


PINNED_IRIS = frozenset(ldloader.PINNED)


def test_the_modules_fetch_nothing_and_import_only_each_other() -> None:
    """No request at run time, no third-party code, no build step: the modules import each
    other by literal relative paths (what ledger/web/loader.js resolves), and nothing else."""
    sources = [*MODULES, WEB / "loader.js", WEB / "test" / "corpus.mjs"]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for banned in ("fetch(", "XMLHttpRequest", "WebSocket", "EventSource", "sendBeacon",
                       "importScripts", "eval(", "new Function"):
            assert banned not in text, f"{path.name} uses {banned}"
        # A URL only as an identifier compared, never fetched: the context IRIs the ledger pins
        # (a credential's @context must be exactly these).
        for url in re.findall(r"https?://[a-z0-9][^\s\"'`]*", text):
            assert url in PINNED_IRIS, f"{path.name} names a URL: {url}"
        # What would end or escape the element a page embeds the module in (ledger/web/loader.js).
        assert not re.search(r"<!--|</?script", text, re.IGNORECASE), path.name
        if path.suffix in (".js", ".mjs") and path.name != "loader.js":
            for spec in re.findall(r'^\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"', text,
                                   re.MULTILINE | re.DOTALL):
                assert spec.startswith(("./", "../")), f"{path.name} imports {spec}"
                assert (path.parent / spec).resolve().is_file(), f"{path.name} imports {spec}"
            assert "import(" not in text, f"{path.name} imports at run time"
