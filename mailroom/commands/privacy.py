"""Privacy commands: erase a person, export what is held about them, expire raw mail, and
show one mail as Mailroom reads it — its kind, its parts and the route it would take (as a
labeller sees it with --pseudonymise).

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
@click.option(
    "--no-route",
    is_flag=True,
    help="Leave out the route (it reads the database and loads the active model).",
)
@click.pass_obj
def inspect_command(
    settings: Settings, file: Path, pseudonymise: bool, as_json: bool, no_route: bool
) -> None:
    """Show how Mailroom reads one mail FILE (.eml): its kind (customer mail, auto-reply,
    bounce, loop, bulk) and why, subject, sender, language, the new text, the quoted part
    with a forwarded original, the signature, the attachments, the thread keys, and the
    route the worker would take now with the active model and the store's threads and
    teams, with why. Answers "why did this mail go there?"."""
    from labeling.mail.hygiene import KIND_LABELS, classify
    from labeling.mail.mime import normalise
    from labeling.mail.pseudonymise import MailText, pseudonymise_mail
    from labeling.mail.quotes import FORWARDED_ORIGINAL_MARK

    raw = file.read_bytes()
    mail = normalise(raw)
    sender = mail.sender
    text = MailText(
        subject=mail.subject,
        sender_name=sender.name if sender else "",
        sender_email=sender.email if sender else "",
        new_text=mail.new_text,
        quoted_text=mail.quoted_text,
        signature=mail.signature,
    )
    attachments = [
        {"filename": a.filename, "content_type": a.content_type, "size": a.size}
        for a in mail.attachments
    ]
    if pseudonymise:
        people = [(a.name, a.email) for a in (*mail.to, *mail.cc, *mail.reply_to)]
        text, pseudonyms = pseudonymise_mail(text, settings.pseudonymiser(), correspondents=people)
        for attachment in attachments:
            attachment["filename"] = pseudonyms.text(str(attachment["filename"]))
    verdict = classify(raw, own_addresses=settings.own_addresses())
    route = None if no_route else _route_preview(settings, raw, mail)
    if route is not None and route.get("kind"):
        # The rate limit needs the store: the route's view of the kind is the fuller one.
        kind = {"kind": route.pop("kind"), **route.pop("kind_detail")}
    else:
        kind = _kind_view(verdict)
    if pseudonymise and sender and sender.email:
        # A reason may name the sender (the rate limit does): as the labeller sees them.
        kind["reason"] = kind["reason"].replace(sender.email, text.sender_email)
        kind["signals"] = [s.replace(sender.email, text.sender_email) for s in kind["signals"]]
    keys = {
        "message_id": mail.message_id,
        "in_reply_to": mail.in_reply_to,
        "references": list(mail.references),
    }
    shown: dict[str, Any] = {
        "kind": kind,
        "subject": text.subject,
        "sender": {"name": text.sender_name, "email": text.sender_email},
        "language": mail.language,
        "new_text": text.new_text,
        "quoted_text": text.quoted_text,
        "forwarded_original": text.quoted_text.startswith(FORWARDED_ORIGINAL_MARK),
        "signature": text.signature,
        "attachments": attachments,
        "thread_keys": keys,
        "defects": list(mail.defects),
        "route": route,
        "pseudonymised": pseudonymise,
    }
    if pseudonymise:
        # Message-IDs often hold an address or a name; a labeller sees none of them.
        shown["thread_keys"] = {
            "message_id": "[hidden]" if mail.message_id else "",
            "in_reply_to": "[hidden]" if mail.in_reply_to else "",
            "references": ["[hidden]" for _ in mail.references],
        }
    if as_json:
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    sender_line = " ".join(p for p in (text.sender_name, f"<{text.sender_email}>") if p != "<>")
    label = KIND_LABELS.get(kind["kind"], kind["kind"])
    click.echo(f"kind:        {label}" + (f" ({kind['reason']})" if kind["reason"] else ""))
    for signal in kind["signals"][1:]:
        click.echo(f"             also: {signal}")
    click.echo(f"subject:     {text.subject}")
    click.echo(f"sender:      {sender_line}")
    click.echo(f"language:    {mail.language}")
    names = [
        f"{a['filename'] or '(no name)'} ({a['content_type']}, {a['size']} bytes)"
        for a in attachments
    ]
    click.echo(f"attachments: {', '.join(names) or '-'}")
    click.echo(f"thread keys: {', '.join(_keys_line(shown['thread_keys'])) or '-'}")
    if mail.defects:
        click.echo(f"defects:     {'; '.join(mail.defects)}")
    click.echo(f"route:       {_route_line(route)}")
    for title, body in (
        ("new text", text.new_text),
        (
            "quoted" + (" (the forwarded original first)" if shown["forwarded_original"] else ""),
            text.quoted_text,
        ),
        ("signature", text.signature),
    ):
        click.echo(f"--- {title} ---\n{body.rstrip()}" if body.strip() else f"--- {title}: -")


def _kind_view(verdict: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "kind": verdict.kind,
        "handling": verdict.handling,
        "reason": verdict.reason,
        "signals": list(verdict.signals),
    }
    if verdict.kind == "bounce":
        view.update(
            failed=verdict.failed,
            recipients=list(verdict.recipients),
            status=verdict.status,
            our_forwards=list(verdict.our_ids),
        )
    return view


def _keys_line(keys: dict[str, Any]) -> list[str]:
    found = [f"id {keys['message_id']}"] if keys["message_id"] else []
    if keys["in_reply_to"]:
        found.append(f"in reply to {keys['in_reply_to']}")
    if keys["references"]:
        found.append(f"{len(keys['references'])} references")
    return found


def _route_preview(settings: Settings, raw: bytes, mail: Any) -> dict[str, Any]:
    """What the worker would decide now, as a dict; 'error' when it cannot say."""
    from labeling.errors import MailroomError
    from worker.driver import Services, preview
    from worker.model_cache import ModelCache
    from worker.outgoing import SmtpSender

    try:
        with open_database(settings) as sessions:
            services = Services(
                settings=settings,
                sessions=sessions,
                predictor=ModelCache(settings.models_path, settings.cache_path),
                smtp=SmtpSender(settings.smtp_host, settings.smtp_port),
            )
            found = preview(services, raw, mail)
    except MailroomError as exc:
        return {"error": str(exc)}
    route: dict[str, Any] = {"kind": found.verdict.kind, "kind_detail": _kind_view(found.verdict)}
    route["kind_detail"].pop("kind")
    decision = found.decision
    if decision is None:
        route.update(action="file", why=f"{found.verdict.kind}: filed, never forwarded")
        return route
    route.update(
        action="forward" if decision.mode == "auto" else "review",
        team=decision.team.slug if decision.team is not None and decision.mode == "auto" else None,
        reason=decision.reason,
        decided_by=decision.decided_by,
        confidence=round(decision.confidence, 4) if decision.confidence is not None else None,
        model_version=decision.model_version,
        top=[[name, round(p, 4)] for name, p in decision.top],
        details={k: v for k, v in decision.details.items() if k != "signals"},
    )
    return route


def _route_line(route: dict[str, Any] | None) -> str:
    if route is None:
        return "(not asked)"
    if "error" in route:
        return f"unknown: {route['error']}"
    if route["action"] == "file":
        return str(route["why"])
    if route["action"] == "forward":
        line = f"forward to {route['team']} ({route['reason']}, by {route['decided_by']}"
    else:
        line = f"review ({route['reason']}, by {route['decided_by']}"
    if route.get("confidence") is not None:
        line += f", confidence {route['confidence']:.2f}, model {route['model_version']}"
    line += ")"
    if route.get("top"):
        line += "; model's top: " + ", ".join(f"{n} {p:.2f}" for n, p in route["top"])
    return line


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
