"""The mail-kind condition of admin rules in the dry run, on the admin page and through
``mailroom rules add --kind``: tried on the archive by the kind stored at import."""

from __future__ import annotations

import re

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from labeling.rules import store as rule_store
from labeling.rules.matching import Conditions
from labeling.settings import Settings
from labeling.store.tables import Message
from tests.support.web import Seeded, csrf_token, logged_in


def _kinds(sessions: sessionmaker[Session], seeded: Seeded) -> None:
    # Seeded archive mail is customer mail; make one bulk and one from before kinds were kept.
    with sessions() as session:
        session.execute(update(Message).where(Message.id == seeded.messages[0]).values(kind="bulk"))
        session.execute(update(Message).where(Message.id == seeded.messages[1]).values(kind=None))
        session.commit()


def test_the_dry_run_counts_mail_of_a_kind(sessions: sessionmaker[Session], seeded: Seeded) -> None:
    _kinds(sessions, seeded)
    with sessions() as session:
        for when, matched in (
            ({"kind": ["bulk"]}, 1),
            ({"kind": ["customer"]}, 5),  # the one without a kind counts as customer mail
            ({"kind": ["bulk", "customer"]}, 6),
            ({"kind": ["auto-reply"]}, 0),
            ({"kind": ["bulk"], "language": ["en"]}, 0),
        ):
            dry = rule_store.dry_run(session, Conditions.from_mapping(when))
            assert (dry.searched, dry.matched) == (6, matched), when
        # With a limit (no narrowing in SQL) matching reads the kind all the same.
        dry = rule_store.dry_run(session, Conditions.from_mapping({"kind": ["bulk"]}), limit=6)
        assert dry.matched == 1


def test_the_admin_page_and_the_cli_take_a_kind(
    app: Flask, db_settings: Settings, sessions: sessionmaker[Session], seeded: Seeded
) -> None:
    from mailroom.cli import cli, register_commands

    _kinds(sessions, seeded)
    admin = logged_in(app, "admin")
    form = {
        "csrf_token": csrf_token(admin, "/admin/rules/"),
        "name": "Nieuwsbrieven",
        "action": "review",
        "priority": "",
        "enabled": "y",
        "kind": "bulk\n",
    }
    tried = admin.post("/admin/rules/", data={**form, "try": "1"})
    assert "matches 1 of 6 archive mails" in tried.get_data(as_text=True)
    bad = admin.post("/admin/rules/", data={**form, "kind": "spam", "save": "1"})
    assert bad.status_code == 400 and "is not one of" in bad.get_data(as_text=True)
    assert admin.post("/admin/rules/", data={**form, "save": "1"}).status_code == 302
    with sessions() as session:
        rule = rule_store.list_rules(session)[0]
    assert rule.conditions.kind == ("bulk",)
    edit = admin.get(f"/admin/rules/{rule.id}").get_data(as_text=True)
    assert re.search(r"<textarea[^>]*name=\"kind\"[^>]*>\s*bulk</textarea>", edit)

    register_commands()
    result = CliRunner().invoke(
        cli,
        ["rules", "add", "--name", "Klantmail", "--action", "review", "--kind", "customer"],
        obj=db_settings,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "matches 5 of 6" in result.output
    result = CliRunner().invoke(cli, ["rules", "list"], obj=db_settings)
    assert "when kind customer" in result.output
