"""Privacy commands: erase a person, export what is held about them, expire raw mail, and
show one mail as Mailroom reads it (as a labeller sees it with --pseudonymise).

Each command parses its arguments, calls ``labeling`` and prints; the logic lives in
``labeling.store.privacy`` and ``labeling.mail``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from labeling.settings import Settings
from labeling.store.db import open_database


@click.command("erase")
@click.option("--address", required=True, help="The person's e-mail address.")
@click.option("--yes", is_flag=True, help="Erase without asking.")
@click.pass_obj
def erase_command(settings: Settings, address: str, yes: bool) -> None:
    """Erase everything held about ADDRESS (GDPR Art. 17): their mail, raw and parsed, its
    labels, review items and routing, and keep them out of every later import and training
    set. The audit log records the erasure by the address's hash, with counts only."""
    from labeling.store.db import session_scope
    from labeling.store.privacy import erase, normalise_address

    address = normalise_address(address)
    if not yes:
        click.confirm(f"Erase all mail of {address}? This cannot be undone", abort=True)
    with open_database(settings) as sessions, session_scope(sessions) as session:
        result = erase(session, address, actor="cli")
    click.echo(
        f"erased: {result.messages} mails, {result.labels} labels, "
        f"{result.review_items} review items, {result.routing_decisions} routing decisions, "
        f"{result.deliveries} deliveries, {result.threads} empty threads"
    )
    click.echo(f"tombstone and audit row: address hash {result.address_hash[:16]}…")
    if result.messages:
        click.echo(
            "models trained earlier learnt from this mail (pseudonymised); "
            "`mailroom retrain` trains one without it"
        )


@click.command("subject-export")
@click.option("--address", required=True, help="The person's e-mail address.")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The JSON file to write (readable by its owner only).",
)
@click.pass_obj
def subject_export_command(settings: Settings, address: str, out: Path) -> None:
    """Write everything held about ADDRESS (GDPR Art. 15) to a JSON file: each mail with
    its text and original, labels, routing, review and audit entries."""
    from labeling.store.db import session_scope
    from labeling.store.privacy import subject_export

    with open_database(settings) as sessions, session_scope(sessions) as session:
        export = subject_export(session, address)
    _write_private(out, json.dumps(export, ensure_ascii=False, indent=2) + "\n")
    click.echo(f"{out}: {export['mail_count']} mails of {export['address']}")


@click.command("expire-raw")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    help="Retention in days (default: MAILROOM_RETENTION_DAYS).",
)
@click.pass_obj
def expire_raw_command(settings: Settings, days: int | None) -> None:
    """Drop the raw bytes of routed live mail older than the retention period now (the
    worker's beat does this hourly); its text is kept pseudonymised."""
    from labeling.store.privacy import expire_all

    days = days if days is not None else settings.retention_days
    if not days:
        click.echo("MAILROOM_RETENTION_DAYS is 0: raw mail is kept")
        return
    with open_database(settings) as sessions:
        count = expire_all(sessions, days=days, pseudonymiser=settings.pseudonymiser())
    click.echo(f"expired the raw mail of {count} live mails older than {days} days")


@click.command("inspect")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--pseudonymise",
    is_flag=True,
    help="Show it as a labeller sees it: names, addresses and numbers as placeholders.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_obj
def inspect_command(settings: Settings, file: Path, pseudonymise: bool, as_json: bool) -> None:
    """Show how Mailroom reads one mail FILE (.eml): subject, sender, language, the new
    text, the quoted part, the signature and the attachments."""
    from labeling.mail.mime import normalise
    from labeling.mail.pseudonymise import MailText, pseudonymise_mail

    mail = normalise(file.read_bytes())
    sender = mail.sender
    text = MailText(
        subject=mail.subject,
        sender_name=sender.name if sender else "",
        sender_email=sender.email if sender else "",
        new_text=mail.new_text,
        quoted_text=mail.quoted_text,
        signature=mail.signature,
    )
    attachments = [a.filename for a in mail.attachments]
    if pseudonymise:
        people = [(a.name, a.email) for a in (*mail.to, *mail.cc, *mail.reply_to)]
        text, pseudonyms = pseudonymise_mail(text, settings.pseudonymiser(), correspondents=people)
        attachments = [pseudonyms.text(name) for name in attachments]
    shown: dict[str, Any] = {
        "subject": text.subject,
        "sender": {"name": text.sender_name, "email": text.sender_email},
        "language": mail.language,
        "new_text": text.new_text,
        "quoted_text": text.quoted_text,
        "signature": text.signature,
        "attachments": attachments,
        "pseudonymised": pseudonymise,
    }
    if as_json:
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    sender_line = " ".join(p for p in (text.sender_name, f"<{text.sender_email}>") if p != "<>")
    click.echo(f"subject:     {text.subject}")
    click.echo(f"sender:      {sender_line}")
    click.echo(f"language:    {mail.language}")
    click.echo(f"attachments: {', '.join(attachments) or '-'}")
    for title, body in (
        ("new text", text.new_text),
        ("quoted", text.quoted_text),
        ("signature", text.signature),
    ):
        click.echo(f"--- {title} ---\n{body.rstrip()}" if body.strip() else f"--- {title}: -")


def _write_private(path: Path, content: str) -> None:
    """Write ``content`` to ``path``, readable by its owner only, replacing it whole."""
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


commands: list[click.Command] = [
    erase_command,
    subject_export_command,
    expire_raw_command,
    inspect_command,
]
