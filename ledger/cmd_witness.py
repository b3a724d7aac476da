"""The witness's commands: ``witness init|cosign``."""

from __future__ import annotations

import base64

import click

from ledger.cliutil import (
    Group,
    emit,
    json_option,
    now,
    parse_vkey,
    read_text_file,
    write_out,
)
from ledger.errors import EncodingError


@click.group(cls=Group)
def witness() -> None:
    """Run a witness: cosign checkpoints only after checking they extend the last one.

    \b
    Example:
      credledger witness init ./witness --name witness.example.org
    """


@witness.command("init")
@click.argument("state_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--name", required=True, help="The witness's name, e.g. witness.example.org.")
@json_option
def witness_init(state_dir: str, name: str, as_json: bool) -> None:
    """Create a witness key (0600) and empty state in DIR; print its cosigner key.

    \b
    Example:
      credledger witness init ./witness --name witness.example.org
    """
    from ledger.witness import Witness

    w = Witness.create(state_dir, name)
    vkey = str(w.key.verifier())
    emit(as_json, {"dir": state_dir, "vkey": vkey}, vkey,
          "(verifiers pass this to 'credledger verify --witness')")


@witness.command("cosign")
@click.argument("checkpoint_file", metavar="CHECKPOINT", type=click.Path(dir_okay=False))
@click.option("--state", "state_dir", required=True, type=click.Path(file_okay=False),
              help="The witness directory (from 'witness init').")
@click.option("--log-key", "log_key", required=True, metavar="VKEY",
              help="The log's verifier key: the checkpoint must be signed by it.")
@click.option("--proof", "proof_file", type=click.Path(dir_okay=False), default=None,
              help="The consistency proof from the last cosigned size (output of "
                   "'credledger consistency OLD NEW'); needed once the witness has cosigned.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the cosigned checkpoint here instead of stdout.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object on stdout: the checkpoint cosigned (and the cosigned "
                   "note itself unless -o is given).")
def witness_cosign(checkpoint_file: str, state_dir: str, log_key: str, proof_file: str | None,
                   output: str | None, as_json: bool) -> None:
    """Cosign a checkpoint if it is consistent with the last one this witness cosigned.

    Refuses (exit 1) a smaller checkpoint, a different root at the same size, or a missing
    or failing consistency proof: a witness never cosigns two views of one log.

    \b
    Example:
      credledger consistency 14 17 > proof.txt
      credledger witness cosign checkpoint.txt --state ./witness --log-key VKEY \\
          --proof proof.txt -o cosigned.txt
    """
    from ledger.witness import Witness

    w = Witness(state_dir)
    proof = _read_hash_lines(proof_file) if proof_file else []
    note = read_text_file(checkpoint_file, "a checkpoint")
    cosigned = w.cosign(note, parse_vkey(log_key), proof, now_ms=now())
    if not as_json:
        write_out(output, cosigned)
        return
    from ledger.note import parse_checkpoint, parse_note

    cp = parse_checkpoint(parse_note(cosigned).text)
    data = {"origin": cp.origin, "size": cp.size, "root": cp.root.hex(), "witness": w.key.name,
            "output": output}
    if output is None:
        data["note"] = cosigned
    else:
        write_out(output, cosigned, quiet=True)
    emit(True, data, "")


def _read_hash_lines(path: str) -> list[bytes]:
    import binascii

    out = []
    for n, line in enumerate(read_text_file(path, "a proof").splitlines(), 1):
        if not line.strip():
            continue
        try:
            h = base64.b64decode(line.strip(), validate=True)
        except (binascii.Error, ValueError):
            h = b""
        if len(h) != 32:
            raise EncodingError(f"{path}:{n}: want one base64 SHA-256 hash a line")
        out.append(h)
        if len(out) > 128:
            raise EncodingError(f"{path}: more than 128 hashes; not a consistency proof")
    return out


COMMANDS: list[click.Command] = [witness]
