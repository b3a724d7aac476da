"""``serve``: the log as an HTTP service (ledger.service, docs/API.md), run by uvicorn."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys

import click

from ledger.cliutil import Failure, dir_option, store_path

DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str, what: str) -> float:
    """``60s``, ``5m``, ``1h``, ``20ms`` or a number of seconds."""
    m = DURATION.fullmatch(text.strip())
    if m is None:
        raise Failure(f"{what}: want a duration such as 60s, 5m, 1h or 20ms, got {text!r}", 2)
    return float(m[1]) * _UNIT[m[2]]


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on. Put a TLS-terminating proxy in front of "
                   "anything but the loopback.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="The port (0: any free one; the line on stdout names it).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="JSON: who may submit, as SHA-256 hashes of bearer tokens: "
                   '{"tokens": {"ISSUER": ["sha256:HEX", ...]}, "operator_tokens": [...]}.')
@click.option("--checkpoint-every", default="60s", show_default=True, metavar="DURATION",
              help="Sign a checkpoint this often when the log grew (0: only on demand and "
                   "for submissions asking for proofs).")
@click.option("--max-batch", default=10_000, show_default=True, type=click.IntRange(1, 100_000),
              help="The most statements one commit appends.")
@click.option("--batch-wait", default="20ms", show_default=True, metavar="DURATION",
              help="How long the writer may hold a commit open for submissions still being "
                   "checked.")
@click.option("--max-queue", default=100_000, show_default=True,
              type=click.IntRange(1, 10_000_000),
              help="Statements that may wait for the writer; beyond, submissions get 503.")
@click.option("--body-timeout", default="30s", show_default=True, metavar="DURATION",
              help="A request body must arrive within this (else 408).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the line saying where the log is served as JSON.")
@dir_option
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, config_file: str | None,
          checkpoint_every: str, max_batch: int, batch_wait: str, max_queue: int,
          body_timeout: str, as_json: bool) -> None:
    """Serve the log over HTTP: issuers submit signed statements, everyone reads tiles,
    proofs, bundles and status lists (docs/API.md).

    One writer thread appends what concurrent clients submit, grouped into one durable LMDB
    transaction, and answers each client only after the commit. The log key (keys/log.key
    in the store; an encrypted one needs CREDLEDGER_PASSPHRASE) signs the checkpoints.
    SIGTERM or Ctrl-C stops it gracefully: requests in flight are answered, what is queued
    is committed. The first line on stdout says where it listens.

    \b
    Examples:
      credledger serve
      credledger --dir /srv/log serve --port 8443 --config /etc/credledger/serve.json
      credledger serve --port 0 --json --checkpoint-every 10s
      echo -n "$TOKEN" | sha256sum   # the config holds "sha256:" + this, never the token
    """
    import uvicorn

    from ledger.errors import EncodingError
    from ledger.files import read_regular
    from ledger.log import Ledger
    from ledger.service import Config, Service, parse_config

    every = parse_duration(checkpoint_every, "--checkpoint-every")
    wait = parse_duration(batch_wait, "--batch-wait")
    body_seconds = parse_duration(body_timeout, "--body-timeout")
    if body_seconds <= 0:
        raise Failure("--body-timeout: want more than 0", 2)
    config = Config()
    if config_file is not None:
        try:
            config = parse_config(read_regular(config_file, 1 << 20, "a config file"),
                                  config_file)
        except EncodingError as exc:
            raise Failure(str(exc), 2) from None
    ledger = Ledger.open(store_path(ctx), workers=1)
    try:
        ledger.store.map_to_cap()  # never remapped under the reader threads
        passphrase = os.environ.get("CREDLEDGER_PASSPHRASE")

        def no_passphrase() -> str:
            raise Failure(f"{ledger.key_path('log.key')}: the log key is encrypted; set "
                          "CREDLEDGER_PASSPHRASE", 3)

        signer = ledger.log_signer(passphrase if passphrase else no_passphrase)
        service = Service(ledger, signer, config=config, checkpoint_every=every or None,
                          max_batch=max_batch, max_wait=wait, max_queue=max_queue,
                          body_seconds=body_seconds)
        sock = _bind(host, port)
        bound = sock.getsockname()[1]
        url = f"http://{host if ':' not in host else f'[{host}]'}:{bound}/"
        size = ledger.head().size
        if as_json:
            click.echo(json.dumps({"format": "credledger-serve/1", "url": url, "port": bound,
                                   "origin": ledger.origin, "size": size}))
        else:
            click.echo(f"serving {ledger.origin} ({size} entries) at {url}")
        sys.stdout.flush()
        server = uvicorn.Server(uvicorn.Config(
            service.app, log_level="warning", access_log=False, http="h11", loop="asyncio",
            lifespan="on", ws="none", interface="asgi3", limit_concurrency=2048,
            backlog=2048, timeout_keep_alive=5, timeout_graceful_shutdown=30,
            server_header=False))
        stopped: list[int] = []
        for sig in (signal.SIGINT, signal.SIGTERM):  # uvicorn raises them again once stopped:
            signal.signal(sig, lambda n, _f: stopped.append(n))  # a graceful stop exits 0
        server.run(sockets=[sock])
        if not server.started:
            raise Failure("the server did not start (see the message above)", 3)
        click.echo(f"credledger: stopped; the log has {ledger.head().size} entries", err=True)
    finally:
        ledger.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says
    # TCP, and without it a response's two writes (head, body) wait out the client's
    # delayed ACK: 40 ms a request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise Failure(f"cannot listen on {host}:{port}: {exc.strerror or exc}", 3) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


COMMANDS: list[click.Command] = [serve]
