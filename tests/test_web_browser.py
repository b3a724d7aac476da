"""The browser verifier in a real browser: the differential corpus of tests/web_corpus.py in
headless Chromium, from a file:// page, with the network off.

The browser is Debian's Chromium (``apt-get install chromium``: /usr/bin/chromium, or the path
in ``CREDLEDGER_CHROMIUM``), driven by Playwright for Python (the ``browser`` extra) through
``executable_path``: never a browser that Playwright downloads. ``.ci/run`` installs both when
it can; these tests skip, with the reason, where either is missing.

The page is built the way a page opened from a folder must be (ledger/web/README.md): Chromium refuses
module scripts from file://, so the page carries the modules' text (ledger/web/verifier/*.js and
ledger/web/test/corpus.mjs, verbatim) and ledger/web/loader.js imports them from data: URLs. The corpus rides
in the page as JSON. The browser context is offline, every request is recorded (and any but the
page's own aborted), and the page must make none: the verdicts come from the page alone.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import web_corpus

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "ledger" / "web"
CHROMIUM = os.environ.get("CREDLEDGER_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright import sync_api
    except ImportError as exc:  # absent, or installed without what it needs
        pytest.skip(f"Playwright for Python cannot be imported ({exc}): the browser extra, "
                    "pip install '.[browser]'")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set "
                    "CREDLEDGER_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return web_corpus.session_corpus(tmp_path_factory)


def embedded_page(modules: dict[str, str], script: str, data: dict[str, str] | None = None,
                  title: str = "credential-ledger verifier") -> str:
    """An HTML page that carries ``modules`` (path -> source, verbatim), ledger/web/loader.js, then
    the classic ``script``; ``data`` (id -> JSON text) rides in JSON script elements."""
    def checked(text: str, what: str) -> str:
        lowered = text.lower()
        for bad in ("</script", "<script", "<!--"):
            assert bad not in lowered, f"{what} holds {bad!r}: it would break the page"
        return text

    parts = ['<!doctype html>\n<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title>"]
    for path, source in modules.items():
        parts.append(f'<script type="text/x-module-source" data-path="{html.escape(path)}">'
                     f"{checked(source, path)}</script>")
    for ident, text in (data or {}).items():
        parts.append(f'<script type="application/json" id="{html.escape(ident)}">'
                     f"{text.replace('<', chr(92) + 'u003c')}</script>")
    loader = (WEB / "loader.js").read_text(encoding="utf-8")
    parts.append(f"<script>{checked(loader, 'loader.js')}</script>")
    parts.append(f"<script>{checked(script, 'the page script')}</script>")
    parts.append("</head><body></body></html>\n")
    return "\n".join(parts)


def _modules() -> dict[str, str]:
    files = [*sorted((WEB / "verifier").glob("*.js")), WEB / "test" / "corpus.mjs"]
    return {p.relative_to(WEB).as_posix(): p.read_text(encoding="utf-8") for p in files}


_READY = """window.verifier = loadEmbeddedModules("test/corpus.mjs").then(
  (m) => { window.corpusModule = m; return "ready"; },
  (e) => "failed: " + (e && e.stack ? e.stack : e));"""

_RUN = """async () => {
  const cases = JSON.parse(document.getElementById("corpus").textContent);
  const out = await window.corpusModule.runCorpus(cases);
  out.engine = navigator.userAgent;
  out.rawEd25519 = await window.corpusModule.rawEd25519(cases);
  return JSON.stringify(out);
}"""


def test_chromium_gives_the_python_verdict_on_every_case_offline(
        browser: Any, corpus: list[dict[str, Any]], tmp_path: Path) -> None:
    page_file = tmp_path / "corpus.html"
    page_file.write_text(embedded_page(_modules(), _READY,
                                       {"corpus": json.dumps(web_corpus.inputs(corpus))}),
                         encoding="utf-8")
    url = page_file.as_uri()
    context = browser.new_context(offline=True, service_workers="block")
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    context.route("**/*", lambda route: route.continue_() if route.request.url == url
                  else route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(url)
        assert page.evaluate("window.verifier") == "ready", errors
        assert page.evaluate("isSecureContext") and page.evaluate("location.protocol") == "file:"
        out = json.loads(page.evaluate(_RUN))
    finally:
        context.close()
    problems = web_corpus.compare(corpus, out["results"])
    print(f"{out['engine']}: {web_corpus.summary(corpus)}; {len(problems)} differ; "
          f"{out['ms']} ms")
    assert not problems, f"{len(problems)} of {len(corpus)} cases differ:\n" + \
        "\n".join(problems[:30])
    raw = web_corpus.raw_ed25519_differences(corpus, out["rawEd25519"])
    print(f"WebCrypto's Ed25519 alone differs from the ledger's rule on {len(raw)} of "
          f"{len(out['rawEd25519'])} cases: {raw}")
    assert requests == [url], f"the page made requests: {requests[:10]}"
    assert not errors, errors


def test_a_page_from_file_cannot_import_modules_directly(browser: Any, tmp_path: Path) -> None:
    """Why ledger/web/loader.js exists: the plain way, a module script importing
    ./verifier/index.js, fails from file:// in Chromium."""
    (tmp_path / "verifier").mkdir()
    for p in (WEB / "verifier").glob("*.js"):
        (tmp_path / "verifier" / p.name).write_bytes(p.read_bytes())
    page_file = tmp_path / "direct.html"
    page_file.write_text('<!doctype html><meta charset="utf-8"><script type="module">'
                         'import { sha256 } from "./verifier/index.js"; window.loaded = true;'
                         "</script>", encoding="utf-8")
    context = browser.new_context(offline=True)
    page = context.new_page()
    try:
        page.goto(page_file.as_uri())
        page.wait_for_load_state("load")
        assert page.evaluate("window.loaded === undefined")
    finally:
        context.close()
