"""Tests for ledger.keys: key files, plain and passphrase-encrypted.

Encrypted files are written with a tiny scrypt cost (:data:`FAST`) so the suite stays fast; one
test checks that the production default is the strong one.
"""

from __future__ import annotations

import base64
import os
import re
import time
from pathlib import Path

import pytest

from ledger import keys
from ledger.errors import KeyFileError
from ledger.keys import (
    PASSPHRASE_ENV,
    SCRYPT_COST,
    ScryptCost,
    is_encrypted,
    read_key_text,
    read_signer,
    write_key_text,
    write_signer,
)
from ledger.note import Signer, parse_signer

FAST = ScryptCost(log_n=4, r=8, p=1)
PASS = "correct horse battery staple"
SEED = bytes(range(32))
SIGNER = Signer("uni.example", SEED)
SECRET_B64 = base64.b64encode(b"\x01" + SEED).decode()
WRONG = "wrong passphrase or damaged key file"


@pytest.fixture(autouse=True)
def _fast_and_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "SCRYPT_COST", FAST)
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)


def refused(path: Path, *args: object, **kwargs: object) -> str:
    """Read ``path`` as a signer, expect KeyFileError, and check the message is safe."""
    with pytest.raises(KeyFileError) as info:
        read_signer(path, *args, **kwargs)  # type: ignore[arg-type]
    return safe(info.value)


def safe(error: BaseException) -> str:
    message = str(error)
    assert "\n" not in message
    assert SECRET_B64 not in message and str(SIGNER) not in message
    assert SEED.hex() not in message and PASS not in message
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    return message


def encrypted(tmp_path: Path, name: str = "enc.key", passphrase: str = PASS) -> Path:
    path = tmp_path / name
    write_signer(path, SIGNER, passphrase)
    return path


def fields(path: Path) -> list[str]:
    return path.read_text().rstrip("\n").split("+")


def rewrite(path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


# Round trips and the file format.


def test_plain_round_trip_is_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "plain.key"
    write_signer(path, SIGNER)
    assert path.read_bytes() == (str(SIGNER) + "\n").encode()
    assert read_signer(path) == SIGNER
    assert read_key_text(path) == str(SIGNER)
    assert not is_encrypted(path)
    # A passphrase given for a plain file is ignored, and a callable is never called.
    assert read_signer(path, "anything") == SIGNER
    assert read_signer(path, lambda: pytest.fail("prompted for a plain file")) == SIGNER


def test_encrypted_round_trip(tmp_path: Path) -> None:
    path = encrypted(tmp_path)
    data = path.read_bytes()
    assert data.endswith(b"\n") and data.count(b"\n") == 1 and data.isascii()
    assert SECRET_B64.encode() not in data and b"PRIVATE" not in data
    assert is_encrypted(path)
    assert read_signer(path, PASS) == SIGNER
    assert read_key_text(path, PASS) == str(SIGNER)


def test_encrypted_format_fields(tmp_path: Path) -> None:
    f = fields(encrypted(tmp_path))
    assert len(f) == 9
    assert f[:3] == ["ENCRYPTED", "KEY", "scrypt-chacha20poly1305"]
    assert f[3:6] == [str(FAST.log_n), str(FAST.r), str(FAST.p)]

    def unpad(s: str) -> bytes:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

    assert len(unpad(f[6])) == 16 and len(unpad(f[7])) == 12
    assert len(unpad(f[8])) == len(str(SIGNER)) + 16
    # Fresh salt and nonce every time.
    g = fields(encrypted(tmp_path, "again.key"))
    assert f[6] != g[6] and f[7] != g[7] and f[8] != g[8]


def test_raw_text_round_trip(tmp_path: Path) -> None:
    text = "PRIVATE+KEY+witness.example+0123abcd+BAAAAA=="  # need not be a valid key here
    write_key_text(tmp_path / "plain", text)
    write_key_text(tmp_path / "enc", text, PASS)
    assert read_key_text(tmp_path / "plain") == text
    assert read_key_text(tmp_path / "enc", PASS) == text
    assert (tmp_path / "plain").read_text() == text + "\n"


def test_unicode_passphrase_is_normalized(tmp_path: Path) -> None:
    path = encrypted(tmp_path, passphrase="caf\u00e9 \U0001f511")
    assert read_signer(path, "cafe\u0301 \U0001f511") == SIGNER  # NFD spelling, same phrase


def test_cost_argument_and_strong_default(tmp_path: Path) -> None:
    assert SCRYPT_COST == ScryptCost(15, 8, 1)  # the module's own value, not the fixture's
    path = tmp_path / "k"
    write_signer(path, SIGNER, PASS, cost=ScryptCost(5, 2, 3))
    assert fields(path)[3:6] == ["5", "2", "3"]
    assert read_signer(path, PASS) == SIGNER
    with pytest.raises(KeyFileError):
        write_signer(tmp_path / "huge", SIGNER, PASS, cost=ScryptCost(21, 8, 1))
    assert not (tmp_path / "huge").exists()


# Permissions, creation and refusal of non-files.


@pytest.mark.parametrize("passphrase", [None, PASS])
def test_mode_0600_and_never_overwrite(tmp_path: Path, passphrase: str | None) -> None:
    path = tmp_path / "k"
    old = os.umask(0)
    try:
        write_signer(path, SIGNER, passphrase)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o600
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        write_signer(path, Signer.generate("other"), passphrase)
    assert path.read_bytes() == before


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
@pytest.mark.parametrize("passphrase", [None, PASS])
def test_readable_by_others_is_refused(tmp_path: Path, mode: int, passphrase: str | None) -> None:
    path = tmp_path / "k"
    write_signer(path, SIGNER, passphrase)
    path.chmod(mode)
    assert "readable by others" in refused(path, PASS)
    with pytest.raises(KeyFileError):
        is_encrypted(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert "no such key file" in refused(tmp_path / "absent", PASS)
    with pytest.raises(KeyFileError, match="no such key file"):
        is_encrypted(tmp_path / "absent")
    (tmp_path / "dir").mkdir(mode=0o700)
    assert str(tmp_path / "dir") in refused(tmp_path / "dir", PASS)
    with pytest.raises(KeyFileError):
        write_signer(tmp_path / "dir", SIGNER, PASS)
    with pytest.raises(KeyFileError, match="cannot create"):
        write_signer(tmp_path / "absent" / "k", SIGNER, PASS)


def test_write_refuses_bad_text_before_creating(tmp_path: Path) -> None:
    for i, text in enumerate(["two\nlines", "caf\u00e9", "x" * keys.MAX_KEY_FILE]):
        for passphrase in (None, PASS):
            path = tmp_path / f"k{i}{passphrase is None}"
            with pytest.raises(KeyFileError):
                write_key_text(path, text, passphrase)
            assert not path.exists()
    with pytest.raises(KeyFileError, match="passphrase is empty"):
        write_signer(tmp_path / "empty", SIGNER, "")
    assert not (tmp_path / "empty").exists()


def test_directory_is_synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[bool] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.path.isdir(f"/proc/self/fd/{fd}") if os.path.isdir("/proc/self/fd")
                      else True)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_signer(tmp_path / "k", SIGNER, PASS)
    assert len(synced) == 2 and synced[-1]


# Passphrases.


def test_wrong_passphrase(tmp_path: Path) -> None:
    path = encrypted(tmp_path)
    for wrong in ("wrong", PASS + " ", PASS.upper(), "\u00e9"):
        assert refused(path, wrong) == f"{path}: {WRONG}"
    assert "passphrase is empty" in refused(path, "")
    assert "not valid Unicode" in refused(path, "\ud800")


def test_no_passphrase_and_env_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = encrypted(tmp_path)
    assert refused(path) == (f"{path}: key file is encrypted; "
                             "set CREDLEDGER_PASSPHRASE or enter the passphrase")
    monkeypatch.setenv(PASSPHRASE_ENV, "")  # empty counts as unset
    assert "is encrypted" in refused(path)
    monkeypatch.setenv(PASSPHRASE_ENV, PASS)
    assert read_signer(path) == SIGNER
    assert read_key_text(path) == str(SIGNER)
    # The environment is used before a prompt; an explicit string wins over both.
    assert read_signer(path, lambda: pytest.fail("prompted although the env var is set")) == SIGNER
    assert refused(path, "wrong") == f"{path}: {WRONG}"
    monkeypatch.setenv(PASSPHRASE_ENV, "wrong")
    assert refused(path) == f"{path}: {WRONG}"
    assert read_signer(path, PASS) == SIGNER


def test_callable_passphrase_called_only_when_encrypted(tmp_path: Path) -> None:
    calls: list[int] = []

    def prompt() -> str:
        calls.append(1)
        return PASS

    plain = tmp_path / "plain.key"
    write_signer(plain, SIGNER)
    assert read_signer(plain, prompt) == SIGNER and calls == []
    assert read_signer(encrypted(tmp_path), prompt) == SIGNER and calls == [1]
    # Not for garbage, damaged or hostile files either: nothing to decrypt, nothing to ask.
    garbage = tmp_path / "garbage"
    write_key_text(garbage, "ENCRYPTED+KEY+scrypt-chacha20poly1305+nonsense")
    refused(garbage, prompt)
    hostile = tmp_path / "hostile"
    f = fields(encrypted(tmp_path, "h"))
    f[3] = "20"
    write_key_text(hostile, "+".join(f))
    refused(hostile, prompt)
    assert calls == [1]
    assert refused(encrypted(tmp_path, "w"), lambda: "wrong").endswith(WRONG)
    assert "not text" in refused(encrypted(tmp_path, "n"), lambda: None)


# Damage, truncation, hostile parameters, garbage.


def test_every_single_byte_change_is_refused(tmp_path: Path) -> None:
    path = encrypted(tmp_path)
    original = path.read_bytes()
    for i in range(len(original)):
        for flip in (0x01, 0x20, 0x80):
            damaged = bytearray(original)
            damaged[i] ^= flip
            rewrite(path, bytes(damaged))
            refused(path, PASS)
            # As raw text, a change of the prefix makes a "plain" line that is no key at all.
            try:
                text = read_key_text(path, PASS)
            except KeyFileError as error:
                safe(error)
            else:
                assert i < len("ENCRYPTED+KEY+") and not text.startswith("PRIVATE+KEY+")
                assert SECRET_B64 not in text
    rewrite(path, original)
    assert read_signer(path, PASS) == SIGNER


def test_truncated_and_extended_files_are_refused(tmp_path: Path) -> None:
    path = encrypted(tmp_path)
    original = path.read_bytes()
    for n in range(len("ENCRYPTED+KEY+"), len(original)):
        rewrite(path, original[:n])
        refused(path, PASS)
    for extra in (b"\n", b" ", b"\r\n", b"A", original):
        rewrite(path, original + extra)
        refused(path, PASS)
    rewrite(path, b" " + original)
    refused(path, PASS)


@pytest.mark.parametrize("log_n,r,p", [
    ("20", "8", "1"),  # 1 GiB
    ("21", "1", "1"),
    ("999", "8", "1"),
    ("15", "33", "1"),
    ("15", "8", "17"),
    ("17", "8", "16"),  # 128 MiB, 16 times over
    ("16", "8", "16"),  # 64 MiB, 16 times over: twice the work limit
    ("0", "8", "1"),
    ("15", "0", "1"),
    ("15", "8", "0"),
    ("015", "8", "1"),
    ("-15", "8", "1"),
    ("1" * 4000, "8", "1"),
    ("", "8", "1"),
])
def test_hostile_scrypt_parameters_are_refused_fast(
        tmp_path: Path, log_n: str, r: str, p: str) -> None:
    path = encrypted(tmp_path)
    f = fields(path)
    f[3:6] = [log_n, r, p]
    rewrite(path, ("+".join(f) + "\n").encode())
    start = time.perf_counter()
    refused(path, PASS)
    assert time.perf_counter() - start < 0.5


def test_structural_garbage_is_refused(tmp_path: Path) -> None:
    f = fields(encrypted(tmp_path))
    variants = [
        f[:8],  # no ciphertext
        [*f, "AAAA"],  # a tenth field
        [*f[:2], "scrypt-aes256gcm", *f[3:]],
        [*f[:6], f[6] + "A", *f[7:]],  # wrong salt length
        [*f[:7], f[7][:-2], f[8]],  # wrong nonce length
        [*f[:8], f[8][:20]],  # ciphertext shorter than a tag
        [*f[:6], f[6] + "=", *f[7:]],  # padding
        [*f[:6], f[6].replace(f[6][0], "/", 1), *f[7:]],  # standard alphabet
        [*f[:8], f[8] + "="],
    ]
    for i, v in enumerate(variants):
        path = tmp_path / f"g{i}"
        write_key_text(path, "+".join(v))
        refused(path, PASS)


@pytest.mark.parametrize("data", [
    b"", b"\n", b"hello\n", b"\x00\x01\x02", b"\xff\xfe", "caf\u00e9".encode(),
    b"PRIVATE+KEY+\n", b"ENCRYPTED+KEY+\n", b"x" * (keys.MAX_KEY_FILE + 1),
])
def test_garbage_files_are_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "k"
    rewrite(path, data)
    refused(path, PASS)
    refused(path, lambda: PASS)


def test_decrypted_text_that_is_not_a_key(tmp_path: Path) -> None:
    path = tmp_path / "k"
    write_key_text(path, "not a key", PASS)
    assert read_key_text(path, PASS) == "not a key"
    assert "not a key file" in refused(path, PASS)


def test_the_seed_never_appears_in_any_error(tmp_path: Path) -> None:
    # A key whose name, key id and seed are all in the text of the file; damage it in a way the
    # note parser reports (a mismatched key id), plain and encrypted.
    line = str(SIGNER)
    bad = re.sub(r"\+[0-9a-f]{8}\+", "+00000000+", line)
    for passphrase in (None, PASS):
        path = tmp_path / f"k{passphrase is None}"
        write_key_text(path, bad, passphrase)
        message = refused(path, PASS)
        assert "not a key file" in message
    with pytest.raises(KeyFileError) as info:
        parse_signer(bad)
    safe(info.value)
