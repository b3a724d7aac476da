"""Achievements: ``achievement add``, ``achievement show`` (docs/FORMAT.md §3.2, §5.2).

An achievement is the public definition of what an issuer awards (name, description, criteria,
Open Badges 3.0 type), registered once in the log by an active key of the issuer and never
changed (a new version is a new id).
"""

from __future__ import annotations

import json
from typing import Any

import click

from ledger.cliutil import (
    Failure,
    Group,
    append,
    dir_option,
    emit,
    iso,
    json_option,
    log_options,
    now,
    open_ledger,
    open_log,
    plural,
    read_key,
    read_text_file,
    report_append,
    sign,
)
from ledger.errors import NotFoundError


@click.group(cls=Group)
def achievement() -> None:
    """Register an issuer's achievements (what it awards: name, description, criteria, type)
    in the log, and show them.

    \b
    Examples:
      credledger achievement add uni cs201 --key uni.key --name "Data Structures" --type Course
      credledger achievement show uni
    """


@achievement.command("add")
@click.argument("issuer_id", metavar="ISSUER")
@click.argument("achievement_id", metavar="ACH_ID")
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False),
              help="An active key file of the issuer (signs the registration).")
@click.option("--name", required=True, help="The achievement's name (1 to 256 characters).")
@click.option("--description", default="", help="What it is (at most 4,096 characters).")
@click.option("--criteria", default=None,
              help="How it is earned: the criteria narrative (at most 4,096 characters).")
@click.option("--criteria-file", type=click.Path(dir_okay=False), default=None,
              help="Read the criteria narrative from this UTF-8 file (paragraphs kept, CRLF read "
                   "as LF, the final line break dropped).")
@click.option("--type", "achievement_type", default="", metavar="TYPE",
              help="Its Open Badges 3.0 AchievementType (Badge, Certificate, Course, Degree, "
                   "MicroCredential, ...) or ext:NAME for one of your own.")
@json_option
@dir_option
@log_options
@click.pass_context
def achievement_add(ctx: click.Context, issuer_id: str, achievement_id: str, key_file: str,
                    name: str, description: str, criteria: str | None,
                    criteria_file: str | None, achievement_type: str, as_json: bool) -> None:
    """Register the achievement ACH_ID of ISSUER (signed by an active key of the issuer).

    The definition is public, in the log, for good: it cannot be changed or withdrawn, and
    ACH_ID cannot be registered twice (refused: duplicate-achievement). To change what an
    achievement says, register a new version under a new id (cs201-2027, say). Text is one
    line each (no line breaks or other control characters but tab).

    \b
    Examples:
      credledger achievement add uni cs201 --key uni.key --name "Data Structures" \\
          --description "Lists, trees, graphs and the cost of operations on them." \\
          --criteria "Pass the final examination." --type Course
      credledger achievement add uni cs201 --key uni.key --name "Data Structures" \\
          --criteria-file cs201-criteria.txt --json
      credledger achievement add uni cs201 --key uni.key --name "Data Structures" \\
          --criteria "Pass the final examination." \\
          --log https://log.example.org --log-key "$LOG_VKEY"
    """
    from ledger.events import REGISTER_ACHIEVEMENT, make_statement

    if criteria is not None and criteria_file is not None:
        raise Failure("--criteria and --criteria-file: give one", 2)
    if criteria_file is not None:
        criteria = read_text_file(criteria_file, "a criteria narrative")
        criteria = criteria.replace("\r\n", "\n").removesuffix("\n")  # the file's last newline
    st = make_statement(REGISTER_ACHIEVEMENT, issuer_id, now(), achievement_id, name,
                        description, criteria or "", achievement_type)
    signer = read_key(key_file)
    with open_log(ctx) as ledger:
        res = append(ledger, [sign(st, signer)])
    report_append(as_json, res, f"registered achievement {achievement_id!r} of {issuer_id!r}",
                  {"issuer": issuer_id, "id": achievement_id})


@achievement.command("show")
@click.argument("issuer_id", metavar="ISSUER")
@click.argument("achievement_id", metavar="ACH_ID", required=False)
@json_option
@dir_option
@click.pass_context
def achievement_show(ctx: click.Context, issuer_id: str, achievement_id: str | None,
                     as_json: bool) -> None:
    """Show one achievement of ISSUER as the log holds it, or without ACH_ID all of them, in
    the order they were registered.

    Each with its name, type, description and criteria, the entry (and time) that
    registered it, and the key that signed it. An achievement registered by a key the log
    later flagged as compromised from that entry or before ('issuer revoke-key
    --compromised-since') is marked NOT TRUSTED: a thief may have written it.

    \b
    Examples:
      credledger achievement show uni
      credledger achievement show uni cs201 --json
    """
    with open_ledger(ctx) as ledger:
        size = ledger.head().size
        if achievement_id is not None:
            found = ledger.achievement(issuer_id, achievement_id)
            if found is None:
                raise NotFoundError(f"issuer {issuer_id!r} never registered achievement "
                                    f"{achievement_id!r}")
            emit(as_json, {**describe_achievement(found), "tree_size": size},
                 "\n".join(achievement_lines(found, detail=True)))
            return
        if ledger.issuer_history(issuer_id) is None:
            raise NotFoundError(f"issuer {issuer_id!r} is not registered")
        found_all = ledger.achievements(issuer_id)
    count = plural(len(found_all), "achievement", "achievements")
    lines = [f"issuer {issuer_id}: {count}, in the order registered"]
    for a in found_all:
        lines += achievement_lines(a, detail=True)
    emit(as_json, {"issuer": issuer_id,
                   "achievements": [describe_achievement(a) for a in found_all],
                   "tree_size": size}, "\n".join(lines))


def describe_achievement(a: Any) -> dict[str, Any]:
    """A JSON-ready view of a ``snapshot.RegisteredAchievement``."""
    rec, key = a.record, a.key
    return {"kind": "achievement", "issuer": rec.issuer, "id": rec.achievement_id,
            "name": a.name, "achievement_type": a.achievement_type or None,
            "description": a.description, "criteria": a.criteria,
            "registered_at": rec.registered_at, "registered_time": iso(a.registered_time),
            "statement_time": iso(a.statement_time), "key_id": key.key_id,
            "trusted": a.trusted}


def achievement_summary(a: Any) -> dict[str, Any]:
    """What ``status ISSUER --json`` lists of each achievement (``achievement show`` gives
    the texts too)."""
    full = describe_achievement(a)
    return {k: full[k] for k in ("id", "name", "achievement_type", "registered_at",
                                 "registered_time", "key_id", "trusted")}


def achievement_lines(a: Any, *, detail: bool) -> list[str]:
    """A ``snapshot.RegisteredAchievement`` for a person: a heading line, then (``detail``) its
    texts, each quoted as JSON (``status ISSUER`` shows the heading only)."""
    rec, key = a.record, a.key
    kind = f" ({a.achievement_type})" if a.achievement_type else ""
    lines = [(f"  {rec.achievement_id}: {_quote(a.name)}{kind}, registered at entry "
              f"{rec.registered_at} ({iso(a.registered_time)}) by key {key.key_id}")]
    if not a.trusted:
        lines.append(f"    NOT TRUSTED: key {key.key_id} is flagged as compromised from entry "
                     f"{key.untrusted_from} on (revoked at entry {key.revoked_index}): a thief "
                     "may have registered this")
    if detail:
        lines += [f"    description: {_quote(a.description) if a.description else '(none)'}",
                  f"    criteria:    {_quote(a.criteria) if a.criteria else '(none)'}"]
    return lines


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)



COMMANDS: list[click.Command] = [achievement]
