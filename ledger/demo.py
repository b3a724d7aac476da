"""``credledger demo``: the whole story on a fresh store, narrated.

Every step runs the real command (in this process, so the demo is quick), and prints it first
as you would type it: registry, an issuer and its achievements, a cohort issued in one batch
as Open Badges 3.0 credentials, a stacked credential, some revoked and one suspended, a refused
event, a checkpoint, offline proofs checked as a verifier would, and a consistency proof
between two checkpoints as an auditor would.
"""

from __future__ import annotations

import json
import shlex
import shutil
import tempfile
import textwrap
from pathlib import Path

import click

from ledger.cliutil import secho

COHORT = [
    ("ada@example.org", "cs101", "A"), ("alan@example.org", "cs102", "A"),
    ("grace@example.org", "cs103", "B"), ("edsger@example.org", "cs101", "A"),
    ("barbara@example.org", "cs102", "Pass"), ("donald@example.org", "cs103", "A"),
    ("margaret@example.org", "cs101", "B"), ("ken@example.org", "cs102", "Pass"),
    ("frances@example.org", "cs103", "A"), ("john@example.org", "cs101", "B"),
    ("radia@example.org", "cs102", "A"), ("leslie@example.org", "cs103", "A"),
]
ACHIEVEMENTS = [
    ("cs101", "Programming I", "Variables, control flow and functions in Python.",
     "Pass the final examination and every laboratory."),
    ("cs102", "Data Structures", "Lists, trees, graphs and the cost of operations on them.",
     "Pass the final examination and submit every laboratory report."),
    ("cs103", "Algorithms", "Sorting, searching, graphs and dynamic programming.",
     "Pass the final examination."),
    ("cert", "Certificate in Computing", "The three foundation courses, stacked.",
     "Hold Programming I, Data Structures and Algorithms."),
]


def _say(text: str) -> None:
    click.echo()
    for para in text.strip().split("\n\n"):
        click.echo(textwrap.fill(" ".join(para.split()), width=96))
    click.echo()


def run_demo(keep: str | None) -> None:
    from ledger.cli import cli
    from ledger.cliutil import Failure

    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="credledger-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    store = work / "store"
    if (store / "data.mdb").exists():
        raise Failure(f"{store} already holds a demo store; pick an empty --keep directory")

    def run(*args: str, code: int = 0) -> None:
        shown = " ".join(shlex.quote(a) for a in args)
        secho(f"$ credledger {shown}", fg="cyan")
        try:
            rc = cli.main(["--dir", str(store), *args], prog_name="credledger",
                          standalone_mode=False)
        except Failure as exc:
            secho(f"credledger: error: {exc.format_message()}", fg="yellow")
            rc = exc.exit_code
        rc = rc or 0
        if rc:
            secho(f"(exit {rc})", fg="yellow")
        if rc != code:
            raise Failure(f"the demo expected exit {code} from that command, got {rc}")

    def path(name: str) -> str:
        return str(work / name)

    _say(f"""
    credential-ledger demo. Everything happens in {work}: the ledger store (LMDB), the issuer's
    key, the holders' credentials and the proofs. Each step is the real command.

    1. The operator creates the ledger. It makes two keys: the log key signs checkpoints (its
    verifier key is what verifiers and auditors trust) and the registry key admits issuers.""")
    run("init", "--origin", "demo.credledger.example/log")

    _say("""2. A university makes its own key and the registry admits it as an issuer: the
    registration is entry 0 of the log, signed by the registry key.""")
    run("key", "new", path("uni.key"), "--name", "uni.example")
    from ledger.keys import read_signer
    from ledger.log import Ledger

    vkey = str(read_signer(path("uni.key")).verifier())
    run("issuer", "add", "uni", "--key", vkey, "--name", "Example University",
        "--url", "https://uni.example")

    _say("""3. The university registers what it awards, once: each achievement's name,
    description and criteria are public and signed in the log, so a verifier learns what was
    awarded from the log itself.""")
    for ach_id, name, description, criteria in ACHIEVEMENTS:
        run("achievement", "add", "uni", ach_id, "--key", path("uni.key"), "--name", name,
            "--description", description, "--criteria", criteria, "--type",
            "Certificate" if ach_id == "cert" else "Course")

    _say("""4. The university issues a whole cohort from a JSONL file in one atomic commit
    (all or nothing). Each holder gets an Open Badges 3.0 credential signed by the
    university's key, naming them only by a salted hash of their email. The log holds
    nothing personal: a random id, the credential's digest, the achievement, the dates and
    a status index. Then a stacked credential built from three of them.""")
    cohort = work / "cohort.jsonl"
    with cohort.open("w") as f:
        for n, (who, ach, grade) in enumerate(COHORT, 1):
            f.write(json.dumps({"id": f"cs-{n:03d}", "subject": who,
                                "subject_type": "emailAddress", "achievement": ach,
                                "result": grade, "expires": "2031-06-30"}) + "\n")
    run("issue", "uni", "--key", path("uni.key"), "--batch", str(cohort),
        "--out", path("credentials"))
    run("issue", "uni", "cs-cert", "--key", path("uni.key"), "--subject", "ada@example.org",
        "--subject-type", "emailAddress", "--achievement", "cert", "--part", "cs-001",
        "--part", "cs-002", "--part", "cs-003", "--out", path("credentials"))

    _say("""5. The first checkpoint: a C2SP signed note over the tree size and root. Anyone who
    holds it (or just its root hash) can check proofs offline.""")
    run("checkpoint")

    _say("""6. Things change: two credentials are revoked (final), one suspended (reversible),
    each with a reason code (the case itself stays in the university's own records). The
    rules are enforced at append time: revoking twice is refused, and so is an achievement
    never registered. A refused event writes nothing.""")
    creds = ["--out", path("credentials")]
    run("revoke", "uni", "cs-004", "--key", path("uni.key"), "--reason", "withdrawn", *creds)
    run("revoke", "uni", "cs-007", "--key", path("uni.key"), "--reason", "issued-in-error",
        *creds)
    run("suspend", "uni", "cs-010", "--key", path("uni.key"), "--reason", "under-review", *creds)
    run("revoke", "uni", "cs-004", "--key", path("uni.key"), *creds, code=3)
    run("issue", "uni", "x-1", "--key", path("uni.key"), "--subject", "mallory@example.org",
        "--achievement", "phd-in-everything", *creds, code=3)
    run("status", "uni", "cs-004", *creds)
    run("status", "uni", "cs-001", *creds)

    _say("""7. The university publishes its status lists (W3C Bitstring Status Lists, signed
    by its key and entered in the log), and the operator exports the log as static files:
    the tiles, and the lists beside them, at the URLs every credential names. Any standard
    verifier reads revocation and suspension there; an auditor checks every bit against the
    log.""")
    run("status-list", "uni", "--key", path("uni.key"))
    run("checkpoint")
    run("export", "tiles", path("site"))

    _say("""8. A holder asks the ledger for a proof bundle: one small JSON file with the
    signed checkpoint, the entries that matter with their inclusion proofs, and status-map
    proofs that show the credential was not revoked as of that checkpoint. It holds nothing
    personal, and travels beside the holder's credential.""")
    with Ledger.open(store) as ledger:
        log_vkey = ledger.log_vkey()
    doc = path("credentials/uni/cs-001.json")
    run("prove", "uni", "cs-001", *creds, "-o", path("cs-001.bundle.json"))

    _say("""9. An employer verifies the credential offline with the log's verifier key: no
    network, no call to the university. Its Data Integrity proof, the key the university
    held then, the achievement it registered, its status; and, given the email the
    candidate wrote on the application, that it is theirs. Exit 0 means VALID.""")
    run("verify", doc, "--bundle", path("cs-001.bundle.json"), "--log-key", log_vkey,
        "--subject", "ada@example.org")

    _say("""10. The same check tells revoked, suspended and never-issued credentials apart
    (exit 1): revocation and absence are proven, not merely not found. A credential changed
    after it was signed is INVALID.""")
    for cred in ("cs-004", "cs-010"):
        run("prove", "uni", cred, *creds, "-o", path(f"{cred}.bundle.json"))
        run("verify", path(f"credentials/uni/{cred}.json"), "--bundle",
            path(f"{cred}.bundle.json"), "--log-key", log_vkey, code=1)
    forged = json.loads(Path(doc).read_text())
    forged["credentialSubject"]["result"][0]["value"] = "A+"
    Path(path("forged.json")).write_text(json.dumps(forged, indent=2))
    run("verify", path("forged.json"), "--bundle", path("cs-001.bundle.json"), "--log-key",
        log_vkey, code=1)

    _say("""11. A stacked credential is proven with its parts, all against one checkpoint.""")
    run("prove", "uni", "cs-cert", *creds, "-o", path("stack.bundle.json"))
    run("verify", path("credentials/uni/cs-cert.json"), "--bundle", path("stack.bundle.json"),
        "--log-key", log_vkey)

    _say("""12. Status as of an old root: a verifier who only holds the first checkpoint's root
    hash (say, printed on a 2026 transcript) still gets a proof for that moment, when cs-004
    was still valid, even though it was revoked later.""")
    with Ledger.open(store) as ledger:
        first_size, _ = ledger.checkpoints()[0]
        first_root = ledger.root_at(first_size).hex()
    run("prove", "uni", "cs-004", *creds, "--size", str(first_size), "-o",
        path("old.bundle.json"))
    run("verify", path("old.bundle.json"), "--root", first_root, "--size", str(first_size))

    _say("""13. Interoperability: the holder's credential is a standard W3C Verifiable
    Credential that wallets and Open Badges verifiers read, and the same inclusion can be
    exported as a standard C2SP tlog-proof, which any tlog tool can check with the log key.""")
    proof = path("cs-001.tlog-proof")
    run("prove", "uni", "cs-001", *creds, "--format", "tlog-proof", "-o", proof)
    _verify_tlog_proof(proof, store)

    _say("""14. An auditor who saved the first checkpoint asks for a consistency proof to the
    latest one: it proves the log only grew, and history was never rewritten.""")
    with Ledger.open(store) as ledger:
        (s1, _), (s2, _) = ledger.checkpoints()[:2]
    run("consistency", str(s1), str(s2))
    _check_consistency(store)
    run("audit", "--tiles", path("site"), "--log-key", log_vkey)

    _say("That is the whole story.")
    if keep:
        click.echo(f"The store is in {store}: try 'credledger --dir {store} status uni cs-010 "
                   f"--out {work / 'credentials'}'.")
    else:
        shutil.rmtree(work, ignore_errors=True)
        click.echo("(the temporary demo directory was removed; use --keep DIR to keep it)")


def _verify_tlog_proof(proof_file: str, store: Path) -> None:
    from ledger.events import decode_entry, decode_statement
    from ledger.log import Ledger
    from ledger.note import parse_verifier
    from ledger.tlogproof import check_tlog_proof

    with Ledger.open(store) as ledger:
        vkey = ledger.log_vkey()
    cp, index, data = check_tlog_proof(Path(proof_file).read_text(), verifier=parse_verifier(vkey))
    entry = decode_entry(data)
    entry.signed().verify()
    st = decode_statement(entry.statement)
    secho(f"verifier: checkpoint signature OK ({cp.origin}, size {cp.size}); entry {index} "
          f"is in the tree; issuer signature OK: {st.issuer}/{st.fields[0]} "
          f"(achievement {st.fields[2]})", fg="green")


def _check_consistency(store: Path) -> None:
    from ledger import merkle
    from ledger.log import Ledger
    from ledger.note import parse_checkpoint, parse_note

    with Ledger.open(store) as ledger:
        (s1, n1), (s2, n2) = ledger.checkpoints()[:2]
        proof = ledger.consistency_proof(s1, s2)
    c1, c2 = (parse_checkpoint(parse_note(n).text) for n in (n1, n2))
    merkle.verify_consistency(c1.size, c2.size, proof, c1.root, c2.root)
    secho(f"auditor: the checkpoint of size {s2} extends the one of size {s1}: consistent",
          fg="green")
