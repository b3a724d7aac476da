"""The verifier page (issue 17): one self-contained HTML file that checks a holder's credential
and proof bundle in the browser, offline, with the same verdicts as ``credledger verify``
(docs/ARCHITECTURE.md, "The verifier in the browser").

:func:`build_page` writes it from the package's ``web/`` files: the style sheet, the page's
and the verifier's ES modules as text (``text/x-module-source``, each named by its path) and
the loader that turns them into modules from ``data:`` URLs (a page opened from ``file://``
cannot import module files), and the trust it starts with: the log's verifier key and the
witness policy, as JSON. Nothing is transformed: each file is copied in verbatim, and one
that holds what would end or escape its element (a script tag, an HTML comment's opening) is
refused. The page fetches nothing: its Content-Security-Policy forbids every connection.
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from typing import Any

from ledger.errors import UsageError

PAGE_MODULES = ("page/page.js", "page/files.js")
"""The page's own modules (the entry module first); the verifier's are all of verifier/."""

_UNSAFE = re.compile(r"<\s*/?\s*script|<!--", re.IGNORECASE)


def _web() -> Any:
    return resources.files("ledger") / "web"


def _text(path: str) -> str:
    text = (_web() / path).read_text(encoding="utf-8")
    if _UNSAFE.search(text):
        raise UsageError(f"web/{path} holds a script tag or an HTML comment's opening: it "
                         "cannot be carried in a page")
    return text


def module_paths() -> list[str]:
    """Every module the page carries: its own, then the verifier's, by path."""
    verifier = sorted(f"verifier/{p.name}" for p in (_web() / "verifier").iterdir()
                      if p.name.endswith(".js"))
    return [*PAGE_MODULES, *verifier]


def build_page(*, origin: str, log_vkey: str, witnesses: tuple[str, ...] = (),
               min_witnesses: int = 0) -> str:
    """The page's HTML for the log of ``origin`` whose verifier key is ``log_vkey``, with the
    witness policy (cosigner keys, and how many must have cosigned) it starts with."""
    config = json.dumps({"origin": origin, "logKey": log_vkey, "witnesses": list(witnesses),
                         "minWitnesses": min_witnesses}, ensure_ascii=True)
    config = config.replace("<", "\\u003c")  # JSON that can never end its element
    modules = "\n".join(
        f'<script type="text/x-module-source" data-path="{html.escape(path)}">\n'
        f"{_text(path)}</script>" for path in module_paths())
    values = {"STYLE": _text("page/style.css"), "CONFIG": config, "MODULES": modules,
              "LOADER": _text("loader.js"), "ORIGIN": html.escape(origin)}
    template = (_web() / "page" / "page.html").read_text(encoding="utf-8")
    # One pass: a marker's value is never searched for markers itself.
    return re.sub(r"\{\{([A-Z]+)\}\}", lambda m: values[m[1]], template)
