"""Fuzzing every decoder of untrusted input: only LedgerError comes out, and what is accepted is
well-formed.

For each decoder (a *target* below) two kinds of input are generated:

1. structure-aware mutants of valid inputs built with the real APIs: bit flips, byte and
   character inserts, deletes, truncations, splices with other valid inputs; inside msgpack
   values and JSON documents, values replaced by other types, huge numbers, deep nesting,
   duplicate keys and very long strings; base64 fields decoded, changed and re-encoded
   canonically so that the change reaches the signature and proof checks; entries re-signed
   after their statement was changed, so that the rules behind the signature are reached;
2. raw random bytes or text (and token soups of the format's own symbols).

Each input must either be refused with a :class:`~ledger.errors.LedgerError` or be accepted as
something well-formed: re-encoding gives the same bytes where the API can re-encode, and what
verifies under a trusted key or root is what was really signed (the honest answer, entry,
checkpoint or map value). Nothing else may escape: no TypeError, ValueError, KeyError,
IndexError, RecursionError, UnicodeError, OverflowError, struct.error, binascii.Error, ... .
Command-line targets must exit non-zero with exactly one ``credledger: error:`` line, never a
traceback and never an ``internal error`` (which is how the CLI reports an escaped exception).

Bugs found by fuzzing are kept at the end of this file as regression tests (all fixed, most
in 529e8d0). While a bug is open it is pinned by a minimal reproducer marked
``xfail(strict=True, reason="BUG: ...")`` and a :data:`BUGS` entry: the generic fuzz tests
tolerate exactly the exceptions of a pinned bug, and only while its reproducer still reproduces
it (the pattern of tests/test_events.py), so they keep guarding everything else meanwhile.

How to run
----------
Quick (the default, part of the suite; about 15 s, derandomized so CI is stable)::

    .venv/bin/python -m pytest tests/test_fuzz.py

Long (opt-in; at least 100,000 inputs per target from a plain random-mutation loop with a fixed
seed, plus the Hypothesis tests with 10x the examples and derandomize off; one process)::

    CREDLEDGER_FUZZ_LONG=1 .venv/bin/python -m pytest tests/test_fuzz.py -s

Knobs for the long run: ``CREDLEDGER_FUZZ_INPUTS`` (inputs per target, default 100000),
``CREDLEDGER_FUZZ_SEED`` (the loop's seed, default 20260101), ``CREDLEDGER_FUZZ_ONLY``
(comma-separated target names), ``CREDLEDGER_FUZZ_REPORT`` (a file that gets one JSON line per
target: inputs, seconds, outcome counts, slowest input). The loop prints the same per target
with ``-s``. Run only the loop with ``-k long_run``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import os
import random
import re
import shutil
import string
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgpack
import pytest
import statements as tst
from click.testing import CliRunner, Result
from holders import issue_statement, make_credential
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from statements import handle, named

from ledger import merkle, smt
from ledger.batchfile import parse_date, read_batch
from ledger.bundle import BUNDLE_FORMAT, Bundle, build_bundle, dump_bundle, parse_bundle
from ledger.cli import cli
from ledger.errors import EncodingError, LedgerError
from ledger.events import (
    ISSUE,
    REGISTER_ISSUER,
    REINSTATE,
    RETIRE_ISSUER,
    REVOKE,
    REVOKE_KEY,
    ROTATE_KEY,
    SIGN_CONTEXT,
    SUSPEND,
    decode_entry,
    decode_statement,
    key_id,
    make_statement,
    pack,
    sign_statement,
    unpack_array,
)
from ledger.holder import pending_line, pending_record
from ledger.log import Ledger
from ledger.note import (
    Checkpoint,
    Signer,
    format_note,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_note,
    parse_signer,
    parse_verifier,
    sign_checkpoint,
    sign_note,
)
from ledger.openbadges import CREDENTIAL_TYPE
from ledger.openbadges import parse_credential as parse_holder_document
from ledger.records import decode_record, map_key, record_hash
from ledger.tileaudit import audit_tiles
from ledger.tiles import encode_bundle, export_tiles, parse_tile
from ledger.tiles import parse_bundle as parse_entry_bundle
from ledger.tlogproof import TlogProof, check_tlog_proof, parse_tlog_proof
from ledger.verify import (
    EXPIRED,
    NOT_FOUND,
    REVOKED_ANSWER,
    SUSPENDED_ANSWER,
    VALID,
    verify_bundle,
)
from ledger.verifycmd import CommandError, parse_duration
from ledger.witness import (
    Witness,
    WitnessKey,
    add_cosignature,
    check_witness_policy,
    cosignature_times,
    merge_cosignatures,
    parse_cosigner,
    parse_witness_key,
)

# ------------------------------------------------------------------------------ configuration

LONG = os.environ.get("CREDLEDGER_FUZZ_LONG", "") not in ("", "0")
LONG_INPUTS = int(os.environ.get("CREDLEDGER_FUZZ_INPUTS", "100000"))
LONG_SEED = os.environ.get("CREDLEDGER_FUZZ_SEED", "20260101")
ONLY = {n for n in os.environ.get("CREDLEDGER_FUZZ_ONLY", "").split(",") if n}
REPORT = os.environ.get("CREDLEDGER_FUZZ_REPORT")
SCALE = 10 if LONG else 1
"""Hypothesis examples are multiplied by this in the long run."""

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in UTC milliseconds
DAY = 86_400_000
AT = T0 + 30 * DAY  # when bundles are verified: after every entry, before c1 expires
ORIGIN = "fuzz.example/log"
MAX_INPUT = 20 << 20  # mutants are cut to 20 MiB: above every size limit (16 MiB bundles)


def _hypothesis(examples: int) -> settings:
    return settings(max_examples=max(1, examples * SCALE), deadline=None, database=None,
                    derandomize=not LONG, print_blob=True,
                    suppress_health_check=list(HealthCheck))


def _seed32(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


# ------------------------------------------------------------------------------ known bugs
#
# Each bug found by this file has a minimal reproducer (in _REPRODUCERS, near its regression
# test at the end of the file) and a matcher for the exceptions or CLI error lines it
# causes. ``_bug_of`` names the bug an escaped exception belongs to, but only while the
# reproducer still reproduces it: a fixed bug is tolerated nowhere, so a regression fails.
#
# The events.py bugs that were being fixed while this file was written (an unhashable statement
# kind, ~1,000-deep nested arrays, lone surrogates in text, small-order keys) no longer
# reproduce (commit 5cabd19); they get no tolerance here, and their inputs are explicit
# examples below (_event_examples, _BATCH_EXAMPLES), so a regression fails these tests too.


def _reproduces(fn: Callable[[], object], exc: type[BaseException] | tuple[type[BaseException],
                ...]) -> bool:
    try:
        fn()
    except exc:
        return True
    except Exception:  # noqa: BLE001 - another exception: not this bug
        return False
    return False


def _frames(exc: BaseException) -> set[str]:
    return {frame.f_code.co_name for frame, _ in traceback.walk_tb(exc.__traceback__)}


@dataclass(frozen=True)
class Bug:
    name: str
    exc: tuple[type[BaseException], ...]
    frame: str  # functions (space-separated), one of which the traceback passes through
    cli: tuple[str, ...] = ()  # the CLI's "internal error (<Exception>" lines for this bug
    commands: tuple[str, ...] = ()  # the CLI commands that reach it
    multiline: str = ""  # for a bug that splits the one error line: how that line starts

    def matches(self, exc: BaseException) -> bool:
        return isinstance(exc, self.exc) and bool(set(self.frame.split()) & _frames(exc))


def _deep_batch(tmp: Path) -> object:
    path = tmp / "deep.jsonl"
    path.write_bytes(b"[" * 50_000 + b"\n")
    return list(read_batch(str(path)))


BUGS: dict[str, Bug] = {bug.name: bug for bug in (
    Bug("batch-deep-json", (RecursionError,), "read_batch",
        ("internal error (RecursionError",), ("issue",)),
    Bug("date-overflow", (OverflowError,), "parse_date",
        ("internal error (OverflowError",), ("issue",)),
    Bug("duration-unicode-digit", (ValueError,), "parse_duration",
        ("internal error (ValueError",), ("verify",)),
    Bug("witness-state", (TypeError, KeyError, ValueError), "cosign"),
    Bug("witness-state-deep", (RecursionError,), "state"),
    Bug("recover-non-utf8", (UnicodeDecodeError,), "recover",
        ("internal error (UnicodeDecodeError",), ("recover",)),
    Bug("recover-deep-json", (RecursionError,), "recover",
        ("internal error (RecursionError",), ("recover",)),
    Bug("cli-utf8-files", (UnicodeDecodeError,), "read_text",
        ("internal error (UnicodeDecodeError",), ("checkpoint", "witness")),
    Bug("surrogate-id-lookup", (UnicodeEncodeError,), "map_key cred_index_prefix",
        ("internal error (UnicodeEncodeError",), ("recover",)),
    Bug("verify-doc-text-in-error", (), "", (), ("verify",),
        "credledger: error: the bundle does not verify: a document for "),
)}

_ACTIVE: dict[str, bool] = {}


def _bug_active(name: str, corpus: Corpus | None = None) -> bool:
    if name not in _ACTIVE:
        _ACTIVE[name] = _REPRODUCERS[name](corpus)
    return _ACTIVE[name]


def _bug_of(exc: BaseException, corpus: Corpus | None = None) -> str | None:
    for bug in BUGS.values():
        if bug.matches(exc) and _bug_active(bug.name, corpus):
            return bug.name
    return None


# ------------------------------------------------------------------------------ mutations
#
# Every generator takes a random.Random: Hypothesis passes its own (st.randoms), so the quick
# tests shrink and replay; the long loop passes a seeded random.Random.

_MSGPACK_TOKENS = [bytes([b]) for b in (
    0x00, 0x01, 0x7F, 0x80, 0x8F, 0x90, 0x91, 0x93, 0x98, 0x9F, 0xA0, 0xA1, 0xBF, 0xC0, 0xC1,
    0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF, 0xD0,
    0xD3, 0xD4, 0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xE0, 0xFF)] + [
    b"\xc4\x20" + bytes(32), b"\xc4\x40" + bytes(64), b"\xa5issue", b"\xa4cred", b"\xa3uni",
    b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff", b"\xd3\x80\x00\x00\x00\x00\x00\x00\x00",
    b"\xdc\xff\xff", b"\xdd\xff\xff\xff\xff", b"\xdb\xff\xff\xff\xff", b"\xed\xa0\x80",
]
_TEXT_TOKENS = [
    "\n", "\n\n", "\u2014 ", "\u2014", " ", "+", "\t", "\r", "\x00", "\x7f", "\x85", "\ud800",
    "\udcff", "\u2028", "\xa0", "\ufeff", "\xe9", "\U0001f40d", "=", "==", "/", "_", "-", ".",
    "0", "1", "9" * 25, "\u00b2", "\u0661", "A", "z", "PRIVATE+KEY+", "c2sp.org/tlog-proof@v1",
    "extra ", "index ", "cosignature/v1\n", ORIGIN, "uni", "c1", "AAAA", "////", "++++",
    "\\", '"', "{", "}", "[", "]", ",", ":", "null", "true", "1e999", "-0", "NaN",
]
_JSON_TOKENS = ["{", "}", "[", "]", ",", ":", '"', '"format"', '"checkpoint"', '"entries"',
                '"map"', '"credentials"', '"documents"', '"id"', '"issuer"', '"index"',
                '"proof"', '"entry"', '"key"', '"record"', '"siblings"', '"leaf_key"',
                '"leaf_value"', '"subject"', '"title"', '"parts"', '"expires"', '"document"',
                "null", "true", "false", "0", "-1", "1e999", "NaN", "Infinity", "9" * 30,
                '"\\ud800"', '"\\u0000"', '"AAAA"', '"uni"', '"c1"', f'"{BUNDLE_FORMAT}"',
                f'"{CREDENTIAL_TYPE[1]}"', " ", "\n"]

_INTS = [0, 1, 2, 3, 5, 7, 15, 16, 31, 32, 33, 64, 127, 128, 255, 256, 4096, 65535, 65536,
         2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, -1, -2, -33, -129,
         -2**31, -2**63, T0, AT, T0 + 400 * DAY, 253_402_300_799_999]
_STRS = ["", " ", "a", "uni", "poly", "c1", "c2", "c3", "c9", "issue", "revoke", "suspend",
         "reinstate", "register-issuer", "rotate-key", "revoke-key", "retire-issuer", "cred",
         "key", "issuer", "issued", "revoked", "suspended", "rotated", "\n", "\t", "\x00",
         "\x7f", "\ud800", "\udcff", "\u2014 ", "+", "\xe9", "\U0001f40d", "\u2028", "\ufeff",
         "0123456789abcdef", "a b", "../x", "9999-12-31", "0001-01-01", "2026-02-30",
         "2026-1-1", "\u00b2", "\u0661\u0662\u0663\u0664-\u0660\u0661-\u0660\u0661",
         "A" * 300, "x" * 5000, "AAAA", "=", ORIGIN, BUNDLE_FORMAT, CREDENTIAL_TYPE[1], "0" * 64,
         "f" * 64, "G" * 64]


def _size(rng: random.Random, small: int = 16, big: int = 300) -> int:
    r = rng.random()
    if r < 0.7:
        return rng.randint(0, small)
    if r < 0.95:
        return rng.randint(0, big)
    return rng.randint(0, 20 * big)


def raw_bytes(rng: random.Random, tokens: list[bytes] = _MSGPACK_TOKENS) -> bytes:
    if rng.random() < 0.5:
        return rng.randbytes(_size(rng, 64, 1000))
    return b"".join(rng.choice(tokens) if rng.random() < 0.7 else rng.randbytes(rng.randint(1, 4))
                    for _ in range(_size(rng, 24, 200)))


def raw_text(rng: random.Random, tokens: list[str] = _TEXT_TOKENS) -> str:
    r = rng.random()
    if r < 0.3:
        return "".join(chr(rng.randint(0, 0x7F)) for _ in range(_size(rng, 64, 600)))
    if r < 0.5:
        return "".join(chr(rng.choice((rng.randint(0, 0x2FF), rng.randint(0, 0x10FFFF))))
                       for _ in range(_size(rng, 40, 300)))
    return "".join(rng.choice(tokens) if rng.random() < 0.6 else
                   rng.choice(string.printable) for _ in range(_size(rng, 30, 300)))


def _pick_range(rng: random.Random, n: int, most: int = 8) -> tuple[int, int]:
    start = rng.randint(0, n)
    return start, min(n, start + rng.randint(0, most))


def mutate_bytes(rng: random.Random, data: bytes, pool: list[bytes] = (),  # type: ignore[assignment]
                 tokens: list[bytes] = _MSGPACK_TOKENS) -> bytes:
    """1 to 4 byte-level changes."""
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        n = len(data)
        op = rng.randrange(12)
        if op == 0 and n:  # flip a bit
            i = rng.randrange(n)
            data = data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1:]
        elif op == 1 and n:  # set a byte to an interesting or random value
            i = rng.randrange(n)
            v = rng.choice(tokens)[0] if rng.random() < 0.6 else rng.randrange(256)
            data = data[:i] + bytes([v]) + data[i + 1:]
        elif op == 2:  # insert
            i = rng.randint(0, n)
            ins = rng.choice(tokens) if rng.random() < 0.5 else rng.randbytes(rng.randint(1, 8))
            data = data[:i] + ins + data[i:]
        elif op == 3 and n:  # delete a range
            a, b = _pick_range(rng, n)
            data = data[:a] + data[b:]
        elif op == 4:  # truncate
            data = data[:rng.randint(0, n)]
        elif op == 5:  # extend
            data = data + rng.randbytes(_size(rng, 8, 100))
        elif op == 6 and n:  # duplicate a range
            a, b = _pick_range(rng, n, 32)
            data = data[:b] + data[a:b] * rng.choice((1, 2, 50)) + data[b:]
        elif op == 7 and pool:  # splice with another valid input
            other = rng.choice(pool)
            data = data[:rng.randint(0, n)] + other[rng.randint(0, len(other)):]
        elif op == 8 and n > 1:  # swap two ranges
            a, b = sorted(rng.sample(range(n), 2))
            k = rng.randint(1, min(8, b - a))
            data = data[:a] + data[b:b + k] + data[a + k:b] + data[a:a + k] + data[b + k:]
        elif op == 9 and n:  # small arithmetic
            i = rng.randrange(n)
            data = data[:i] + bytes([(data[i] + rng.choice((-2, -1, 1, 2))) % 256]) + data[i + 1:]
        elif op == 10:  # wrap in nested one-element arrays (msgpack nesting)
            data = b"\x91" * rng.choice((1, 2, 8, 9, 100, 600, 1020, 1100, 5000)) + data
        elif op == 11 and n:  # overwrite a run with one value
            a, b = _pick_range(rng, n, 64)
            data = data[:a] + bytes([rng.choice((0, 0xFF, 0x41))]) * (b - a) + data[b:]
    return data


_B64_RE = re.compile(r"[A-Za-z0-9+/]{6,}={0,2}")
_NUM_RE = re.compile(r"\d+")


def _b64_op(rng: random.Random, text: str) -> str:
    """Decode a base64 run, change its bytes, and re-encode canonically, so that the change
    gets past the strict base64 check to the signature, proof or msgpack inside."""
    spans = [m.span() for m in _B64_RE.finditer(text)]
    if not spans:
        return text
    a, b = rng.choice(spans)
    try:
        raw = base64.b64decode(text[a:b] + "=" * (-(b - a) % 4))
    except ValueError:
        return text
    raw = mutate_bytes(rng, raw)
    return text[:a] + base64.b64encode(raw).decode() + text[b:]


def _num_op(rng: random.Random, text: str) -> str:
    spans = [m.span() for m in _NUM_RE.finditer(text)]
    if not spans:
        return text
    a, b = rng.choice(spans)
    value = rng.choice([str(v) for v in _INTS] + ["00", "01", "-1", "+1", "9" * 20, "9" * 5000,
                                                    "1e3", "0x10", "\u0661", "1 ", " 1"])
    return text[:a] + value + text[b:]


def _line_op(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    n = len(lines)
    op = rng.randrange(6)
    i, j = rng.randrange(n), rng.randrange(n)
    if op == 0 and n > 1:
        del lines[i]
    elif op == 1:
        lines.insert(i, lines[j])
    elif op == 2:
        lines[i], lines[j] = lines[j], lines[i]
    elif op == 3:
        lines.insert(i, "")
    elif op == 4:
        lines[i:i] = [lines[j]] * rng.choice((2, 50, 101, 300))
    else:
        lines.insert(i, rng.choice(("\u2014 ", "\u2014 x AAAAAAA=", "\u2014 uni ", "index 0",
                                    "extra ", "c2sp.org/tlog-proof@v1", "+", "x" * 3000)))
    return "\n".join(lines)


def mutate_text(rng: random.Random, text: str, pool: list[str] = (),  # type: ignore[assignment]
                tokens: list[str] = _TEXT_TOKENS) -> str:
    """1 to 4 character-, line-, number- or base64-level changes."""
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        n = len(text)
        op = rng.randrange(13)
        if op == 0 and n:  # replace a character
            i = rng.randrange(n)
            c = rng.choice(tokens) if rng.random() < 0.5 else chr(rng.randint(0, 0x2FF))
            text = text[:i] + c + text[i + 1:]
        elif op == 1:  # insert a token
            i = rng.randint(0, n)
            text = text[:i] + rng.choice(tokens) + text[i:]
        elif op == 2 and n:
            a, b = _pick_range(rng, n)
            text = text[:a] + text[b:]
        elif op == 3:
            text = text[:rng.randint(0, n)]
        elif op == 4 and n:
            a, b = _pick_range(rng, n, 40)
            text = text[:b] + text[a:b] * rng.choice((1, 2, 100)) + text[b:]
        elif op == 5 and pool:
            other = rng.choice(pool)
            text = text[:rng.randint(0, n)] + other[rng.randint(0, len(other)):]
        elif op in (6, 7):
            text = _b64_op(rng, text)
        elif op == 8:
            text = _num_op(rng, text)
        elif op in (9, 10):
            text = _line_op(rng, text)
        elif op == 11 and n:  # change case
            i = rng.randrange(n)
            text = text[:i] + text[i].swapcase() + text[i + 1:]
        elif op == 12:  # a very long run
            i = rng.randint(0, n)
            text = text[:i] + rng.choice(("A", "+", " ", "\n", "=")) * rng.choice(
                (100, 5000, 70_000)) + text[i:]
    return text


def _as_bytes(rng: random.Random, text: str) -> bytes:
    """Text as bytes: UTF-8 (lone surrogates pass through as invalid UTF-8), sometimes another
    encoding entirely."""
    r = rng.random()
    if r < 0.9:
        return text.encode("utf-8", "surrogatepass")
    return text.encode(rng.choice(("utf-16", "utf-32", "latin-1")), "replace")


# JSON values and documents.


class Raw(str):
    """JSON text emitted as it is (huge numbers, NaN, deep nesting, escaped surrogates)."""


class Pairs(list):  # type: ignore[type-arg]
    """A JSON object given as (name, value) pairs, so that a name may repeat."""


def dumps(value: Any, indent: int | None = None) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, Pairs):
        return "{" + ", ".join(f"{json.dumps(k)}: {dumps(v)}" for k, v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


def rand_json(rng: random.Random, depth: int = 0) -> Any:
    r = rng.randrange(14 if depth < 3 else 10)
    if r == 0:
        return None
    if r == 1:
        return rng.random() < 0.5
    if r == 2:
        return rng.choice(_INTS)
    if r == 3:
        return rng.choice((0.5, -0.0, 1e300, 3.0))
    if r == 4:
        return Raw(rng.choice(("1e999", "-1e999", "NaN", "Infinity", "-Infinity", "-0",
                               "9" * 5000, "1" + "0" * 400, "1E400", "0.0000001")))
    if r in (5, 6):
        return rng.choice(_STRS)
    if r == 7:
        return "".join(rng.choice(string.printable) for _ in range(_size(rng, 40, 100)))
    if r == 8:
        return base64.b64encode(rng.randbytes(rng.choice((0, 1, 31, 32, 33, 64, 200)))).decode()
    if r == 9:
        depth_ = rng.choice((10, 100, 990, 1000, 3000, 30_000))
        return Raw("[" * depth_ + "]" * depth_ if rng.random() < 0.5
                   else '{"a":' * depth_ + "1" + "}" * depth_)
    if r == 10:
        return [rand_json(rng, depth + 1) for _ in range(_size(rng, 4, 20))]
    if r == 11:
        return {rng.choice(_STRS[:30]): rand_json(rng, depth + 1) for _ in range(_size(rng, 4, 12))}
    if r == 12:
        return [rng.choice(_STRS)] * rng.choice((100, 5000))
    return Raw('"' + rng.choice(("\\ud800", "\\udfff\\ud800", "\\u0000", "\\n", "\\\\")) + '"')


def _json_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict) and not isinstance(value, Pairs):
        for k, v in value.items():
            yield from _json_paths(v, path + (k,))
    elif isinstance(value, list) and not isinstance(value, Pairs):
        for i, v in enumerate(value):
            yield from _json_paths(v, path + (i,))


def _json_get(value: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        value = value[p]
    return value


def _json_set(root: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    _json_get(root, path[:-1])[path[-1]] = new
    return root


def mutate_json(rng: random.Random, doc: Any) -> Any:
    """1 to 3 changes at random places of a JSON value (a deep copy is changed)."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.choice((1, 1, 2, 3))):
        paths = list(_json_paths(doc))
        path = rng.choice(paths)
        node = _json_get(doc, path)
        parent = _json_get(doc, path[:-1]) if path else None
        op = rng.randrange(10)
        if op in (0, 1):  # another value, often of another type
            doc = _json_set(doc, path, rand_json(rng))
        elif op == 2 and isinstance(node, str):
            doc = _json_set(doc, path, mutate_text(rng, node) if rng.random() < 0.5
                            else _b64_op(rng, node))
        elif op == 3 and isinstance(node, bool | int) and not isinstance(node, Raw):
            doc = _json_set(doc, path, rng.choice(_INTS + [True, False, 1.0, None]))
        elif op == 4 and path and isinstance(parent, dict | list):  # delete
            del parent[path[-1]]
        elif op == 5 and isinstance(node, dict):  # an unknown or a known extra member
            node[rng.choice(("extra", "documents", "format", "index", "id", ""))] = rand_json(rng)
        elif op == 6 and isinstance(node, list) and node:  # duplicate, drop or reorder items
            i = rng.randrange(len(node))
            r = rng.random()
            if r < 0.4:
                node.insert(rng.randrange(len(node) + 1), copy.deepcopy(node[i]))
            elif r < 0.7:
                rng.shuffle(node)
            else:  # a scalar repeated up to 5,000 times, a container at most 100 times
                many = (2, 100, 5000) if not isinstance(node[i], dict | list) else (2, 100)
                node.extend([copy.deepcopy(node[i])] * rng.choice(many))
        elif op == 7 and isinstance(node, dict) and node:  # a repeated member name (terminal)
            items = list(node.items())
            k, v = rng.choice(items)
            items.insert(rng.randrange(len(items) + 1), (k, rand_json(rng) if rng.random() < 0.5
                                                           else v))
            return _json_set(doc, path, Pairs(items))
        elif op == 8:  # nest the node deeply (terminal)
            depth = rng.choice((2, 50, 900, 1000, 5000))
            return _json_set(doc, path, Raw("[" * depth + dumps(node) + "]" * depth))
        elif op == 9 and path:  # swap with another node's value
            other = rng.choice(paths)
            if other and other[: len(path)] != path and path[: len(other)] != other:
                a, b = _json_get(doc, path), _json_get(doc, other)
                doc = _json_set(doc, path, copy.deepcopy(b))
                try:
                    doc = _json_set(doc, other, copy.deepcopy(a))
                except (TypeError, KeyError, IndexError):
                    pass  # ``other`` was an alias of ``path`` (a list repeated by op 6)
    return doc


def mutate_json_text(rng: random.Random, text: str, pool: list[str] = ()) -> str | bytes:  # type: ignore[assignment]
    """Structure-aware (parsed, changed, re-serialised), text-level or byte-level changes."""
    r = rng.random()
    if r < 0.6:
        try:
            doc = json.loads(text)
        except ValueError:
            return mutate_text(rng, text, list(pool), _JSON_TOKENS + _TEXT_TOKENS)
        out = dumps(mutate_json(rng, doc))
        return out if rng.random() < 0.8 else mutate_text(rng, out, list(pool))
    if r < 0.9:
        return mutate_text(rng, text, list(pool), _JSON_TOKENS + _TEXT_TOKENS)
    return mutate_bytes(rng, _as_bytes(rng, text), [p.encode() for p in pool],
                        [t.encode() for t in _JSON_TOKENS])


# msgpack values.


def rand_mp(rng: random.Random, depth: int = 0) -> Any:
    r = rng.randrange(12 if depth < 3 else 9)
    if r == 0:
        return None
    if r == 1:
        return rng.random() < 0.5
    if r in (2, 3):
        return rng.choice([v for v in _INTS if -2**63 <= v < 2**64])
    if r == 4:
        return rng.choice((0.5, -0.0, 1e300))
    if r == 5:
        return rng.choice([s for s in _STRS if not re.search("[\ud800-\udfff]", s)])
    if r == 6:
        return rng.randbytes(rng.choice((0, 1, 8, 16, 31, 32, 33, 64, 65, 300)))
    if r == 7:
        return rng.choice((bytes(32), b"\x01" + bytes(31), b"\xff" * 32))
    if r == 8:
        return msgpack.ExtType(rng.randrange(128), rng.randbytes(rng.randint(0, 8)))
    if r == 9:
        return [rand_mp(rng, depth + 1) for _ in range(_size(rng, 4, 20))]
    if r == 10:
        return {rand_mp(rng, 3): rand_mp(rng, depth + 1) for _ in range(_size(rng, 3, 8))}
    return [rng.choice(_STRS[:20])] * rng.choice((257, 1000))


def _mp_paths(value: Any, path: tuple[int, ...] = ()) -> Iterator[tuple[int, ...]]:
    yield path
    if isinstance(value, list):
        for i, v in enumerate(value):
            yield from _mp_paths(v, path + (i,))


def _looks_msgpack_array(b: Any) -> bool:
    return isinstance(b, bytes) and bool(b) and (0x90 <= b[0] <= 0x9F or b[0] in (0xDC, 0xDD))


def mutate_msgpack(rng: random.Random, data: bytes, pool: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    """Change the decoded value (another type, a boundary value, a nested statement changed in
    turn, an item added or removed) and re-pack it; or change the bytes."""
    if rng.random() < 0.6:
        try:
            value = msgpack.unpackb(data, raw=False, strict_map_key=False)
        except Exception:  # noqa: BLE001 - not msgpack any more: change bytes instead
            value = None
        if isinstance(value, list):
            for _ in range(rng.choice((1, 1, 2))):
                paths = list(_mp_paths(value))
                path = rng.choice(paths)
                node = _json_get(value, path)
                op = rng.randrange(6)
                if op in (0, 1):
                    new: Any = rand_mp(rng)
                elif op == 2 and _looks_msgpack_array(node):
                    new = mutate_msgpack(rng, node)  # e.g. the statement inside an entry
                elif op == 3 and isinstance(node, str):
                    new = mutate_text(rng, node)
                    if re.search("[\ud800-\udfff]", new):
                        new = node
                elif op == 4 and isinstance(node, bytes):
                    new = mutate_bytes(rng, node)
                elif op == 5 and isinstance(node, list):
                    new = list(node)
                    if new and rng.random() < 0.5:
                        del new[rng.randrange(len(new))]
                    else:
                        new.insert(rng.randint(0, len(new)), rand_mp(rng))
                else:
                    new = rand_mp(rng)
                value = _json_set(value, path, new)
            try:
                out = msgpack.packb(value, use_bin_type=True)
            except (ValueError, TypeError, OverflowError):
                out = data
            return out if rng.random() < 0.85 else mutate_bytes(rng, out, list(pool))
    return mutate_bytes(rng, data, list(pool))


# ------------------------------------------------------------------------------ the corpus


@dataclass
class CliEnv:
    runner: CliRunner
    store: Path
    key: Path  # an active key of issuer uni
    stranger: Path  # a key of nobody: batches using it are parsed fully, then refused
    batch: Path
    out_issue: Path
    out_recover: Path
    witness: Path
    input: Path
    vkey: str
    pending_seeds: list[str]
    checkpoint_note: str
    cosigned_note: str

    def run(self, *args: str) -> Result:
        return self.runner.invoke(cli, ["--dir", str(self.store), *args], catch_exceptions=True)


@dataclass
class Corpus:
    """Valid inputs of every kind, built with the real APIs from one small ledger."""

    tmp: Path
    ledger: Ledger
    log: Signer
    registry: Signer
    signers: dict[bytes, Signer]  # public key -> signer, for re-signing mutated statements
    entries: list[bytes]
    statements: list[bytes]
    records: dict[bytes, bytes]  # map key -> record bytes, at the latest checkpoint
    absent_keys: list[bytes]
    consistency: list[bytes]  # the consistency proof from the first checkpoint to the second
    state_root: bytes
    size: int
    mid_size: int
    checkpoints: dict[int, bytes]  # size -> root of every signed checkpoint
    notes: list[str]  # signed notes: checkpoints (some cosigned) and a multi-signed note
    signed_texts: dict[tuple[str, bytes], set[str]]  # (key name, key id) -> texts it signed
    note_signers: list[Any]  # trusted verifiers for open_note
    cosigned: str  # the latest checkpoint with two witness cosignatures
    witnesses: list[WitnessKey]
    cosign_times: dict[str, set[int]]
    vkeys: list[str]
    skeys: list[str]
    cosigner_keys: list[str]
    witness_skeys: list[str]
    bundles: list[str]
    honest: dict[int, dict[tuple[str, str], str]]  # checkpoint size -> credential -> answer
    subjects: dict[tuple[str, str], str]
    holder_docs: list[str]
    sealed_seed: dict[str, Any]
    tlog_proofs: list[str]
    tiles: Path
    tile_files: dict[str, bytes]
    map_proofs: list[smt.MapProof]
    batches: list[str]
    beside: list[tuple[str, list[dict[str, Any]]]]  # bundles and the credentials they prove
    pool: dict[str, list[Any]] = field(default_factory=dict)
    _cli: CliEnv | None = None
    _big_tiles: tuple[Path, dict[str, bytes], Any] | None = None

    @property
    def log_key(self) -> Any:
        return self.log.verifier()

    @property
    def all_creds(self) -> list[tuple[str, str]]:
        return sorted(self.subjects) + [("uni", named("c9")), ("poly", named("c9")),
                                        ("nobody", named("c1"))]


CREDS = ["c1", "c2", "c3", "c4", "c5", "c6", "c7"]


def build_corpus(tmp: Path) -> Corpus:
    """The corpus's log: credentials named ``named("c1")`` ..., each with its signed Open
    Badges credential (``held``), held by ``holder-c1@example.org`` ... ."""
    clock = itertools.count(T0, 60_000)
    ledger, log, registry = Ledger.create(tmp / "store", ORIGIN, clock=lambda: next(clock))
    uni, uni2, poly = (Signer(name, _seed32(name)) for name in ("uni-a", "uni-b", "poly"))
    times = itertools.count(T0, 1000)
    indexes = itertools.count(1)
    subjects: dict[tuple[str, str], str] = {}
    held: dict[tuple[str, str], dict[str, Any]] = {}
    names = {"uni": ("Example University", "https://uni.example"), "poly": ("Poly", None)}

    def add(signer: Signer, kind: str, issuer: str, *fields: Any) -> None:
        st_ = make_statement(kind, issuer, next(times), *fields)
        ledger.append([sign_statement(st_, signer.seed)])

    def put(signer: Signer, st_: Any) -> None:
        ledger.append([sign_statement(st_, signer.seed)])

    def issue(signer: Signer, issuer: str, cred: str, expires: int | None = None,
              parts: tuple[str, ...] = ()) -> None:
        t = next(times)
        subject = f"holder-{cred}@example.org"
        c = make_credential(origin=ORIGIN, issuer=issuer, issuer_name=names[issuer][0],
                            issuer_url=names[issuer][1], seed=signer.seed,
                            public_key=signer.public_key, handle=named(cred),
                            valid_from=t - t % 1000, status_index=next(indexes),
                            valid_until=None if expires is None else expires - 1000,
                            parts=[named(p) for p in parts], subject=subject,
                            salt=_seed32("salt " + cred).hex())
        subjects[(issuer, c.handle)] = subject
        held[(issuer, c.handle)] = c.doc
        put(signer, issue_statement(c, t))

    def change(signer: Signer, kind: str, issuer: str, cred: str, reason: str) -> None:
        put(signer, tst.status(kind, issuer, next(times), named(cred), reason))

    add(registry, REGISTER_ISSUER, "uni", "Example University", "https://uni.example",
        uni.public_key)
    put(uni, tst.register_achievement("uni", next(times)))
    issue(uni, "uni", "c1", expires=T0 + 400 * DAY)
    issue(uni, "uni", "c2")
    issue(uni, "uni", "c3", parts=("c1",))
    ledger.checkpoint()
    mid_size = ledger.head().size
    change(uni, REVOKE, "uni", "c2", "issued-in-error")
    issue(uni, "uni", "c4")
    change(uni, SUSPEND, "uni", "c4", "under-review")
    change(uni, REINSTATE, "uni", "c4", "review-complete")
    issue(uni, "uni", "c6")
    change(uni, SUSPEND, "uni", "c6", "unspecified")
    issue(uni, "uni", "c7", expires=T0 + 10 * DAY)
    add(uni, ROTATE_KEY, "uni", uni2.public_key)
    issue(uni2, "uni", "c5", parts=("c4",))
    add(registry, REGISTER_ISSUER, "poly", "Poly", "", poly.public_key)
    put(poly, tst.register_achievement("poly", next(times)))
    issue(poly, "poly", "p1")
    add(registry, REVOKE_KEY, "poly", key_id(poly.public_key), "compromised")
    add(registry, RETIRE_ISSUER, "poly", "merged")
    note = ledger.checkpoint()
    size = ledger.head().size

    witnesses = [WitnessKey(n, _seed32(n)) for n in ("w1.example", "w2.example")]
    ts = [(T0 + 29 * DAY) // 1000, (T0 + 28 * DAY) // 1000]
    cosigned = add_cosignature(add_cosignature(note, witnesses[0], ts[0]), witnesses[1], ts[1])
    ledger.add_cosignatures(cosigned, [w.verifier() for w in witnesses])
    assert ledger.checkpoint_note(size) == cosigned

    entries = [ledger.entry_bytes(i) for i in range(size)]
    statements = [decode_entry(e).statement for e in entries]
    state_root = decode_entry(entries[-1]).state_root
    records: dict[bytes, bytes] = {}
    absent: list[bytes] = []
    ids = [("cred", i, c) for (i, c) in subjects] + [("issuer", i, "") for i in ("uni", "poly")]
    ids += [("key", "uni", key_id(s.public_key)) for s in (uni, uni2)]
    ids += [("key", "poly", key_id(poly.public_key))]
    ids += [("achievement", i, tst.ACHIEVEMENT) for i in ("uni", "poly")]
    for kind, issuer, ident in ids:
        rec = ledger.record(kind, issuer, ident)
        assert rec is not None
        records[map_key(kind, issuer, ident)] = rec.encode()
    for kind, issuer, ident in (("cred", "uni", named("c9")), ("cred", "poly", named("c9")),
                                ("cred", "nobody", named("c1")), ("issuer", "nobody", ""),
                                ("key", "uni", "0" * 16)):
        absent.append(map_key(kind, issuer, ident))
    map_proofs = [ledger.map_proof(k, state_root)[0] for k in [*records, *absent]]

    multi = sign_note("a note\n\nwith a blank line\n", uni, poly)
    notes = [ledger.checkpoint_note(mid_size), note, cosigned, multi]
    signed_texts: dict[tuple[str, bytes], set[str]] = {}
    for s, texts in ((log, {parse_note(n).text for n in notes[:3]}),
                     (uni, {parse_note(multi).text}), (poly, {parse_note(multi).text})):
        signed_texts[(s.name, s.key_id)] = texts

    honest: dict[int, dict[tuple[str, str], str]] = {}
    everything = [*sorted(subjects), ("uni", named("c9")), ("poly", named("c9")),
                  ("nobody", named("c1"))]
    for at_size in (mid_size, size):
        v = verify_bundle(dump_bundle(build_bundle(ledger, everything, size=at_size)),
                          log_key=log.verifier(), at=AT)
        honest[at_size] = {(c.issuer, c.cred_id): c.answer for c in v.credentials}
    u = {c: ("uni", named(c)) for c in (*CREDS, "c9")}
    assert honest[size][u["c2"]] == REVOKED_ANSWER
    assert honest[size][u["c6"]] == SUSPENDED_ANSWER
    assert honest[size][u["c7"]] == EXPIRED
    assert honest[size][u["c4"]] == VALID
    assert honest[mid_size][u["c2"]] == VALID

    bundles = [
        dump_bundle(build_bundle(ledger, [u["c1"]])),
        dump_bundle(build_bundle(ledger, [u["c3"]])),
        dump_bundle(build_bundle(ledger, [u["c2"], u["c9"]])),
        dump_bundle(build_bundle(ledger, [u["c5"], u["c6"], ("poly", named("p1"))])),
        dump_bundle(build_bundle(ledger, [u["c1"]], size=mid_size)),
        json.dumps(build_bundle(ledger, [u["c7"]])),
    ]
    # The holders' credentials: c1's first (it goes with bundles[0]), then the rest.
    holder_docs = [json.dumps(held[k], indent=2) + "\n"
                   for k in [u["c1"], *sorted(k for k in held if k != u["c1"])]]
    # A bundle and the credentials given beside it: c1 with its bundle, c3 (which stacks c1)
    # with both, c5 with its bundle of three.
    beside = [(bundles[0], [held[u["c1"]]]), (bundles[1], [held[u["c3"]], held[u["c1"]]]),
              (bundles[3], [held[u["c5"]]])]

    tlog_proofs = []
    for i, with_extra in ((0, True), (1, False), (size // 2, True), (size - 1, True)):
        tlog_proofs.append(TlogProof(i, tuple(ledger.inclusion_proof(i, size)), cosigned,
                                     entries[i] if with_extra else None).format())
    tlog_proofs.append(TlogProof(2, tuple(ledger.inclusion_proof(2, mid_size)), notes[0],
                                 entries[2]).format())

    tiles = tmp / "tiles"
    export_tiles(ledger, tiles)
    tile_files = {str(p.relative_to(tiles)): p.read_bytes() for p in tiles.rglob("*")
                  if p.is_file()}

    batches = [
        '{"id": "b-1", "subject": "Ada Lovelace", "achievement": "cs201"}\n',
        json.dumps({"id": "b-2", "subject": "grace@example.org", "subject_type": "emailAddress",
                    "achievement": "cs201", "expires": "2028-06-30", "parts": [],
                    "result": "A"}) + "\n"
        + json.dumps({"id": "b-3", "subject": "S-0042", "subject_type": "sisSourcedId",
                      "achievement": "cs201", "expires": None, "parts": None,
                      "result": None}) + "\n\n",
        ('{"id": "b:4@x", "subject": "s", "achievement": "cs201", "parts": []}\n'
         '{"id": "b-5", "subject": "s", "achievement": "cs201", "parts": ["b:4@x"]}\n'),
    ]

    corpus = Corpus(
        tmp=tmp, ledger=ledger, log=log, registry=registry,
        signers={s.public_key: s for s in (uni, uni2, poly, registry)},
        entries=entries, statements=statements, records=records, absent_keys=absent,
        consistency=ledger.consistency_proof(mid_size, size), state_root=state_root, size=size, mid_size=mid_size,
        checkpoints={mid_size: ledger.root_at(mid_size), size: ledger.root_at(size)},
        notes=notes, signed_texts=signed_texts,
        note_signers=[log.verifier(), uni.verifier(), poly.verifier()],
        cosigned=cosigned, witnesses=witnesses,
        cosign_times={w.name: {t} for w, t in zip(witnesses, ts, strict=True)},
        vkeys=[str(s.verifier()) for s in (log, registry, uni, poly)],
        skeys=[str(s) for s in (log, uni, poly)] + [str(uni) + "\n", " " + str(poly) + " \n"],
        cosigner_keys=[str(w.verifier()) for w in witnesses],
        witness_skeys=[str(w) for w in witnesses],
        bundles=bundles, honest=honest, subjects=subjects, holder_docs=holder_docs,
        sealed_seed={}, tlog_proofs=tlog_proofs, tiles=tiles, tile_files=tile_files,
        map_proofs=map_proofs, batches=batches, beside=beside)
    corpus.sealed_seed = {
        "entries": list(entries), "records": dict(records), "absent": list(absent),
        "creds": [list(c) for c in everything],
        "docs": [held[u["c1"]], held[u["c3"]]], "size_delta": 0}
    return corpus


def _iso_day(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d")


def _cli_env(corpus: Corpus) -> CliEnv:
    """A CLI store with issuer uni, a checkpoint, a witness, and one issued batch (lazily)."""
    if corpus._cli is not None:
        return corpus._cli
    base = corpus.tmp / "cli"
    base.mkdir()
    runner = CliRunner()
    store = base / "store"

    def run(*args: str) -> Result:
        result = runner.invoke(cli, ["--dir", str(store), *args], catch_exceptions=False)
        assert result.exit_code == 0, (args, result.output)
        return result

    vkey = json.loads(run("init", "--origin", "cli.example/log", "--json").stdout)["log_vkey"]
    uni_vkey = json.loads(run("key", "new", str(base / "uni.key"), "--name", "uni",
                              "--json").stdout)["vkey"]
    run("key", "new", str(base / "stranger.key"), "--name", "stranger", "--json")
    run("issuer", "add", "uni", "--key", uni_vkey, "--name", "Uni")
    run("achievement", "add", "uni", "cs201", "--key", str(base / "uni.key"), "--name",
        "Compilers", "--description", "What compilers do.", "--criteria", "Write one.")
    batch = base / "batch.jsonl"
    batch.write_text(corpus.batches[1], encoding="utf-8")
    out_recover = base / "out-recover"
    run("issue", "uni", "--key", str(base / "uni.key"), "--batch", str(batch), "--out",
        str(out_recover), "--json")
    docs = [pending_record(origin="cli.example/log", issuer_id="uni", own_id=c,
                           credential=json.loads((out_recover / "uni" / f"{c}.json").read_text(
                               encoding="utf-8"))) for c in ("b-2", "b-3")]
    for c in ("b-2", "b-3"):
        (out_recover / "uni" / f"{c}.json").unlink()
    pending = [b"".join(map(pending_line, docs)).decode(), pending_line(docs[1]).decode()]
    note = json.loads(run("checkpoint", "--json").stdout)["note"]
    cosigned = add_cosignature(note, corpus.witnesses[0], (T0 + DAY) // 1000)
    Witness.create(base / "witness", "w-cli.example")
    corpus._cli = CliEnv(runner, store, base / "uni.key", base / "stranger.key", batch,
                         base / "out-issue", out_recover, base / "witness", base / "input",
                         vkey, pending, note, cosigned)
    return corpus._cli


def _big_tiles(corpus: Corpus) -> tuple[Path, dict[str, bytes], Any]:
    """A 300-entry export: a full level-0 tile and bundle, partial ones, a level-1 tile."""
    if corpus._big_tiles is None:
        base = corpus.tmp / "big"
        clock = itertools.count(T0, 1000)
        ledger, log, registry = Ledger.create(base / "store", "big.example/log",
                                              clock=lambda: next(clock))
        uni = Signer("uni", _seed32("big uni"))
        items = [sign_statement(make_statement(REGISTER_ISSUER, "uni", T0, "Uni", "",
                                               uni.public_key), registry.seed),
                 sign_statement(tst.register_achievement("uni", T0 + 1), uni.seed)]
        items += [sign_statement(tst.issue("uni", T0 + i, i), uni.seed)
                  for i in range(2, 300)]
        ledger.append(items)
        ledger.checkpoint()
        export_tiles(ledger, base / "tiles")
        files = {str(p.relative_to(base / "tiles")): p.read_bytes()
                 for p in (base / "tiles").rglob("*") if p.is_file()}
        ledger.close()
        corpus._big_tiles = (base / "tiles", files, log.verifier())
    return corpus._big_tiles


_CORPUS: Corpus | None = None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    global _CORPUS
    _CORPUS = build_corpus(tmp_path_factory.mktemp("fuzz"))
    for name in BUGS:  # before any fuzzing: a reproducer must run on a clean corpus
        _bug_active(name, _CORPUS)
    yield _CORPUS
    _CORPUS.ledger.close()
    _CORPUS = None


# ------------------------------------------------------------------------------ checking


class Escape(AssertionError):
    """A non-LedgerError exception escaped a decoder, or an accepted input is not well-formed."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 400 else text[:300] + f"...({len(text)} chars)..." + text[-60:]


def _call(corpus: Corpus, what: str, inp: Any, fn: Callable[..., Any], *args: Any,
          allowed: tuple[type[BaseException], ...] = (LedgerError,), **kw: Any) -> tuple[str, Any]:
    """Run ``fn``: ("ok", result), ("refused:<Error>", None), ("known:<bug>", None), or raise
    Escape naming the input for anything else."""
    try:
        return "ok", fn(*args, **kw)
    except allowed as exc:
        return f"refused:{type(exc).__name__}", None
    except Exception as exc:
        bug = _bug_of(exc, corpus)
        if bug is not None:
            return f"known:{bug}", None
        raise Escape(f"{what} raised {type(exc).__name__}: {str(exc)[:200]}\n"
                     f"input: {_show(inp)}") from exc


def _require(cond: bool, what: str, inp: Any, detail: str = "") -> None:
    if not cond:
        raise Escape(f"{what} accepted a malformed input{': ' + detail if detail else ''}\n"
                     f"input: {_show(inp)}")


def _as_text(data: str | bytes) -> str:
    return data if isinstance(data, str) else data.decode("utf-8")


# ------------------------------------------------------------------------------ targets


@dataclass
class Target:
    name: str
    seeds: Callable[[Corpus], list[Any]]
    mutate: Callable[[Corpus, random.Random, Any], Any]
    raw: Callable[[Corpus, random.Random], Any]
    check: Callable[[Corpus, Any], str]
    quick: int = 100  # Hypothesis examples of mutants in the quick run (raw inputs get half)
    examples: Callable[[Corpus], list[Any]] = lambda c: []

    def mutant(self, corpus: Corpus, rng: random.Random) -> Any:
        out = self.mutate(corpus, rng, rng.choice(self.seeds(corpus)))
        # Every decoder caps its input well below this; bigger inputs only cost time.
        return out[:MAX_INPUT] if isinstance(out, str | bytes) else out


TARGETS: dict[str, Target] = {}


def target(name: str, *, quick: int = 100, seeds: Callable[[Corpus], list[Any]],
           mutate: Callable[[Corpus, random.Random, Any], Any],
           raw: Callable[[Corpus, random.Random], Any],
           examples: Callable[[Corpus], list[Any]] = lambda c: []
           ) -> Callable[[Callable[[Corpus, Any], str]], Callable[[Corpus, Any], str]]:
    def register(check: Callable[[Corpus, Any], str]) -> Callable[[Corpus, Any], str]:
        TARGETS[name] = Target(name, seeds, mutate, raw, check, quick, examples)
        return check
    return register


def _mp_mut(c: Corpus, rng: random.Random, seed: bytes) -> bytes:
    return mutate_msgpack(rng, seed, c.entries[:4] + c.statements[:4])


def _mp_raw(c: Corpus, rng: random.Random) -> bytes:
    return raw_bytes(rng)


def _resign(c: Corpus, data: bytes) -> bytes:
    """If ``data`` still looks like an entry by a known signer, sign its (changed) statement
    again, so that the change reaches the checks behind the signature."""
    try:
        items = msgpack.unpackb(data, raw=False)
    except Exception:  # noqa: BLE001
        return data
    if (isinstance(items, list) and len(items) == 8 and isinstance(items[5], bytes)
            and isinstance(items[6], bytes) and items[6] in c.signers):
        items[7] = c.signers[items[6]].sign(SIGN_CONTEXT + items[5])
        try:
            return msgpack.packb(items, use_bin_type=True)
        except (ValueError, TypeError, OverflowError):
            return data
    return data


_DEEP_MSGPACK = b"\x91" * 1_020 + b"\x01"


def _event_examples(c: Corpus) -> list[bytes]:
    return [_DEEP_MSGPACK, b"\x93\x90\xa1a\x01", pack([["issue"], "uni", T0, "c-1", ""]),
            pack([1, 0, T0, bytes(32), bytes(32), pack([{"a": 1}]), bytes(32), bytes(64)]),
            b"\xdd\xff\xff\xff\xff", b"\xdc\xff\xff" + b"\xc0" * 10, b""]


@target("events.decode_entry", quick=80, seeds=lambda c: c.entries,
        mutate=lambda c, rng, s: _resign(c, _mp_mut(c, rng, s)) if rng.random() < 0.5
        else _mp_mut(c, rng, s), raw=_mp_raw, examples=_event_examples)
def check_decode_entry(c: Corpus, data: bytes) -> str:
    label, entry = _call(c, "decode_entry", data, decode_entry, data)
    if entry is None:
        return label
    _require(entry.encode() == data, "decode_entry", data, "does not re-encode identically")
    _call(c, "decode_statement(entry.statement)", data, decode_statement, entry.statement)
    label2, st_ = _call(c, "SignedStatement.verify", data, entry.signed().verify)
    return "ok:verified" if st_ is not None else "ok:" + label2


@target("events.decode_statement", quick=80, seeds=lambda c: c.statements, mutate=_mp_mut,
        raw=_mp_raw, examples=_event_examples)
def check_decode_statement(c: Corpus, data: bytes) -> str:
    label, st_ = _call(c, "decode_statement", data, decode_statement, data)
    if st_ is not None:
        _require(st_.encode() == data, "decode_statement", data, "does not re-encode")
    return label


@target("records.decode_record", quick=80, seeds=lambda c: list(c.records.values()),
        mutate=_mp_mut, raw=_mp_raw, examples=_event_examples)
def check_decode_record(c: Corpus, data: bytes) -> str:
    label, rec = _call(c, "decode_record", data, decode_record, data)
    if rec is not None:
        _require(rec.encode() == data, "decode_record", data, "does not re-encode")
    return label


def _plain(value: Any) -> bool:
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, bool | int | str | bytes)


@target("events.unpack_array", quick=80,
        seeds=lambda c: c.entries[:3] + c.statements[:3] + list(c.records.values())[:3],
        mutate=_mp_mut, raw=_mp_raw, examples=_event_examples)
def check_unpack_array(c: Corpus, data: bytes) -> str:
    label, value = _call(c, "unpack_array", data, unpack_array, data, "fuzz")
    if value is not None:
        _require(isinstance(value, list) and _plain(value) and pack(value) == data,
                 "unpack_array", data, "not a canonical plain array")
    return label


# Notes, checkpoints and keys.


def _text_mut(c: Corpus, rng: random.Random, seed: str) -> str:
    return mutate_text(rng, seed, c.notes + c.vkeys + c.skeys)


def _text_or_bytes(c: Corpus, rng: random.Random, seed: str) -> str | bytes:
    out = _text_mut(c, rng, seed)
    if rng.random() < 0.3:
        data = _as_bytes(rng, out)
        return mutate_bytes(rng, data) if rng.random() < 0.3 else data
    return out


def _raw_text_or_bytes(c: Corpus, rng: random.Random) -> str | bytes:
    return raw_text(rng) if rng.random() < 0.6 else raw_bytes(rng, [t.encode("utf-8", "surrogatepass")
                                                                  for t in _TEXT_TOKENS])


@target("note.parse_note+open_note", quick=80, seeds=lambda c: c.notes, mutate=_text_or_bytes,
        raw=_raw_text_or_bytes,
        examples=lambda c: ["x\n\n\u2014 a AAAAAAA=\n", "x\n\n" + "\u2014 a AAAAAAA=\n" * 101,
                            b"\xff\n\n", "\ud800\n\n\u2014 a AAAAAAA=\n", ""])
def check_note(c: Corpus, data: str | bytes) -> str:
    label, note = _call(c, "parse_note", data, parse_note, data)
    if note is None:
        return label
    _require(format_note(note) == _as_text(data), "parse_note", data, "does not re-format")
    label, opened = _call(c, "open_note", data, open_note, data, c.note_signers)
    if opened is not None:
        note, verified = opened
        for v in verified:
            _require(note.text in c.signed_texts[(v.name, v.key_id)], "open_note", data,
                     f"verified a text that {v.name} never signed")
        return "ok:opened"
    return "ok:" + label


@target("note.parse_checkpoint", quick=80, seeds=lambda c: [parse_note(n).text for n in c.notes[:3]],
        mutate=_text_mut, raw=lambda c, rng: raw_text(rng),
        examples=lambda c: ["o\n" + "9" * 20 + "\nAAAA\n", "o\n18446744073709551616\n" +
                            base64.b64encode(bytes(32)).decode() + "\n", "o\n\u0661\nA=\n"])
def check_parse_checkpoint(c: Corpus, text: str) -> str:
    label, cp = _call(c, "parse_checkpoint", text, parse_checkpoint, text)
    if cp is not None:
        _require(cp.body() == text, "parse_checkpoint", text, "does not re-format")
    return label


@target("note.open_checkpoint", quick=60, seeds=lambda c: c.notes[:3], mutate=_text_or_bytes,
        raw=_raw_text_or_bytes)
def check_open_checkpoint(c: Corpus, data: str | bytes) -> str:
    label, cp = _call(c, "open_checkpoint", data, open_checkpoint, data, c.log_key)
    if cp is not None:
        _require(cp.origin == ORIGIN and c.checkpoints.get(cp.size) == cp.root,
                 "open_checkpoint", data, f"opened a checkpoint never signed: {cp}")
    return label


def _key_mut(c: Corpus, rng: random.Random, seed: str) -> str:
    return mutate_text(rng, seed, c.vkeys + c.skeys + c.cosigner_keys + c.witness_skeys)


@target("note.parse_verifier", quick=80, seeds=lambda c: c.vkeys, mutate=_key_mut,
        raw=lambda c, rng: raw_text(rng),
        examples=lambda c: ["a+00000000+" + "A" * 44, "\ud800+00000000+AA==", "a\u3000+0+A"])
def check_parse_verifier(c: Corpus, text: str) -> str:
    label, v = _call(c, "parse_verifier", text, parse_verifier, text)
    if v is not None:
        _require(str(v) == text, "parse_verifier", text, "does not re-format")
    return label


@target("note.parse_signer", quick=80, seeds=lambda c: c.skeys, mutate=_key_mut,
        raw=lambda c, rng: raw_text(rng))
def check_parse_signer(c: Corpus, text: str) -> str:
    label, s = _call(c, "parse_signer", text, parse_signer, text)
    if s is not None:
        _require(str(s) == text.strip(), "parse_signer", text, "does not re-format")
    return label


@target("witness.parse_cosigner", quick=80, seeds=lambda c: c.cosigner_keys, mutate=_key_mut,
        raw=lambda c, rng: raw_text(rng))
def check_parse_cosigner(c: Corpus, text: str) -> str:
    label, v = _call(c, "parse_cosigner", text, parse_cosigner, text)
    if v is not None:
        _require(str(v) == text.strip(), "parse_cosigner", text, "does not re-format")
    return label


@target("witness.parse_witness_key", quick=80, seeds=lambda c: c.witness_skeys,
        mutate=_key_mut, raw=lambda c, rng: raw_text(rng))
def check_parse_witness_key(c: Corpus, text: str) -> str:
    label, k = _call(c, "parse_witness_key", text, parse_witness_key, text)
    if k is not None:
        _require(str(k) == text.strip(), "parse_witness_key", text, "does not re-format")
    return label


@target("witness.check_witness_policy", quick=60, seeds=lambda c: [c.cosigned],
        mutate=_text_mut, raw=lambda c, rng: raw_text(rng))
def check_witness_policy_target(c: Corpus, text: str) -> str:
    trusted = [w.verifier() for w in c.witnesses]
    label, times = _call(c, "check_witness_policy", text, check_witness_policy, text, trusted,
                         min_witnesses=1, max_age_ms=7 * DAY, now_ms=AT)
    if times is not None:
        for name, ts in times.items():
            _require(ts in c.cosign_times[name], "check_witness_policy", text,
                     f"a timestamp {name} never signed")
        _require(parse_note(text).text == parse_note(c.cosigned).text, "check_witness_policy",
                 text, "cosignatures verified over another checkpoint")
    return label


@target("witness.merge_cosignatures", quick=60, seeds=lambda c: [c.cosigned],
        mutate=_text_mut, raw=lambda c, rng: raw_text(rng))
def check_merge(c: Corpus, text: str) -> str:
    stored = c.notes[1]
    trusted = [w.verifier() for w in c.witnesses]
    label, merged = _call(c, "merge_cosignatures", text, merge_cosignatures, stored, text,
                          trusted)
    if merged is not None:
        _require(parse_note(merged).text == parse_note(stored).text, "merge_cosignatures",
                 text, "changed the stored checkpoint's text")
        # every line it added verifies under a trusted witness key
        old = set(parse_note(stored).signatures)
        added = [s for s in parse_note(merged).signatures if s not in old]
        _require(bool(cosignature_times(parse_note(merged), trusted)) and all(
            (s.name, s.key_id) in {(w.name, w.key_id) for w in trusted} for s in added),
            "merge_cosignatures", text, "stored a line no trusted witness signed")
    return label


_WITNESS_STATE_SEED = {"o": {"size": 0, "root": "AAAA", "time": 1, "log_key": "k"}}


def _witness_dir(c: Corpus) -> tuple[Witness, Path]:
    path = c.tmp / "witness-state"
    if not path.exists():
        Witness.create(path, "w-state.example")
    return Witness(path), path / "state.json"


def _witness_state_seeds(c: Corpus) -> list[str]:
    cp = parse_checkpoint(parse_note(c.notes[0]).text)
    good = {ORIGIN: {"size": cp.size, "root": base64.b64encode(cp.root).decode(),
                     "time": T0 // 1000, "log_key": str(c.log_key)}}
    return [json.dumps(good), json.dumps({}), json.dumps({**good, "other.example": good[ORIGIN]})]


@target("witness.Witness.cosign(state.json)", quick=40, seeds=_witness_state_seeds,
        mutate=lambda c, rng, s: mutate_json_text(rng, s),
        raw=lambda c, rng: raw_text(rng, _JSON_TOKENS),
        examples=lambda c: [json.dumps({ORIGIN: 5}), json.dumps({ORIGIN: {}}),
                            json.dumps({ORIGIN: {"size": "x", "root": "AAAA"}})])
def check_witness_state(c: Corpus, state: str | bytes) -> str:
    w, path = _witness_dir(c)
    path.write_bytes(state if isinstance(state, bytes) else state.encode("utf-8", "surrogatepass"))
    label, out = _call(c, "Witness.cosign", state, w.cosign, c.notes[1], c.log_key, c.consistency,
                       now_ms=AT)
    if out is not None:
        _require(open_checkpoint(out, c.log_key).size == c.size, "Witness.cosign", state)
    return label


# Proof bundles.


def _bundle_mut(c: Corpus, rng: random.Random, seed: str) -> str | bytes:
    return mutate_json_text(rng, seed, c.bundles)


def _bundle_raw(c: Corpus, rng: random.Random) -> str | bytes:
    r = rng.random()
    if r < 0.4:
        return raw_text(rng, _JSON_TOKENS)
    if r < 0.7:
        return dumps(rand_json(rng))
    return raw_bytes(rng, [t.encode() for t in _JSON_TOKENS])


def _check_parsed_bundle(b: Bundle, data: Any) -> None:
    ok = isinstance(b.checkpoint, str) and all(
        isinstance(i, int) and not isinstance(i, bool) and 0 <= i < 2**63
        and isinstance(e, bytes) and all(isinstance(h, bytes) and len(h) == 32 for h in p)
        for i, (e, p) in b.entries.items()) and all(
        isinstance(k, bytes) and len(k) == 32 and isinstance(proof, smt.MapProof)
        and (r is None or isinstance(r, bytes)) for k, (proof, r) in b.proofs.items()) and (
        b.credentials and all(isinstance(i, str) and isinstance(x, str) for i, x in b.credentials))
    _require(bool(ok), "parse_bundle", data, "ill-typed parse")


@target("verify.parse_bundle", quick=60, seeds=lambda c: c.bundles, mutate=_bundle_mut,
        raw=_bundle_raw,
        examples=lambda c: ["[" * 100_000, '{"format": 1e999}', b"\xff\xfe{\x00",
                            '{"a": 1, "a": 2}', "9" * 5000])
def check_parse_bundle(c: Corpus, data: str | bytes) -> str:
    label, b = _call(c, "parse_bundle", data, parse_bundle, data)
    if b is not None:
        _check_parsed_bundle(b, data)
    return label


def _check_verdict(c: Corpus, v: Any, data: Any, what: str) -> None:
    _require(c.checkpoints.get(v.checkpoint.size) == v.checkpoint.root, what, data,
             "verified against a checkpoint never signed")
    honest = c.honest[v.checkpoint.size]
    for a in v.credentials:
        want = honest.get((a.issuer, a.cred_id), NOT_FOUND)
        _require(a.answer == want, what, data,
                 f"answered {a.answer} for {a.issuer}/{a.cred_id}, the truth is {want}")
        _require(a.subject in (None, c.subjects.get((a.issuer, a.cred_id))), what, data,
                 f"proved subject {a.subject!r}")
    # What the CLI prints must render too.
    json.dumps(v.as_dict())
    for a in v.credentials:
        a.describe()


@target("verify.verify_bundle", quick=40, seeds=lambda c: c.bundles, mutate=_bundle_mut,
        raw=_bundle_raw)
def check_verify_bundle(c: Corpus, data: str | bytes) -> str:
    labels = []
    for what, trust in (
            ("verify_bundle(log key)", {"log_key": c.log_key}),
            ("verify_bundle(root)", {"root": c.checkpoints[c.size], "size": c.size}),
            ("verify_bundle(witnesses)", {"log_key": c.log_key, "min_witnesses": 2,
                                          "witnesses": tuple(w.verifier() for w in c.witnesses),
                                          "max_age_ms": 7 * DAY})):
        label, v = _call(c, what, data, verify_bundle, data, at=AT, **trust)
        if v is not None:
            _check_verdict(c, v, data, what)
        labels.append(label)
    return labels[0] if labels[0] == labels[1] == labels[2] else "/".join(labels)


@target("openbadges.parse_credential", quick=80, seeds=lambda c: c.holder_docs,
        mutate=lambda c, rng, s: mutate_json_text(rng, s, c.holder_docs), raw=_bundle_raw)
def check_holder_doc(c: Corpus, data: str | bytes) -> str:
    """The holder's credential file, read strictly: what is accepted is a well-formed
    credential (``check_credential`` again gives the same reading)."""
    from ledger.openbadges import check_credential

    label, doc = _call(c, "parse_credential", data, parse_holder_document, data)
    if doc is not None:
        _require(isinstance(doc, dict) and isinstance(doc.get("id"), str),
                 "parse_credential", data, "ill-typed credential")
        badge = check_credential(doc)
        badge.id.encode("utf-8")
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    return label


def _beside_mut(c: Corpus, rng: random.Random, seed: tuple[str, str]) -> tuple[str, str]:
    """A bundle and a credential beside it: one of them mutated (the credential's text, then
    parsed strictly, as ``credledger verify`` reads it)."""
    bundle, cred = seed
    if rng.random() < 0.5:
        out = mutate_json_text(rng, bundle, c.bundles)
        return (out.decode("utf-8", "replace") if isinstance(out, bytes) else out), cred
    out = mutate_json_text(rng, cred, c.holder_docs)
    return bundle, out.decode("utf-8", "replace") if isinstance(out, bytes) else out


def _beside_seeds(c: Corpus) -> list[tuple[str, str]]:
    return [(b, json.dumps(doc)) for b, docs in c.beside for doc in docs]


@target("verify.verify_bundle(credential beside)", quick=30, seeds=_beside_seeds,
        mutate=_beside_mut, raw=lambda c, rng: (raw_text(rng), c.holder_docs[0]))
def check_verify_beside(c: Corpus, inp: tuple[str, str]) -> str:
    """A bundle verified with a holder's credential beside it and the holder's identifier:
    what verifies is the honest answer, with the holder checked only against their own
    credential."""
    data, text = inp
    label, doc = _call(c, "parse_credential", text, parse_holder_document, text)
    if doc is None:
        return "credential " + label
    subject = c.subjects.get(("uni", doc.get("id")), "nobody@example.org")
    label, v = _call(c, "verify_bundle(beside)", inp, verify_bundle, data, log_key=c.log_key,
                     at=AT, credentials=(doc,), subject=subject)
    if v is not None:
        _check_verdict(c, v, inp, "verify_bundle(beside)")
        checked = [a for a in v.credentials if a.credential]
        _require(len(checked) == 1 and checked[0].cred_id == doc["id"]
                 and checked[0].subject == c.subjects.get((checked[0].issuer, doc["id"])),
                 "verify_bundle(beside)", inp, "checked another credential or holder")
    return label


# A hostile log: mutated entries and records, sealed into a bundle that really is proven.


def _seal(c: Corpus, model: dict[str, Any]) -> str:
    """The bundle JSON of ``model`` under a checkpoint signed with the log key: the entries
    form the tree, the records the status map (the last entry's state_root is set to its root
    when it decodes), every proof is genuine. Only what the verifier checks *behind* the proofs
    stands between it and the hostile content."""
    writer = smt.MapWriter(lambda h: None)
    for k, rec in model["records"].items():
        writer.set(k, record_hash(rec))
    smap = smt.SparseMap(writer.new_nodes().get, writer.root)
    entries = list(model["entries"])
    if entries:
        try:
            last = decode_entry(entries[-1])
            entries[-1] = replace(last, state_root=smap.root).encode()
        except LedgerError:
            pass
    leaves = [merkle.leaf_hash(e) for e in entries]

    def node(level: int, index: int) -> bytes:
        return merkle.root_of(leaves[index << level:(index + 1) << level])

    n = len(entries)
    size = max(0, n + model["size_delta"])
    root = merkle.root_of(leaves)
    note = sign_checkpoint(Checkpoint(ORIGIN, size, root), c.log)
    keys = list(dict.fromkeys([*model["records"], *model["absent"]]))

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode()

    map_items = []
    for k in keys:
        proof = smap.prove(k)
        rec = model["records"].get(k)
        map_items.append({
            "key": b64(k), "leaf_key": None if proof.leaf_key is None else b64(proof.leaf_key),
            "leaf_value": None if proof.leaf_value is None else b64(proof.leaf_value),
            "siblings": [b64(h) for h in proof.siblings], "record": None if rec is None else b64(rec)})
    doc = {"format": BUNDLE_FORMAT, "checkpoint": note,
           "entries": [{"index": i, "entry": b64(e), "proof": [
               b64(h) for h in merkle.proof_hashes(merkle.inclusion_path(i, n), node)]}
               for i, e in enumerate(entries)],
           "map": map_items, "credentials": [{"issuer": i, "id": x} for i, x in model["creds"]]}
    return json.dumps(doc)


def _mutate_record(c: Corpus, rng: random.Random, rec: bytes) -> bytes:
    if rng.random() < 0.7:
        try:
            items = msgpack.unpackb(rec, raw=False)
        except Exception:  # noqa: BLE001
            return mutate_bytes(rng, rec)
        if isinstance(items, list) and items:
            i = rng.randrange(len(items))
            r = rng.random()
            if r < 0.5:  # a plausible value: an index, a state, None
                items[i] = rng.choice([None, 0, 1, 2, 3, c.size - 1, c.size, c.size + 5, 2**63 - 1,
                                       "issued", "revoked", "suspended", "rotated", "", "uni",
                                       "c1", "c9", T0, key_id(rng.choice(list(c.signers)))])
            else:
                items[i] = rand_mp(rng)
            try:
                return msgpack.packb(items, use_bin_type=True)
            except (ValueError, TypeError, OverflowError):
                return rec
    return mutate_bytes(rng, rec)


def _mutate_entry(c: Corpus, rng: random.Random, data: bytes) -> bytes:
    """A changed entry: a changed statement signed again by its signer, changed entry fields,
    or changed bytes."""
    try:
        items = msgpack.unpackb(data, raw=False)
    except Exception:  # noqa: BLE001
        return mutate_bytes(rng, data)
    if not (isinstance(items, list) and len(items) == 8):
        return mutate_msgpack(rng, data)
    r = rng.random()
    if r < 0.5 and isinstance(items[5], bytes):
        try:
            st_items = msgpack.unpackb(items[5], raw=False)
        except Exception:  # noqa: BLE001
            st_items = None
        if isinstance(st_items, list) and st_items and rng.random() < 0.7:
            i = rng.randrange(len(st_items))
            st_items[i] = rng.choice([
                "uni", "poly", named("c1"), named("c2"), named("c9"), ISSUE, REVOKE, SUSPEND,
                REINSTATE, ROTATE_KEY, REVOKE_KEY, REGISTER_ISSUER, RETIRE_ISSUER, T0,
                T0 + 400 * DAY, None, [], [named("c1")], [named("c1"), named("c1")],
                [named("c3")], bytes(32), b"\x01" + bytes(31), "cs201", "cs999", 0, 131072,
                "withdrawn", "under-review",
                rng.choice(list(c.signers)), "0" * 16, rand_mp(rng)])
            try:
                items[5] = msgpack.packb(st_items, use_bin_type=True)
            except (ValueError, TypeError, OverflowError):
                pass
        else:
            items[5] = mutate_msgpack(rng, items[5])
        if rng.random() < 0.2:  # signed by another known key
            items[6] = rng.choice(list(c.signers))
    elif r < 0.8:
        i = rng.choice((1, 2, 3, 4, 6, 7))
        items[i] = rng.choice([0, 1, c.size - 1, c.size, 2**63 - 1, T0 - 1, T0 + 10**12,
                               bytes(32), bytes(64), rand_mp(rng)])
    else:
        return mutate_bytes(rng, data)
    try:
        out = msgpack.packb(items, use_bin_type=True)
    except (ValueError, TypeError, OverflowError):
        return data
    return _resign(c, out) if rng.random() < 0.9 else out


def _mutate_model(c: Corpus, rng: random.Random, seed: dict[str, Any]) -> dict[str, Any]:
    m = copy.deepcopy(seed)
    for _ in range(rng.choice((1, 1, 2, 3))):
        op = rng.randrange(10)
        if op in (0, 1, 2):
            i = rng.randrange(len(m["entries"])) if m["entries"] else 0
            if m["entries"]:
                m["entries"][i] = _mutate_entry(c, rng, m["entries"][i])
        elif op in (3, 4, 5) and m["records"]:
            k = rng.choice(list(m["records"]))
            m["records"][k] = _mutate_record(c, rng, m["records"][k])
        elif op == 6 and m["records"]:  # a record moved under another key, or removed
            k = rng.choice(list(m["records"]))
            rec = m["records"].pop(k)
            if rng.random() < 0.6:
                m["records"][rng.choice(m["absent"] + list(m["records"]) or [k])] = rec
        elif op == 7 and m["entries"]:  # entries reordered, dropped or repeated
            e = m["entries"]
            r = rng.random()
            if r < 0.3:
                i, j = rng.randrange(len(e)), rng.randrange(len(e))
                e[i], e[j] = e[j], e[i]
            elif r < 0.6:
                del e[rng.randrange(len(e))]
            else:
                e.insert(rng.randint(0, len(e)), rng.choice(e))
        elif op == 8:
            m["creds"] = rng.sample(c.all_creds, rng.randint(1, 4))
            if rng.random() < 0.2:
                m["creds"].append(rng.choice(m["creds"]))
            if rng.random() < 0.3:
                m["size_delta"] = rng.choice((-1, 1, 5))
        elif m["docs"]:
            d = m["docs"][rng.randrange(len(m["docs"]))]
            key = rng.choice(sorted(d))
            d[key] = rng.choice([None, "", named("c1"), "uni", ORIGIN, [], [named("c1")],
                                 "0" * 64, str(d.get("id")).upper(), "2027-02-04T00:00:00Z",
                                 "\ud800", 5, rand_json(rng)])
    return m


def _raw_model(c: Corpus, rng: random.Random) -> dict[str, Any]:
    return {"entries": [raw_bytes(rng) for _ in range(rng.randint(0, 5))],
            "records": {map_key("cred", "uni", handle(i)): raw_bytes(rng)
                        for i in range(rng.randint(0, 4))},
            "absent": list(c.absent_keys[:2]),
            "creds": [["uni", handle(rng.randint(0, 4))] for _ in range(rng.randint(1, 3))],
            "docs": [], "size_delta": 0}


@target("verify.verify_bundle(hostile log, sealed)", quick=40, seeds=lambda c: [c.sealed_seed],
        mutate=_mutate_model, raw=_raw_model)
def check_sealed(c: Corpus, model: dict[str, Any]) -> str:
    data = _seal(c, model)
    label, v = _call(c, "verify_bundle(sealed)", model, verify_bundle, data, log_key=c.log_key,
                     at=AT, credentials=tuple(model["docs"]))
    if v is not None:
        json.dumps(v.as_dict())
        for a in v.credentials:
            a.describe()
    return label


# tlog-proof.


@target("tlogproof.parse_tlog_proof", quick=80, seeds=lambda c: c.tlog_proofs,
        mutate=_text_or_bytes, raw=_raw_text_or_bytes)
def check_parse_tlog_proof(c: Corpus, data: str | bytes) -> str:
    label, p = _call(c, "parse_tlog_proof", data, parse_tlog_proof, data)
    if p is not None:
        _require(p.format() == _as_text(data), "parse_tlog_proof", data, "does not re-format")
    return label


@target("tlogproof.check_tlog_proof", quick=50, seeds=lambda c: c.tlog_proofs,
        mutate=_text_or_bytes, raw=_raw_text_or_bytes)
def check_check_tlog_proof(c: Corpus, data: str | bytes) -> str:
    # Without extra data the entry is given by the caller: the logged one at the index.
    try:
        p = parse_tlog_proof(data)
        entry = None if p.extra is not None or p.index >= c.size else c.entries[p.index]
    except LedgerError:
        entry = None
    labels = []
    for what, trust in (("check_tlog_proof(log key)", {"verifier": c.log_key}),
                        ("check_tlog_proof(root)", {"root": c.checkpoints[c.size],
                                                    "size": c.size})):
        label, out = _call(c, what, data, check_tlog_proof, data, entry=entry, **trust)
        if out is not None:
            cp, index, logged = out
            _require(c.checkpoints.get(cp.size) == cp.root and index < cp.size
                     and logged == c.entries[index], what, data, "proved an entry never logged")
        labels.append(label)
    return labels[0] if labels[0] == labels[1] else "/".join(labels)


# Tiles.


def _tile_seeds(c: Corpus, prefix: str = "tile/") -> list[tuple[bytes, int]]:
    return [(data, _width_of(rel)) for rel, data in sorted(c.tile_files.items())
            if rel.startswith(prefix)]


def _hash_tile_seeds(c: Corpus) -> list[tuple[bytes, int]]:
    return [s for s in _tile_seeds(c) if s not in _tile_seeds(c, "tile/entries/")]


def _tile_mut(c: Corpus, rng: random.Random, seed: tuple[bytes, int]) -> tuple[bytes, int]:
    data, width = seed
    if rng.random() < 0.2:
        width = rng.choice((0, 1, width - 1, width + 1, 255, 256, 257))
    if rng.random() < 0.3 and rel_is_bundle(data, width):
        entries = parse_entry_bundle(data, width)
        i = rng.randrange(len(entries))
        entries[i] = _mutate_entry(c, rng, entries[i]) if rng.random() < 0.7 else mutate_bytes(
            rng, entries[i])
        return encode_bundle([e[:0xFFFF] for e in entries]), width
    return mutate_bytes(rng, data, [s for s, _ in _tile_seeds(c)]), width


def rel_is_bundle(data: bytes, width: int) -> bool:
    try:
        parse_entry_bundle(data, width)
        return True
    except LedgerError:
        return False


def _tile_raw(c: Corpus, rng: random.Random) -> tuple[bytes, int]:
    width = rng.choice((1, 2, 17, 255, 256, rng.randint(0, 300)))
    if rng.random() < 0.3:
        return rng.randbytes(max(0, 32 * width + rng.choice((-1, 0, 0, 1)))), width
    if rng.random() < 0.5:
        return b"".join(rng.choice((b"\x00\x00", b"\x00\x01x", b"\xff\xff", b"\x00\x05abcde"))
                        for _ in range(rng.randint(0, width + 2))), width
    return raw_bytes(rng), width


@target("tiles.parse_tile", quick=80, seeds=_hash_tile_seeds, mutate=_tile_mut, raw=_tile_raw)
def check_parse_tile(c: Corpus, inp: tuple[bytes, int]) -> str:
    data, width = inp
    label, hashes = _call(c, "parse_tile", inp, parse_tile, data, width)
    if hashes is not None:
        _require(len(hashes) == width and b"".join(hashes) == data
                 and all(len(h) == 32 for h in hashes), "parse_tile", inp)
    return label


@target("tiles.parse_bundle", quick=80, seeds=lambda c: _tile_seeds(c, "tile/entries/"), mutate=_tile_mut, raw=_tile_raw)
def check_parse_entry_bundle(c: Corpus, inp: tuple[bytes, int]) -> str:
    data, width = inp
    label, entries = _call(c, "tiles.parse_bundle", inp, parse_entry_bundle, data, width)
    if entries is not None:
        _require(len(entries) == width and encode_bundle(entries) == data,
                 "tiles.parse_bundle", inp, "does not re-encode")
    return label


# A tile directory with one file corrupted, truncated, removed or replaced; audit_tiles over it.


Plan = tuple[str, tuple[tuple[str, tuple[Any, ...]], ...]]
"""Which export ("small" or "big") and the changes to make: (path, ("write", bytes) |
("delete",) | ("directory",))."""


def _tile_plan_seeds(c: Corpus) -> list[Plan]:
    # The 300-entry export costs ~40 ms an audit: about one plan in sixteen uses it.
    small: list[Plan] = [("small", ((rel, ("write", data)),)) for rel, data in
                         sorted(c.tile_files.items())]
    return small * 5 + [("big", ())]


def _width_of(rel: str) -> int:
    return int(rel.rsplit("/", 1)[1]) if ".p/" in rel else 256


def _tile_plan_mut(c: Corpus, rng: random.Random, seed: Plan) -> Plan:
    which, _ = seed
    files = c.tile_files if which == "small" else _big_tiles(c)[1]
    changes: list[tuple[str, tuple[Any, ...]]] = []
    for _ in range(rng.choice((1, 1, 1, 2))):
        rel = rng.choice(sorted(files))
        data = files[rel]
        op = rng.randrange(10)
        if op == 0:
            changes.append((rel, ("delete",)))
        elif op == 1:
            changes.append((rel, ("directory",)))
        elif op in (2, 3) and rel == "checkpoint":
            changes.append((rel, ("write", _as_bytes(rng, mutate_text(rng, data.decode(),
                                                                      c.notes)))))
        elif op in (2, 3) and rel.startswith("tile/entries/"):
            # A changed entry, framed correctly and often signed again: the replay's checks.
            entries = parse_entry_bundle(data, _width_of(rel))
            i = rng.randrange(len(entries))
            entries[i] = _mutate_entry(c, rng, entries[i])[:0xFFFF]
            if rng.random() < 0.2:
                entries.insert(rng.randint(0, len(entries)), rng.choice(entries))
            changes.append((rel, ("write", encode_bundle(entries))))
        elif op == 4 and ".p/" in rel:
            # The partial tile missing, and a full one in its place (the reader falls back).
            full = rel.split(".p/")[0]
            body = data + rng.randbytes(rng.choice((0, 32, 2)) * (256 - _width_of(rel)))
            changes += [(rel, ("delete",)), (full, ("write", mutate_bytes(rng, body)
                                                    if rng.random() < 0.5 else body))]
        elif op == 5:  # a stray partial tile next to the real one
            changes.append((rel.split(".p/")[0] + ".p/" + str(rng.randint(0, 300)),
                            ("write", mutate_bytes(rng, data))))
        else:
            changes.append((rel, ("write", mutate_bytes(rng, data, list(files.values())))))
    return which, tuple(changes)


def _tile_plan_raw(c: Corpus, rng: random.Random) -> Plan:
    rel = rng.choice(sorted(c.tile_files))
    return "small", ((rel, ("write", raw_bytes(rng))),)


def _apply_change(base: Path, rel: str, op: tuple[Any, ...]) -> None:
    path = base / rel
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    if op[0] == "directory":
        path.mkdir(parents=True)
        (path / "x").write_bytes(b"x")
    elif op[0] == "write":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(op[1])


def _undo_change(base: Path, files: dict[str, bytes], rel: str) -> None:
    path = base / rel
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    if rel in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[rel])


@target("tiles.audit_tiles(directory)", quick=30, seeds=_tile_plan_seeds, mutate=_tile_plan_mut,
        raw=_tile_plan_raw)
def check_audit_tiles(c: Corpus, plan: Plan) -> str:
    which, changes = plan
    if which == "small":
        base, files, key, size, root = (c.tiles, c.tile_files, c.log_key, c.size,
                                        c.checkpoints[c.size])
    else:
        base, files, key = _big_tiles(c)
        size, root = 300, None
    try:
        for rel, op in changes:
            _apply_change(base, rel, op)
        label, report = _call(c, "audit_tiles", plan, audit_tiles, base, key, workers=1)
    finally:
        for rel, _ in reversed(changes):
            _undo_change(base, files, rel)
    if report is not None:
        _require(report.size == size and (root is None or report.root == root), "audit_tiles",
                 plan, "accepted another tree")
    return label


# The status map.


def _map_truth(c: Corpus) -> dict[bytes, bytes]:
    if "map-truth" not in c.pool:
        c.pool["map-truth"] = {k: record_hash(v) for k, v in c.records.items()}  # type: ignore[assignment]
    return c.pool["map-truth"]  # type: ignore[return-value]


def _smt_seeds(c: Corpus) -> list[tuple[Any, ...]]:
    return [(p.key, p.leaf_key, p.leaf_value, p.siblings) for p in c.map_proofs]


def _smt_mut(c: Corpus, rng: random.Random, seed: tuple[Any, ...]) -> tuple[Any, ...]:
    key, leaf_key, leaf_value, siblings = seed
    siblings = list(siblings)
    for _ in range(rng.choice((1, 1, 2, 3))):
        op = rng.randrange(9)
        if op == 0:
            key = mutate_bytes(rng, key) if rng.random() < 0.3 else _flip(rng, key)
        elif op == 1 and leaf_key is not None:
            leaf_key = _flip(rng, leaf_key) if rng.random() < 0.7 else rng.choice((key, None))
        elif op == 2 and leaf_value is not None:
            leaf_value = _flip(rng, leaf_value) if rng.random() < 0.7 else mutate_bytes(
                rng, leaf_value)
        elif op == 3 and siblings:
            i = rng.randrange(len(siblings))
            siblings[i] = rng.choice((_flip(rng, siblings[i]), smt.EMPTY, siblings[i][:31],
                                      mutate_bytes(rng, siblings[i])))
        elif op == 4 and siblings:
            del siblings[rng.randrange(len(siblings))]
        elif op == 5:
            siblings.insert(rng.randint(0, len(siblings)),
                            rng.choice((smt.EMPTY, rng.randbytes(32))))
        elif op == 6:
            other = rng.choice(c.map_proofs)
            leaf_key, leaf_value = other.leaf_key, other.leaf_value
        elif op == 7:
            key, leaf_key = (leaf_key or key), key
        else:
            siblings = siblings + [rng.randbytes(32)] * rng.choice((1, 200, 257))
    return key, leaf_key, leaf_value, tuple(siblings)


def _flip(rng: random.Random, b: bytes) -> bytes:
    if not b:
        return b
    i = rng.randrange(len(b))
    return b[:i] + bytes([b[i] ^ (1 << rng.randrange(8))]) + b[i + 1:]


def _smt_raw(c: Corpus, rng: random.Random) -> tuple[Any, ...]:
    def field_() -> bytes | None:
        return None if rng.random() < 0.2 else rng.randbytes(rng.choice((32, 32, 32, 0, 31, 33)))
    return (rng.randbytes(rng.choice((32, 32, 31))), field_(), field_(),
            tuple(rng.randbytes(rng.choice((32, 32, 32, 16))) for _ in range(_size(rng, 8, 260))))


@target("smt.MapProof+verify_proof", quick=80, seeds=_smt_seeds, mutate=_smt_mut, raw=_smt_raw)
def check_smt(c: Corpus, inp: tuple[Any, ...]) -> str:
    label, proof = _call(c, "MapProof", inp, smt.MapProof, *inp)
    if proof is None:
        return label
    label, value = _call(c, "verify_proof", inp, smt.verify_proof, c.state_root, proof)
    if label == "ok":
        _require(value == _map_truth(c).get(proof.key), "verify_proof", inp,
                 "proved a value the map does not hold")
    return label


# The command line.


def _batch_mut(c: Corpus, rng: random.Random, seed: str) -> bytes:
    lines = seed.split("\n")
    i = rng.randrange(len(lines))
    if lines[i].strip() and rng.random() < 0.7:
        out = mutate_json_text(rng, lines[i], c.batches)
        if isinstance(out, bytes):
            out = out.decode("utf-8", "surrogateescape")
        lines[i] = out.replace("\n", " ") if rng.random() < 0.9 else out
        text = "\n".join(lines)
    else:
        text = mutate_text(rng, seed, c.batches, _JSON_TOKENS + _TEXT_TOKENS)
    data = _encode_any(text) if rng.random() < 0.5 else text.encode("utf-8", "surrogatepass")
    return mutate_bytes(rng, data) if rng.random() < 0.1 else data


def _encode_any(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _batch_raw(c: Corpus, rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.5:
        return b"\n".join(_encode_any(dumps(rand_json(rng))) for _ in range(rng.randint(1, 3)))
    if r < 0.8:
        return _encode_any(raw_text(rng, _JSON_TOKENS))
    return raw_bytes(rng, [t.encode() for t in _JSON_TOKENS])


def _batch_seeds(c: Corpus) -> list[bytes]:
    return [b.encode("utf-8") for b in c.batches]


def _batch_mut_bytes(c: Corpus, rng: random.Random, seed: bytes) -> bytes:
    return _batch_mut(c, rng, seed.decode("utf-8"))


_BATCH_EXAMPLES = [b"[" * 50_000 + b"\n",
                   b'{"id": "a", "subject": "s", "title": "t", "expires": "9999-12-31"}\n',
                   b"\xff\n", b'{"id": "a"}\n' * 2, b"\n"]


@target("batchfile.read_batch", quick=60, seeds=_batch_seeds, mutate=_batch_mut_bytes,
        raw=_batch_raw, examples=lambda c: _BATCH_EXAMPLES)
def check_read_batch(c: Corpus, data: bytes) -> str:
    path = c.tmp / "batch.jsonl"
    path.write_bytes(data)
    label, rows = _call(c, "read_batch", data, lambda: list(read_batch(str(path))))
    if rows is not None:
        ids = [r.id for r in rows]
        _require(bool(rows) and len(set(ids)) == len(ids) and all(
            all(isinstance(v, str) for v in (r.id, r.subject, r.subject_type, r.achievement))
            and isinstance(r.parts, tuple) and all(isinstance(p, str) for p in r.parts)
            and all(v is None or isinstance(v, str) for v in (r.result, r.expires))
            for r in rows), "read_batch", data, "ill-typed rows")
    return label


def _check_cli(c: Corpus, result: Result, inp: Any, what: str, command: str) -> str:
    """Exit 0, or a non-zero exit with exactly one ``credledger: error:`` line on stderr and no
    traceback; an 'internal error' (an escaped exception) is tolerated only for a pinned bug."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise Escape(f"{what}: {type(result.exception).__name__} escaped click: "
                     f"{result.exception}\ninput: {_show(inp)}") from result.exception
    if "Traceback" in result.output or "Traceback" in result.stderr:
        raise Escape(f"{what}: a traceback\n{result.output[-500:]}\ninput: {_show(inp)}")
    if result.exit_code == 0:
        return "ok"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if len(lines) == 1 and lines[0].startswith('{"format": "credledger-error/1"'):
        error = json.loads(lines[0])["error"]  # --json: the error in its one JSON shape
        if error["code"] == result.exit_code:
            lines = [f"credledger: error: {error['message']}"]
    if command == "verify" and result.exit_code == 1 and not lines:
        return "ok:not-valid"  # a verified bundle whose answer is not VALID exits 1
    if len(lines) > 1 and lines[0].startswith("credledger: error: "):
        for bug in BUGS.values():
            if (command in bug.commands and bug.multiline and lines[0].startswith(bug.multiline)
                    and _bug_active(bug.name, c)):
                return f"known:{bug.name}"
    if len(lines) != 1 or not lines[0].startswith("credledger: error: "):
        raise Escape(f"{what}: exit {result.exit_code} without exactly one error line: "
                     f"{result.stderr[-500:]!r}\ninput: {_show(inp)}")
    if "internal error" in lines[0]:
        for bug in BUGS.values():
            if (command in bug.commands and any(m in lines[0] for m in bug.cli)
                    and _bug_active(bug.name, c)):
                return f"known:{bug.name}"
        raise Escape(f"{what}: {lines[0][:300]}\ninput: {_show(inp)}")
    return f"exit{result.exit_code}:" + _error_kind(lines[0])


def _error_kind(line: str) -> str:
    m = re.search(r"refused \(([a-z-]+)\)", line)
    if m:
        return f"refused({m.group(1)})"
    return "error"


@target("cli issue --batch", quick=25, seeds=_batch_seeds, mutate=_batch_mut_bytes,
        raw=_batch_raw, examples=lambda c: _BATCH_EXAMPLES)
def check_cli_issue(c: Corpus, data: bytes) -> str:
    env = _cli_env(c)
    env.batch.write_bytes(data)
    # Most runs sign with a key of nobody: every line is parsed and turned into a signed
    # statement, and only the append is refused (wrong-signer), so nothing is committed. In the
    # long run one in 32 uses the issuer's key and may commit (issue then calls os.sync()).
    real = LONG and hashlib.sha256(data).digest()[0] < 8
    result = env.run("issue", "uni", "--key", str(env.key if real else env.stranger),
                     "--batch", str(env.batch), "--out", str(env.out_issue), "--json")
    label = _check_cli(c, result, data, "credledger issue --batch", "issue")
    left = list((env.out_issue / "uni").glob(".pending*")) if (env.out_issue / "uni").exists() \
        else []
    _require(not left, "credledger issue --batch", data, f"left {left}")
    return label


@target("cli recover (pending JSONL)", quick=20,
        seeds=lambda c: [s.encode() for s in _cli_env(c).pending_seeds],
        mutate=_batch_mut_bytes, raw=_batch_raw,
        examples=lambda c: [b"\xff\n", b"[" * 5000 + b"\n"])
def check_cli_recover(c: Corpus, data: bytes) -> str:
    env = _cli_env(c)
    out = env.out_recover / "uni"
    pending = out / ".pending-fuzz.jsonl"
    pending.write_bytes(data)
    try:
        result = env.run("recover", "uni", "--out", str(env.out_recover), "--json")
        return _check_cli(c, result, data, "credledger recover", "recover")
    finally:
        pending.unlink(missing_ok=True)
        for p in out.glob("*.json"):
            p.unlink()


_CLI_FILE_KINDS = ("add-cosignatures", "witness-checkpoint", "witness-proof", "verify-bundle",
                   "verify-document", "audit-checkpoint")


def _cli_file_seeds(c: Corpus) -> list[tuple[str, bytes]]:
    env = _cli_env(c)
    proof = "".join(base64.b64encode(h).decode() + "\n" for h in c.consistency)
    return [("add-cosignatures", env.cosigned_note.encode()),
            ("witness-checkpoint", env.checkpoint_note.encode()),
            ("witness-proof", proof.encode()),
            *[("verify-bundle", b.encode()) for b in c.bundles[:3]],
            ("verify-document", c.holder_docs[0].encode()),
            ("audit-checkpoint", c.notes[0].encode())]


def _cli_file_mut(c: Corpus, rng: random.Random, seed: tuple[str, bytes]) -> tuple[str, bytes]:
    kind, data = seed
    text = data.decode("utf-8")
    if kind.startswith("verify"):
        out = mutate_json_text(rng, text, c.bundles)
    else:
        out = mutate_text(rng, text, c.notes)
    return kind, out if isinstance(out, bytes) else _as_bytes(rng, out)


def _cli_file_raw(c: Corpus, rng: random.Random) -> tuple[str, bytes]:
    return rng.choice(_CLI_FILE_KINDS), raw_bytes(rng, [t.encode("utf-8", "surrogatepass")
                                                        for t in _TEXT_TOKENS])


@target("cli file inputs (cosigned checkpoint, witness cosign, verify, audit)", quick=25,
        seeds=_cli_file_seeds, mutate=_cli_file_mut, raw=_cli_file_raw,
        examples=lambda c: [(k, b"\xff\n") for k in _CLI_FILE_KINDS])
def check_cli_files(c: Corpus, inp: tuple[str, bytes]) -> str:
    env = _cli_env(c)
    kind, data = inp
    env.input.write_bytes(data)
    f = str(env.input)
    vk = str(c.log_key)
    if kind == "add-cosignatures":
        args = ["checkpoint", "--add-cosignatures", f, "--json", "--witness",
                str(c.witnesses[0].verifier())]
        command = "checkpoint"
    elif kind == "witness-checkpoint":
        args = ["witness", "cosign", f, "--state", str(env.witness), "--log-key", env.vkey]
        command = "witness"
    elif kind == "witness-proof":
        args = ["witness", "cosign", _cli_checkpoint_file(env), "--state", str(env.witness), "--log-key", env.vkey,
                "--proof", f]
        command = "witness"
    elif kind == "verify-bundle":
        args = ["verify", f, "--log-key", vk, "--at", "2026-01-31", "--json"]
        command = "verify"
    elif kind == "verify-document":
        bundle = _cli_bundle_file(c)
        args = ["verify", f, "--bundle", bundle, "--log-key", vk, "--at", "2026-01-31"]
        command = "verify"
    else:
        args = ["audit", "--tiles", str(c.tiles), "--log-key", vk, "--checkpoint", f, "--json"]
        command = "audit"
    return _check_cli(c, env.run(*args), inp, f"credledger {' '.join(args[:2])}", command)


def _cli_checkpoint_file(env: CliEnv) -> str:
    path = env.input.with_name("checkpoint.txt")
    if not path.exists():
        path.write_text(env.checkpoint_note, encoding="utf-8")
    return str(path)


def _cli_bundle_file(c: Corpus) -> str:
    path = c.tmp / "c1.bundle.json"
    if not path.exists():
        path.write_text(c.bundles[0], encoding="utf-8")  # it proves holder_docs[0], c1
    return str(path)


@target("batchfile.parse_date", quick=80, seeds=lambda c: ["2026-01-31", "2028-06-30", "0001-01-01"],
        mutate=lambda c, rng, s: mutate_text(rng, s, [], ["9", "0", "1", "-", "\u0661", "\u00b2"]),
        raw=lambda c, rng: raw_text(rng),
        examples=lambda c: ["9999-12-31", "0000-01-01", "\u0661\u0662\u0663\u0664-01-01"])
def checkparse_date(c: Corpus, text: str) -> str:
    label, ms = _call(c, "parse_date", text, parse_date, text, "expires")
    if ms is not None:
        _require(isinstance(ms, int) and ms % DAY == 0, "parse_date", text, "not a UTC midnight")
    return label


@target("verifycmd.parse_duration", quick=80, seeds=lambda c: ["90m", "36h", "7d", "3600s"],
        mutate=lambda c, rng, s: mutate_text(rng, s, [], ["9", "0", "d", "s", "\u0661", "\u00b2",
                                                          "\u2155", "\uff11"]),
        raw=lambda c, rng: raw_text(rng), examples=lambda c: ["\u00b2d", "\u0661d", "d", ""])
def check_parse_duration(c: Corpus, text: str) -> str:
    label, ms = _call(c, "parse_duration", text, parse_duration, text,
                      allowed=(LedgerError, CommandError))
    if ms is not None:
        _require(isinstance(ms, int) and ms >= 0, "parse_duration", text)
    return label


# ------------------------------------------------------------------------------ the tests


def _names() -> list[str]:
    return [n for n in TARGETS if not ONLY or n in ONLY]


_SOME_SEEDS_REFUSED = {"witness.Witness.cosign(state.json)",  # an empty state needs no proof
                       "cli file inputs (cosigned checkpoint, witness cosign, verify, audit)"}


@pytest.mark.parametrize("name", _names())
def test_seeds_are_accepted(corpus: Corpus, name: str) -> None:
    """Every fuzzed target starts from inputs its decoder accepts, so mutants are near-misses.
    (A batch signed with the stranger's key is parsed completely, then refused by the log.)"""
    t = TARGETS[name]
    labels = [t.check(corpus, seed) for seed in t.seeds(corpus)]
    accepted = [lb.startswith("ok") or lb == "exit3:refused(wrong-signer)" for lb in labels]
    if name in _SOME_SEEDS_REFUSED:
        assert any(accepted), (name, labels)
    else:
        assert all(accepted), (name, labels)


@pytest.mark.parametrize("name", _names())
def test_explicit_examples(corpus: Corpus, name: str) -> None:
    """Inputs known to have broken a decoder somewhere (deep nesting, surrogates, ...)."""
    t = TARGETS[name]
    for example in t.examples(corpus):
        t.check(corpus, example)


@pytest.mark.parametrize("name", _names())
def test_fuzz_mutants(corpus: Corpus, name: str) -> None:
    t = TARGETS[name]

    @_hypothesis(t.quick)
    @given(st.randoms(use_true_random=False))
    def run(rng: random.Random) -> None:
        t.check(corpus, t.mutant(corpus, rng))

    run()


@pytest.mark.parametrize("name", _names())
def test_fuzz_raw(corpus: Corpus, name: str) -> None:
    t = TARGETS[name]

    @_hypothesis(max(10, t.quick // 2))
    @given(st.randoms(use_true_random=False))
    def run(rng: random.Random) -> None:
        t.check(corpus, t.raw(corpus, rng))

    run()


# Native Hypothesis strategies for the byte and text decoders: they shrink best.

_BYTE_DECODERS = {"decode_entry": decode_entry, "decode_statement": decode_statement,
                  "decode_record": decode_record, "parse_note": parse_note,
                  "open_checkpoint": lambda d: open_checkpoint(d, _CORPUS.log_key),  # type: ignore[union-attr]
                  "parse_bundle": parse_bundle, "parse_holder_document": parse_holder_document,
                  "parse_tlog_proof": parse_tlog_proof}
_TEXT_DECODERS = {"parse_note": parse_note, "parse_checkpoint": parse_checkpoint,
                  "parse_verifier": parse_verifier, "parse_signer": parse_signer,
                  "parse_cosigner": parse_cosigner, "parse_witness_key": parse_witness_key,
                  "parse_bundle": parse_bundle, "parse_holder_document": parse_holder_document,
                  "parse_tlog_proof": parse_tlog_proof, "parse_date": lambda t: parse_date(t, "x")}


@_hypothesis(150)
@given(st.binary(max_size=400))
def test_any_bytes_raise_only_ledger_errors(corpus: Corpus, data: bytes) -> None:
    for name, decode in _BYTE_DECODERS.items():
        _call(corpus, name, data, decode, data)


@_hypothesis(150)
@given(st.text(max_size=300))
def test_any_text_raises_only_ledger_errors(corpus: Corpus, text: str) -> None:
    for name, decode in _TEXT_DECODERS.items():
        _call(corpus, name, text, decode, text)


# The long run: a plain seeded random-mutation loop, far faster than Hypothesis per input.


@pytest.mark.skipif(not LONG, reason="the long fuzz run is opt-in: CREDLEDGER_FUZZ_LONG=1")
@pytest.mark.parametrize("name", _names())
def test_long_run(corpus: Corpus, name: str) -> None:
    t = TARGETS[name]
    rng = random.Random(f"{LONG_SEED}:{name}")
    outcomes: Counter[str] = Counter()
    failures: dict[str, str] = {}
    slowest = (0.0, "")
    start = time.perf_counter()
    for n in range(LONG_INPUTS):
        kind = "raw" if n % 5 == 0 else "mutant"
        try:
            inp = t.raw(corpus, rng) if kind == "raw" else t.mutant(corpus, rng)
        except Exception as exc:  # noqa: BLE001 - a bug of this file: report it, go on
            failures.setdefault(f"harness {type(exc).__name__}", traceback.format_exc()[-1500:])
            outcomes["HARNESS"] += 1
            continue
        t0 = time.perf_counter()
        try:
            label = t.check(corpus, inp)
        except Escape as exc:
            first = str(exc).splitlines()[0]
            sig = re.sub(r"\d+", "N", first)[:120]
            failures.setdefault(sig, str(exc)[:1500])
            label = "FAILED"
        except Exception as exc:  # noqa: BLE001 - a check of this file failed: report, go on
            failures.setdefault(f"check {type(exc).__name__}: {str(exc)[:60]}",
                                f"{traceback.format_exc()[-1500:]}\ninput: {_show(inp)}")
            label = "FAILED"
        took = time.perf_counter() - t0
        if took > slowest[0]:
            slowest = (took, _show(inp)[:200])
        outcomes[label.split(":")[0] if label.startswith("refused") else label] += 1
    seconds = time.perf_counter() - start
    line = {"target": name, "inputs": LONG_INPUTS, "seconds": round(seconds, 1),
            "outcomes": dict(outcomes.most_common()), "failures": len(failures),
            "slowest_ms": round(slowest[0] * 1000, 1), "slowest_input": slowest[1],
            "seed": LONG_SEED}
    print(f"\n[fuzz] {name}: {LONG_INPUTS} inputs in {seconds:.1f} s; "
          f"{dict(outcomes.most_common(8))}; failures {len(failures)}; "
          f"slowest {slowest[0] * 1000:.0f} ms", file=sys.stderr)
    if REPORT:
        with open(REPORT, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
    assert not failures, "\n\n".join(list(failures.values())[:5])


# ------------------------------------------------------------------------------ bugs found


def _repro_batch_deep(c: Corpus | None) -> object:
    assert c is not None
    return _reproduces(lambda: _deep_batch(c.tmp), RecursionError)


def _repro_date(c: Corpus | None) -> bool:
    return _reproduces(lambda: parse_date("9999-12-31", "expires"), OverflowError)


def _repro_duration(c: Corpus | None) -> bool:
    return _reproduces(lambda: parse_duration("\u00b2d"), ValueError)


def _repro_witness_state(c: Corpus | None) -> bool:
    assert c is not None
    w, path = _witness_dir(c)
    path.write_text(json.dumps({ORIGIN: 5}), encoding="utf-8")
    return _reproduces(lambda: w.cosign(c.notes[1], c.log_key, [], now_ms=AT), TypeError)


def _repro_witness_state_deep(c: Corpus | None) -> bool:
    assert c is not None
    w, path = _witness_dir(c)
    path.write_text("[" * 100_000, encoding="utf-8")
    return _reproduces(lambda: w.cosign(c.notes[1], c.log_key, [], now_ms=AT), RecursionError)


def _recover_says(c: Corpus, content: bytes) -> str:
    env = _cli_env(c)
    pending = env.out_recover / "uni" / ".pending-repro.jsonl"
    pending.write_bytes(content)
    try:
        return env.run("recover", "uni", "--out", str(env.out_recover)).stderr
    finally:
        pending.unlink(missing_ok=True)


def _verify_with_document_says(c: Corpus | None, **changes: str) -> str:
    assert c is not None
    doc = json.loads(c.holder_docs[0])
    doc["issuer"] = {**doc["issuer"], **changes}
    try:
        verify_bundle(c.bundles[0], log_key=c.log_key, at=AT, credentials=(doc,))
    except LedgerError as exc:
        return str(exc)
    return ""


def _repro_cli_utf8(c: Corpus | None) -> bool:
    assert c is not None
    env = _cli_env(c)
    env.input.write_bytes(b"\xff\n")
    result = env.run("checkpoint", "--add-cosignatures", str(env.input), "--witness",
                     str(c.witnesses[0].verifier()))
    return "internal error (UnicodeDecodeError" in result.stderr


_REPRODUCERS: dict[str, Callable[[Corpus | None], Any]] = {
    "batch-deep-json": _repro_batch_deep, "date-overflow": _repro_date,
    "duration-unicode-digit": _repro_duration, "witness-state": _repro_witness_state,
    "witness-state-deep": _repro_witness_state_deep,
    "recover-non-utf8": lambda c: "internal error (UnicodeDecodeError" in _recover_says(
        c, b"\xff\n"),  # type: ignore[arg-type]
    "recover-deep-json": lambda c: "internal error (RecursionError" in _recover_says(
        c, b"[" * 5000 + b"\n"),  # type: ignore[arg-type]
    "cli-utf8-files": _repro_cli_utf8,
    "surrogate-id-lookup": lambda c: _reproduces(
        lambda: c.ledger.cred_entries("uni", "\ud800"), UnicodeEncodeError),  # type: ignore[union-attr]
    "verify-doc-text-in-error": lambda c: "\n" in _verify_with_document_says(c, name="a\nb"),
}


def test_batch_line_of_deeply_nested_json_is_an_encoding_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_bytes(b"[" * 50_000 + b"\n")
    with pytest.raises(EncodingError):
        list(read_batch(str(path)))


def test_last_representable_expiry_date_is_an_encoding_error_or_accepted() -> None:
    try:
        parse_date("9999-12-31", "expires")
    except EncodingError:
        pass


def test_duration_with_a_non_decimal_digit_is_a_usage_error() -> None:
    with pytest.raises(CommandError):
        parse_duration("\u00b2d")


@pytest.mark.parametrize("state", [{ORIGIN: 5}, {ORIGIN: {}}, {ORIGIN: {"size": "x", "root": ""}}],
                         ids=["not-an-object", "no-size", "size-not-decimal"])
def test_damaged_witness_state_is_a_ledger_error(corpus: Corpus, state: Any) -> None:
    w, path = _witness_dir(corpus)
    path.write_text(json.dumps(state), encoding="utf-8")
    with pytest.raises(LedgerError):
        w.cosign(corpus.notes[1], corpus.log_key, [], now_ms=AT)


def test_deeply_nested_witness_state_is_a_ledger_error(corpus: Corpus) -> None:
    w, path = _witness_dir(corpus)
    path.write_text("[" * 100_000, encoding="utf-8")
    with pytest.raises(LedgerError):
        w.cosign(corpus.notes[1], corpus.log_key, [], now_ms=AT)


@pytest.mark.parametrize("content", [b"\xff\n", b"[" * 5000 + b"\n"], ids=["not-utf8", "deep"])
def test_damaged_pending_file_is_a_one_line_error(corpus: Corpus, content: bytes) -> None:
    env = _cli_env(corpus)
    pending = env.out_recover / "uni" / ".pending-xfail.jsonl"
    pending.write_bytes(content)
    try:
        result = env.run("recover", "uni", "--out", str(env.out_recover))
    finally:
        pending.unlink(missing_ok=True)
    assert result.exit_code == 3
    assert "internal error" not in result.stderr and "not a pending record" in result.stderr


def test_pending_line_with_a_huge_integer_id_is_a_one_line_error(corpus: Corpus) -> None:
    """Found by the long run at f142c70: recover passed any JSON "id" to the store lookup, and
    msgpack raised OverflowError for an integer of 2**64 or more ('internal error')."""
    env = _cli_env(corpus)
    doc = {**json.loads(env.pending_seeds[1]), "id": 10**40}
    pending = env.out_recover / "uni" / ".pending-xfail.jsonl"
    pending.write_text(json.dumps(doc) + "\n", encoding="utf-8")
    try:
        result = env.run("recover", "uni", "--out", str(env.out_recover))
    finally:
        pending.unlink(missing_ok=True)
    assert result.exit_code == 3
    assert "internal error" not in result.stderr and "not a pending record" in result.stderr


@pytest.mark.parametrize("kind", ["add-cosignatures", "witness-checkpoint", "witness-proof"])
def test_non_utf8_cli_input_files_are_one_line_errors(corpus: Corpus, kind: str) -> None:
    env = _cli_env(corpus)
    env.input.write_bytes(b"\xff\n")
    f = str(env.input)
    args = {"add-cosignatures": ["checkpoint", "--add-cosignatures", f, "--witness",
                                 str(corpus.witnesses[0].verifier())],
            "witness-checkpoint": ["witness", "cosign", f, "--state", str(env.witness),
                                   "--log-key", env.vkey],
            "witness-proof": ["witness", "cosign", _cli_checkpoint_file(env), "--state",
                              str(env.witness), "--log-key", env.vkey, "--proof", f]}[kind]
    result = env.run(*args)
    assert result.exit_code != 0
    assert "internal error" not in result.stderr, result.stderr


def test_verify_error_stays_one_line_with_a_hostile_document(corpus: Corpus) -> None:
    assert "\n" not in _verify_with_document_says(corpus, name="a\nb")
    env = _cli_env(corpus)
    doc = json.loads(corpus.holder_docs[0])
    doc["issuer"]["name"] = "a\ncredledger: ok \x1b[2K"
    env.input.write_text(json.dumps(doc), encoding="utf-8")
    result = env.run("verify", str(env.input), "--bundle", _cli_bundle_file(corpus),
                     "--log-key", str(corpus.log_key))
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "\x1b" not in result.output


@pytest.mark.parametrize("how", ["recover", "status", "revoke"])
def test_surrogate_credential_ids_are_field_errors(corpus: Corpus, how: str) -> None:
    env = _cli_env(corpus)
    if how == "recover":
        doc = json.loads(env.pending_seeds[1])
        doc["id"] = "\ud800"
        pending = env.out_recover / "uni" / ".pending-xfail.jsonl"
        pending.write_text(json.dumps(doc) + "\n", encoding="utf-8")
        try:
            result = env.run("recover", "uni", "--out", str(env.out_recover))
        finally:
            pending.unlink(missing_ok=True)
    elif how == "status":
        result = env.run("status", "uni", "c\udcff")  # the byte 0xff on a command line
    else:
        result = env.run("revoke", "uni", "c\udcff", "--key", str(env.stranger))
    assert result.exit_code != 0
    assert "internal error" not in result.stderr, result.stderr


@pytest.mark.parametrize("parts", ["[[[]]]", "[5]", "[null]", '[{"id": "c1"}]'])
def test_batch_parts_that_are_not_strings_are_field_errors(corpus: Corpus, tmp_path: Path,
                                                           parts: str) -> None:
    """Found by this file's entry format 2 migration: a list inside 'parts' reached the
    issuer's lookup of its parts as a dict key ('internal error (TypeError: unhashable type:
    'list')'). Refused now as the batch's own field error, by the reader and the command."""
    path = tmp_path / "batch.jsonl"
    path.write_text('{"id": "b-9", "subject": "s", "achievement": "cs201", "parts": '
                    f"{parts}}}\n", encoding="utf-8")
    with pytest.raises(EncodingError, match="'parts' must be a list of credential ids"):
        list(read_batch(str(path)))
    env = _cli_env(corpus)
    result = env.run("issue", "uni", "--key", str(env.key), "--batch", str(path), "--out",
                     str(env.out_issue))
    assert result.exit_code == 3 and "internal error" not in result.stderr
    assert result.stderr.count("\n") == 1 and "'parts' must be a list" in result.stderr
