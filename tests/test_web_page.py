"""Issue 17's must-shows: the page ``credledger export`` writes, opened from ``file://`` in
headless Chromium with networking off, gives the verdict of the Python verifier:

- on every case of the entry format 2 differential corpus (tests/web_v2_corpus.py: real
  bundles and credentials of every answer, and tampered ones of every kind), run through the
  page's own modules as the page loaded them, compared field by field with
  ``Verdict.as_dict()`` and the failed check;
- through the page's form, as a user gives it files: the demo's holders' credentials and
  bundles, each answered as ``credledger verify --json`` answers it;

and it makes no request but its own load. The page's size and its time to verify one bundle
are printed (``pytest -s``), and its screenshot is written where ``CREDLEDGER_SCREENSHOT``
says (the README's, docs/verifier-page.png). Debian's Chromium through Playwright for Python,
as tests/test_web_browser.py drives it; skips without them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import web_v2_corpus
from click.testing import CliRunner
from test_web_browser import browser  # noqa: F401 - the shared fixture
from test_web_v2 import _differences
from web_v2_world import build_world

from ledger.cli import cli
from ledger.log import Ledger
from ledger.webpage import build_page

# The page's modules run the corpus as ledger/web/test/v2-runner.mjs runs it in node.
_RUN = """async (cases) => {
  const v = window.credledgerVerifier;
  const bytes = (hex) => v.fromHex(hex);
  const tag = (value) => JSON.parse(JSON.stringify(value, (k, x) =>
    typeof x === "bigint" ? (x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x.toString())
    : x instanceof Uint8Array ? {hex: v.toHex(x)} : x));
  const RUN = {
    async verify(i) {
      const credentials = i.credentials.map((c) => v.parseCredential(bytes(c)));
      const trust = {};
      if ("log_key" in i) trust.logKey = await v.parseVerifier(i.log_key);
      if ("root" in i) { trust.root = bytes(i.root); trust.size = BigInt(i.size); }
      const witnesses = [];
      for (const w of i.witnesses ?? []) witnesses.push(await v.parseCosigner(w));
      const verdict = await v.verifyBundle(bytes(i.bundle), {
        ...trust, at: i.at, credentials, subject: i.subject ?? null, witnesses,
        minWitnesses: i.min_witnesses ?? 0, maxAgeMs: i.max_age_ms ?? null,
      });
      return v.verdictAsDict(verdict);
    },
  };
  const started = performance.now();
  const results = [];
  for (const c of cases) {
    try {
      results.push({id: c.id, ok: true, check: null, value: await RUN[c.domain](c.input)});
    } catch (exc) {
      results.push(exc instanceof v.VerifyError
        ? {id: c.id, ok: false, check: exc.check, value: null, message: exc.message}
        : {id: c.id, ok: false, check: `crash: ${exc && exc.stack ? exc.stack : exc}`,
           value: null});
    }
  }
  return JSON.stringify({results, ms: performance.now() - started});
}"""


def _open(browser: Any, page_file: Path) -> tuple[Any, Any, list[str], list[str]]:  # noqa: F811
    """The page from file://, offline: every request but its own load is refused, and seen."""
    url = page_file.as_uri()
    context = browser.new_context(offline=True, service_workers="block",
                                  viewport={"width": 720, "height": 1100})
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    context.route("**/*", lambda route: route.continue_() if route.request.url == url
                  else route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    page.wait_for_function("() => document.documentElement.dataset.ready === 'true'",
                           timeout=20_000)
    assert page.evaluate("location.protocol") == "file:"
    return context, page, requests, errors


@pytest.fixture(scope="module")
def world_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[Any]]]:
    tmp = tmp_path_factory.mktemp("web-page")
    world = build_world(tmp)
    try:
        cases = web_v2_corpus.Corpus(world).build()
        page = tmp / "verify.html"
        page.write_text(build_page(origin=world.ledger.origin, log_vkey=world.log_vkey),
                        encoding="utf-8")
    finally:
        world.ledger.close()
    yield page, [c for c in cases if c["domain"] == "verify"]


def test_the_exported_page_gives_pythons_verdict_on_every_bundle(
        browser: Any, world_page: tuple[Path, list[Any]]) -> None:  # noqa: F811
    page_file, cases = world_page
    assert len(cases) >= 500
    context, page, requests, errors = _open(browser, page_file)
    try:
        out = json.loads(page.evaluate(
            _RUN, [{k: c[k] for k in ("id", "domain", "input")} for c in cases]))
    finally:
        context.close()
    results = {r["id"]: r for r in out["results"]}
    problems = _differences(cases, results)
    answers = sorted({str(c["expect"]["value"]["answer"]) for c in cases if c["expect"]["ok"]})
    print(f"the exported page: {len(cases)} bundles and credentials, answers {answers}, "
          f"{sum(not c['expect']['ok'] for c in cases)} refused; {len(problems)} differ; "
          f"{out['ms']:.0f} ms; page {page_file.stat().st_size:,} bytes")
    assert not problems, f"{len(problems)} of {len(cases)} differ:\n" + "\n".join(problems[:20])
    assert not errors, errors
    assert requests == [page_file.as_uri()], requests[:10]


# ------------------------------------------------------------------------- through the form


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo's store, credentials and bundles (``credledger demo --keep``), and its page."""
    work = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(cli, ["demo", "--keep", str(work)])
    assert result.exit_code == 0, result.output
    with Ledger.open(work / "store", readonly=True) as ledger:
        vkey = ledger.log_vkey()
    return {"work": work, "vkey": vkey, "page": work / "site" / "verify.html"}


def _cli_answer(demo: dict[str, Any], files: list[Path], subject: str | None) -> str:
    cred, bundle = files
    args = ["verify", str(cred), "--bundle", str(bundle), "--log-key", demo["vkey"], "--json"]
    if subject is not None:
        args += ["--subject", subject]
    result = CliRunner().invoke(cli, args)
    return str(json.loads(result.stdout)["answer"])


def _form_answer(page: Any, files: list[Path], subject: str | None) -> tuple[str, float, str]:
    page.reload()
    page.wait_for_function("() => document.documentElement.dataset.ready === 'true'")
    page.set_input_files("#files", [str(f) for f in files])
    page.wait_for_function(
        f"() => document.querySelectorAll('#file-list li').length === {len(files)}")
    page.fill("#subject", subject or "")
    page.click("#check")
    page.wait_for_function("() => document.getElementById('result').dataset.ms !== undefined")
    result = page.locator("#result")
    return (str(result.get_attribute("data-answer")), float(result.get_attribute("data-ms")),
            result.inner_text())


def test_the_form_answers_as_credledger_verify(
        browser: Any, demo: dict[str, Any]) -> None:  # noqa: F811
    work = demo["work"]
    creds = work / "credentials" / "uni"
    cases = [
        ([creds / "cs-001.json", work / "cs-001.bundle.json"], "ada@example.org", "VALID"),
        ([creds / "cs-001.json", work / "cs-001.bundle.json"], None, "VALID"),
        ([creds / "cs-004.json", work / "cs-004.bundle.json"], None, "REVOKED"),
        ([creds / "cs-010.json", work / "cs-010.bundle.json"], None, "SUSPENDED"),
        ([creds / "cs-cert.json", work / "stack.bundle.json"], None, "VALID"),
        ([work / "forged.json", work / "cs-001.bundle.json"], None, "INVALID"),
        ([creds / "cs-001.json", work / "cs-001.bundle.json"], "mallory@example.org", "INVALID"),
    ]
    context, page, requests, errors = _open(browser, demo["page"])
    timings = []
    try:
        for files, subject, want in cases:
            got, ms, text = _form_answer(page, files, subject)
            assert got == want, (files, subject, text)
            assert _cli_answer(demo, files, subject) == want, (files, subject)
            timings.append(ms)
        shot = os.environ.get("CREDLEDGER_SCREENSHOT")
        got, _, text = _form_answer(page, cases[0][0], cases[0][1])
        assert got == "VALID" and "ada@example.org" in text and "Programming I" in text, text
        if shot:
            page.screenshot(path=shot, full_page=True)
    finally:
        context.close()
    size = demo["page"].stat().st_size
    print(f"the page: {size:,} bytes; one credential and its bundle verified through the form "
          f"in {sorted(timings)[len(timings) // 2]:.0f} ms (median of {len(timings)}; "
          f"{min(timings):.0f}-{max(timings):.0f})")
    assert not errors, errors
    assert set(requests) == {demo["page"].as_uri()}, requests[:10]
