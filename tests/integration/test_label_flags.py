"""The labelling page's second, optional dimension: 'urgent' and 'wants to leave', given
with a team label through the page's API, stored with the annotation, exported, shown in
the keys help in Dutch and English (issue 14 item 3)."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from labeling.annotation.export import training_examples, write_examples
from labeling.store.tables import Annotation, AuditLog
from tests.support.web import Api, Seeded, current_labels, logged_in


def test_flags_go_with_the_label_and_a_change_of_mind_replaces_it(
    app: Flask, seeded: Seeded
) -> None:
    sessions = app.extensions["mailroom.db"].sessions
    api = Api(logged_in(app, "labeler"))
    first = api.next()["message"]["id"]
    after = api.post(
        "/api/label", message_id=first, team_id=seeded.teams["klachten"], urgent=True, churn=True
    )
    assert after["notice"] == f"#{first} labelled Klachten, urgent, wants to leave"
    [label] = current_labels(sessions, source="human")
    assert (label.message_id, label.urgent, label.churn) == (first, True, True)

    # The same key again changes nothing; the same team without the flags replaces it.
    api.post("/api/label", message_id=first, team_id=seeded.teams["klachten"], urgent=True,
             churn=True)
    api.post("/api/label", message_id=first, team_id=seeded.teams["klachten"], urgent=False,
             churn=False)
    with sessions() as session:
        rows = session.scalars(
            select(Annotation).where(Annotation.message_id == first).order_by(Annotation.id)
        ).all()
        assert [(r.urgent, r.churn, r.superseded_at is None) for r in rows] == [
            (True, True, False),
            (False, False, True),
        ]
        audit = session.scalars(
            select(AuditLog.details).where(AuditLog.action == "label").order_by(AuditLog.id)
        ).all()
        assert [(d["urgent"], d["churn"]) for d in audit] == [(True, True), (False, False)]

    # A label without the flags (an older page, another client) says nothing about them.
    second = api.next()["message"]["id"]
    api.post("/api/label", message_id=second, team_id=seeded.teams["schade"])
    label = current_labels(sessions, message_id=second)[0]
    assert (label.urgent, label.churn) == (None, None)

    # Flags are booleans.
    refused = api.post(
        "/api/label", 400, message_id=api.next()["message"]["id"],
        team_id=seeded.teams["schade"], urgent="yes",
    )
    assert refused["error"] == "urgent must be true or false"


def test_a_group_label_carries_the_flags_to_every_copy(app: Flask, seeded: Seeded) -> None:
    from labeling.store.tables import Message

    sessions = app.extensions["mailroom.db"].sessions
    group = seeded.messages[:3]
    with sessions() as session:
        for message_id in group:
            session.get_one(Message, message_id).dup_group_id = group[0]
        session.commit()
    api = Api(logged_in(app, "labeler"))
    api.next()
    after = api.post(
        "/api/label-group", message_id=group[0], team_id=seeded.teams["klachten"], churn=True
    )
    assert after["notice"].endswith("labelled Klachten, wants to leave")
    labels = current_labels(sessions, source="human")
    assert [(a.message_id, a.urgent, a.churn) for a in labels] == [
        (m, False, True) for m in group
    ]


def test_flags_are_exported_with_the_labels(app: Flask, seeded: Seeded, tmp_path: Path) -> None:
    sessions = app.extensions["mailroom.db"].sessions
    labeller, other = Api(logged_in(app, "labeler")), Api(logged_in(app, "labeler2"))
    a, b, c = seeded.messages[:3]
    for api in (labeller, other):
        api.next()
    labeller.post("/api/label", message_id=a, team_id=seeded.teams["schade"], urgent=True)
    # Two people disagree on urgency: a tie counts as flagged; churn both said no.
    labeller.next()
    labeller.post("/api/label", message_id=b, team_id=seeded.teams["premie"], urgent=True)
    with sessions() as session:
        from labeling.annotation.queue import LabelFlags, mark_served, record_label

        mark_served(session, seeded.users["labeler2"], b)
        record_label(
            session, b, seeded.teams["premie"], seeded.users["labeler2"], flags=LabelFlags()
        )
        record_label(session, c, seeded.teams["schade"], seeded.users["admin"])  # not asked
        session.commit()
        examples = {e.message_id: e for e in training_examples(session)}
    assert (examples[a].urgent, examples[a].churn) == (True, False)
    assert (examples[b].urgent, examples[b].churn) == (True, False)
    assert (examples[c].urgent, examples[c].churn) == (None, None)

    out = tmp_path / "labels.jsonl"
    write_examples(examples.values(), out)
    records = {r["message_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert (records[a]["urgent"], records[a]["churn"]) == (True, False)
    assert (records[c]["urgent"], records[c]["churn"]) == (None, None)
    csv_out = tmp_path / "labels.csv"
    write_examples(examples.values(), csv_out, "csv")
    header, *rows = csv_out.read_text().splitlines()
    assert header.endswith(",urgent,churn")
    assert any(row.endswith(",true,false") for row in rows)


def test_the_keys_help_names_the_flag_keys_in_english_and_dutch(
    app: Flask, seeded: Seeded
) -> None:
    english = logged_in(app, "labeler").get("/label").get_data(as_text=True)
    assert 'id="flag-urgent"' in english and 'id="flag-churn"' in english
    assert "<kbd>d</kbd></td><td>mark this mail urgent" in english
    assert "<kbd>o</kbd></td><td>mark that the customer wants to leave" in english
    dutch_client = logged_in(app, "labeler")
    dutch_client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "nl"
    dutch = dutch_client.get("/label").get_data(as_text=True)
    assert "<kbd>d</kbd></td><td>markeer deze mail als dringend" in dutch
    assert "wil opzeggen" in dutch


def test_the_flag_keys_clash_with_no_other_key_of_the_page() -> None:
    script = (Path(__file__).resolve().parents[2] / "web" / "static" / "label.js").read_text()
    cases = [line.strip() for line in script.splitlines() if line.strip().startswith('case "')]
    keys = [line.split('"')[1] for line in cases]
    assert "d" in keys and "o" in keys
    assert len(keys) == len(set(keys))
    for taken in ("u", "?"):  # handled before the switch
        assert f'key === "{taken}"' in script and taken not in keys
