"""Admin rules in the store, on the admin page and through ``mailroom rules``: saved in
order, tried on the archive before saving, imported from TOML, and for admins only."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from labeling.rules import store as rule_store
from labeling.rules.matching import Conditions, RuleSpec
from labeling.settings import Settings
from labeling.store.tables import Annotation, AuditLog, Rule
from tests.support.web import Seeded, csrf_token, logged_in


def _label(sessions: sessionmaker[Session], seeded: Seeded, labels: dict[int, str]) -> None:
    with sessions() as session:
        for index, slug in labels.items():
            session.add(
                Annotation(
                    message_id=seeded.messages[index],
                    team_id=seeded.teams[slug],
                    user_id=seeded.users["labeler"],
                    source="human",
                )
            )
        session.commit()


def _rule(name: str, action: str = "route", team: str | None = "schade", **when: object):  # type: ignore[no-untyped-def]
    return RuleSpec(name=name, action=action, team=team, conditions=Conditions.from_mapping(when))


def test_rules_keep_their_order_and_the_dry_run_counts_labels(
    sessions: sessionmaker[Session], seeded: Seeded
) -> None:
    # Seeded mails 3 and 6 (indexes 2 and 5) carry schade.jpg; label one of them schade.
    _label(sessions, seeded, {2: "schade", 0: "premie"})
    with sessions() as session:
        photo = rule_store.create_rule(session, _rule("Foto", attachment=["jpg"]))
        check = rule_store.create_rule(
            session, _rule("Vraag", "review", None, subject=["vraag"]), position=1
        )
        session.commit()
        assert [r.name for r in rule_store.list_rules(session)] == ["Vraag", "Foto"]
        rule_store.move_rule(session, check.id, +1)
        rule_store.set_enabled(session, photo.id, False)
        session.commit()
        rules = rule_store.list_rules(session)
        assert [(r.name, r.position, r.enabled) for r in rules] == [
            ("Foto", 1, False),
            ("Vraag", 2, True),
        ]
        assert [r.name for r in rule_store.routing_rules(session)] == ["Vraag"]

        dry = rule_store.dry_run(session, rules[0])
        assert (dry.searched, dry.matched, dry.labelled) == (6, 2, 1)
        assert dry.summary() == (
            "matches 2 of 6 archive mails; 100 % of the 1 labelled ones are labelled Schade"
        )
        # Sender and language narrow in SQL; what they leave out still counts as searched.
        for when, matched in (
            ({"sender": ["example.nl"]}, 6),
            ({"sender": ["@example.nl"], "language": ["nl"]}, 6),
            ({"sender": ["xample.nl"]}, 0),
            ({"sender": ["klant1@EXAMPLE.nl"]}, 1),
            ({"sender": ["exam_le.nl"]}, 0),  # '_' is no LIKE wildcard here
            ({"sender": ["nl"], "language": ["en"]}, 0),
        ):
            dry = rule_store.dry_run(session, Conditions.from_mapping(when))
            assert (dry.searched, dry.matched) == (6, matched), when
        # Nothing was saved by trying.
        assert session.scalar(select(Rule).where(Rule.name == "try")) is None
        actions = set(session.scalars(select(AuditLog.action)))
        assert {"rule.create", "rule.move", "rule.enable"} <= actions

        rule_store.delete_rule(session, photo.id)
        session.commit()
        assert [(r.name, r.position) for r in rule_store.list_rules(session)] == [("Vraag", 1)]


def test_the_admin_page_tries_then_saves_and_refuses_others(
    app: Flask, sessions: sessionmaker[Session], seeded: Seeded
) -> None:
    _label(sessions, seeded, {2: "schade", 5: "schade"})
    admin = logged_in(app, "admin")
    token = csrf_token(admin, "/admin/rules/")
    form = {
        "csrf_token": token,
        "name": "Schadefoto",
        "action": "route",
        "team": "schade",
        "priority": "",
        "enabled": "y",
        "attachment": "jpg\n",
        "sender": "example.nl",
    }
    tried = admin.post("/admin/rules/", data={**form, "try": "1"})
    page = tried.get_data(as_text=True)
    assert tried.status_code == 200
    assert "matches 2 of 6 archive mails; 100 % of the 2 labelled ones are labelled Schade" in page
    with sessions() as session:
        assert rule_store.list_rules(session) == []

    saved = admin.post("/admin/rules/", data={**form, "save": "1"})
    assert saved.status_code == 302
    listing = admin.get("/admin/rules/").get_data(as_text=True)
    assert "Schadefoto" in listing and "route → schade" in listing

    bad = admin.post("/admin/rules/", data={**form, "name": "Leeg", "sender": "", "attachment": ""})
    assert bad.status_code == 400
    assert "has no condition" in bad.get_data(as_text=True)

    with sessions() as session:
        rule_id = rule_store.list_rules(session)[0].id
    off = admin.post(f"/admin/rules/{rule_id}/enabled", data={"csrf_token": token, "active": "0"})
    assert off.status_code == 302
    with sessions() as session:
        assert rule_store.get_rule(session, rule_id).enabled is False
    edit = admin.get(f"/admin/rules/{rule_id}").get_data(as_text=True)
    assert re.search(r"<textarea[^>]*name=\"attachment\"[^>]*>\s*jpg</textarea>", edit)

    for user in ("reviewer", "labeler"):
        other = logged_in(app, user)
        assert other.get("/admin/rules/").status_code == 403
        assert other.post(f"/admin/rules/{rule_id}/delete", data={}).status_code == 403
    assert admin.get("/admin/rules/9999").status_code == 404


def test_cli_imports_lists_tests_and_adds_rules(
    db_settings: Settings, sessions: sessionmaker[Session], seeded: Seeded, tmp_path: Path
) -> None:
    from mailroom.cli import cli, register_commands

    register_commands()
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), obj=db_settings, catch_exceptions=False)

    _label(sessions, seeded, {2: "schade"})
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text(
        """
[[rule]]
name = "Foto's"
note = "Schadefoto's gaan naar Schade"
action = "route"
team = "schade"
[rule.when]
attachment = ["jpg", "image/*"]

[[rule]]
name = "Spoed"
action = "priority"
priority = "high"
[rule.when]
subject = ["spoed"]
""",
        encoding="utf-8",
    )
    result = invoke("rules", "import", str(rules_file))
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated, 0 deleted" in result.output
    result = invoke("rules", "import", str(rules_file))
    assert "0 created, 2 updated" in result.output

    result = invoke("rules", "list")
    assert '1. [on ] "Foto\'s": route -> schade' in result.output
    assert "2. [on ] 'Spoed': priority high" in result.output

    result = invoke("rules", "test", "--name", "Foto's")
    assert result.exit_code == 0, result.output
    assert "matches 2 of 6 archive mails; 100 % of the 1 labelled ones" in result.output

    result = invoke("rules", "test", "--subject", "vraag", "--limit", "3")
    assert "matches 3 of 3 archive mails" in result.output

    result = invoke(
        "rules", "add", "--name", "Premie", "--action", "route", "--team", "premie",
        "--text", "premie*", "--position", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "matches 0 of 6" in result.output and "saved at position 1" in result.output

    result = runner.invoke(
        cli,
        ["rules", "add", "--name", "X", "--action", "route", "--team", "nope", "--sender", "a.b"],
        obj=db_settings,
    )
    assert result.exit_code == 1
    assert "error: rule 'X': no team 'nope'" in result.output


def test_dashboard_shows_who_decided_and_flags_a_rule_people_correct(
    app: Flask, sessions: sessionmaker[Session], seeded: Seeded
) -> None:
    from labeling.live.stats import live_stats, make_window, rules_live
    from labeling.store.tables import Message, RoutingDecision, utcnow

    now = utcnow()
    with sessions() as session:
        good = rule_store.create_rule(session, _rule("Goed", sender=["a.example"]))
        bad = rule_store.create_rule(session, _rule("Fout", sender=["b.example"]))
        schade, premie = seeded.teams["schade"], seeded.teams["premie"]
        plan = (
            # (decided_by, mode, team, rule, corrected to)
            [("rule", "auto", schade, good.id, None)] * 2
            + [("rule", "auto", schade, bad.id, premie)] * 3
            + [("rule", "auto", schade, bad.id, None)]
            + [("model", "auto", premie, None, None), ("thread", "auto", premie, None, None)]
            + [("affinity", "auto", premie, None, None)]
            + [("model", "review", None, None, None)]
        )
        for n, (decided_by, mode, team, rule_id, corrected) in enumerate(plan):
            message = session.get(Message, seeded.messages[n % len(seeded.messages)])
            if n >= len(seeded.messages):
                message = Message(
                    raw_compressed=b"x", raw_size=1, content_hash=f"{n:064d}", subject="x"
                )
                session.add(message)
            assert message is not None
            message.origin, message.route_state, message.imported_at = "live", "done", now
            session.flush()
            session.add(
                RoutingDecision(
                    message_id=message.id, team_id=team, decided_by=decided_by, mode=mode,
                    reason="x", rule_id=rule_id, details={"rule": "x"} if rule_id else {},
                    is_current=corrected is None, created_at=now,
                )
            )  # fmt: skip
            if corrected is not None:
                session.add(
                    RoutingDecision(
                        message_id=message.id, team_id=corrected, decided_by="user:1",
                        mode="auto", reason="reviewed", is_current=True, created_at=now,
                    )
                )  # fmt: skip
        session.commit()
        health = {r.name: r for r in rules_live(session, now - timedelta(days=1))}
        assert (health["Fout"].forwarded, health["Fout"].corrected) == (4, 3)
        assert health["Fout"].flagged and not health["Goed"].flagged
        window = make_window("day", 2, now + timedelta(seconds=1))
        total = live_stats(session, window).total
        assert total.by_decider == {
            "rule": 6, "model": 1, "thread": 1, "affinity": 1, "review": 1
        }  # fmt: skip
    page = logged_in(app, "admin").get("/dashboard").get_data(as_text=True)
    assert 'id="decider-table"' in page and "check this rule" in page
    assert 'data-decider="affinity"' in page


def test_urgent_mail_comes_first_in_review_and_the_page_says_why(
    app: Flask, sessions: sessionmaker[Session], seeded: Seeded
) -> None:
    from labeling.live.review import next_item
    from labeling.store.tables import Message, ReviewItem, RoutingDecision, utcnow

    now = utcnow()
    urgent_ones = {1, 3}  # by index; mails arrive in index order
    with sessions() as session:
        for n, message_id in enumerate(seeded.messages[:4]):
            message = session.get(Message, message_id)
            assert message is not None
            message.origin, message.route_state = "live", "review"
            message.imported_at = now + timedelta(seconds=n)
            details = {"urgent": ["spoed*"], "flags_source": "cue list"} if n in urgent_ones else {}
            session.add(
                RoutingDecision(
                    message_id=message_id, decided_by="model", mode="review",
                    reason="below-threshold", details=details, created_at=now,
                )
            )  # fmt: skip
            session.add(
                ReviewItem(
                    message_id=message_id, status="open", reason="below-threshold",
                    created_at=now, urgent=n in urgent_ones,
                )
            )  # fmt: skip
        session.commit()
        order = []
        card = next_item(session)
        while card is not None:
            order.append(seeded.messages.index(card.message.id))
            card = next_item(session, after=card.item_id)
        assert order == [1, 3, 0, 2]
        from labeling.live.stats import live_stats, make_window

        total = live_stats(session, make_window("day", 2, now + timedelta(minutes=1))).total
        assert (total.urgent, total.decided) == (2, 4)
    page = logged_in(app, "reviewer").get("/review").get_data(as_text=True)
    assert 'id="urgent"' in page and "urgent (cue list: &#39;spoed*&#39;)" in page
