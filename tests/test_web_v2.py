"""The browser verifier's entry format 2 modules (ledger/web/verifier/events.js, json.js, bundle.js,
credential.js, verify.js) against the Python code, case by case: the differential corpus of
tests/web_v2_corpus.py (a real store of every answer, its bundles and credentials, tampered
every way) run in node (20 or later) must give, for every case, Python's answer, value
(``Verdict.as_dict()`` for a verification) and failed check. Skips without node."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import web_v2_corpus
from web_v2_world import build_world

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "ledger" / "web"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

ANSWERS = {"VALID", "REVOKED", "SUSPENDED", "EXPIRED", "KEY COMPROMISED", "NOT FOUND"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("web-v2")
    world = build_world(tmp)
    try:
        cases = web_v2_corpus.Corpus(world).build()
    finally:
        world.ledger.close()
    corpus, results = tmp / "corpus.json", tmp / "results.json"
    corpus.write_text(json.dumps([{k: c[k] for k in ("id", "domain", "input")} for c in cases]))
    subprocess.run([NODE, str(WEB / "test" / "v2-runner.mjs"), str(corpus), str(results)],
                   check=True, timeout=120)
    got = json.loads(results.read_text())
    return cases, {r["id"]: r for r in got["results"]}


def _differences(cases: list[dict[str, Any]], results: dict[str, Any]) -> list[str]:
    out = []
    for c in cases:
        want, got = c["expect"], results[c["id"]]
        if (want["ok"], want["check"], want["value"]) != (got["ok"], got["check"], got["value"]):
            shown = {k: want.get(k) for k in ("ok", "check", "message")}
            if want["ok"] and got["ok"]:
                shown["value"] = want["value"]
                got = dict(got)
            out.append(f"{c['id']}: python {json.dumps(shown)[:600]}\n    js {json.dumps(got)[:600]}")
    return out


def test_the_modules_give_pythons_verdict_on_every_case(run: Any) -> None:
    cases, results = run
    assert len(cases) >= 500
    differences = _differences(cases, results)
    assert not differences, f"{len(differences)} of {len(cases)} cases differ:\n" + \
        "\n".join(differences[:40])


def test_the_corpus_holds_every_answer_and_many_checks(run: Any) -> None:
    cases, _ = run
    answers = {c["expect"]["value"]["answer"] for c in cases
               if c["domain"] == "verify" and c["expect"]["ok"]}
    answers |= {a["answer"] for c in cases if c["domain"] == "verify" and c["expect"]["ok"]
                for a in c["expect"]["value"]["credentials"]}
    assert ANSWERS <= answers
    checks = Counter(c["expect"]["check"] for c in cases if not c["expect"]["ok"])
    print(f"{len(cases)} cases; refused: {sum(checks.values())}; checks: {dict(sorted(checks.items()))}")
    assert len(checks) >= 60


def test_the_readme_names_every_check() -> None:
    readme = (WEB / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([a-z0-9]+\.[a-z0-9-]+)`", readme))
    missing = web_v2_corpus.every_check() - named
    assert not missing, sorted(missing)


def test_the_new_modules_import_only_each_other() -> None:
    for name in ("events", "json", "bundle", "credential", "verify"):
        text = (WEB / "verifier" / f"{name}.js").read_text(encoding="utf-8")
        for spec in re.findall(r'^import .* from "([^"]+)";$', text, re.M):
            assert re.fullmatch(r"\./[a-z0-9]+\.js", spec), (name, spec)
        assert "fetch(" not in text and "XMLHttpRequest" not in text
        assert "<script" not in text.lower() and "</script" not in text.lower() and "<!--" not in text
