"""Team members in the admin teams page: added with their own address, leaving and coming
back, refused when the address is Mailroom's own; only admins reach it."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from labeling.settings import Settings
from labeling.store.tables import AuditLog, TeamMember
from tests.support.web import Seeded, csrf_token, logged_in


def test_an_admin_adds_a_member_who_later_leaves_and_comes_back(app: Flask, seeded: Seeded) -> None:
    settings: Settings = app.extensions["mailroom.settings"]
    app.extensions["mailroom.settings"] = settings.model_copy(
        update={"inbox_addresses": ["info@polder.example"]}
    )
    admin = logged_in(app, "admin")
    premie = seeded.teams["premie"]
    token = csrf_token(admin, f"/admin/teams/{premie}")
    member_form = {"name": " Marloes  de Vries ", "email": "marloes@polder.example"}
    added = admin.post(
        f"/admin/teams/{premie}/members", data={**member_form, "csrf_token": token}
    )
    assert added.status_code == 302
    sessions = app.extensions["mailroom.db"].sessions
    with sessions() as session:
        member = session.scalars(select(TeamMember)).one()
        assert (member.team_id, member.name, member.active) == (premie, "Marloes de Vries", True)
        member_id = member.id
    page = admin.get(f"/admin/teams/{premie}").get_data(as_text=True)
    assert f'data-member="{member_id}"' in page and "Marloes de Vries" in page
    # Mailroom's own address would loop; a bad address is refused with the reason.
    for address in ("info@polder.example", "geen adres"):
        refused = admin.post(
            f"/admin/teams/{premie}/members",
            data={"name": "Lus", "email": address, "csrf_token": token},
        )
        assert refused.status_code == 400
    url = f"/admin/teams/{premie}/members/{member_id}/active"
    assert admin.post(url, data={"active": "0", "csrf_token": token}).status_code == 302
    with sessions() as session:
        assert session.get_one(TeamMember, member_id).active is False
    assert admin.post(url, data={"active": "1", "csrf_token": token}).status_code == 302
    with sessions() as session:
        assert session.get_one(TeamMember, member_id).active is True
        actions = set(session.scalars(select(AuditLog.action)))
    assert {"team.member-add", "team.member-leave", "team.member-return"} <= actions
    # A member of one team is not reached through another team's page.
    other = seeded.teams["klachten"]
    wrong = f"/admin/teams/{other}/members/{member_id}/active"
    assert admin.post(wrong, data={"active": "0", "csrf_token": token}).status_code == 404
    reviewer = logged_in(app, "reviewer")
    assert reviewer.get(f"/admin/teams/{premie}").status_code == 403


def test_a_mail_routed_by_customer_affinity_says_why_on_its_page(
    app: Flask, seeded: Seeded
) -> None:
    from labeling.store.tables import Message, RoutingDecision, utcnow

    sessions = app.extensions["mailroom.db"].sessions
    with sessions() as session:
        message = session.get_one(Message, seeded.messages[0])
        message.origin, message.route_state, message.imported_at = "live", "done", utcnow()
        session.add(
            RoutingDecision(
                message_id=message.id,
                team_id=seeded.teams["premie"],
                decided_by="affinity",
                mode="auto",
                reason="affinity",
                details={
                    "affinity_case": 2311,
                    "affinity_age_days": 3,
                    "handler_id": 1,
                    "handler": "Marloes",
                },
                created_at=utcnow(),
            )
        )
        session.commit()
        message_id = message.id
    page = logged_in(app, "reviewer").get(f"/review/mail/{message_id}").get_data(as_text=True)
    assert "the customer&#39;s case" in page
    assert "same handler as case #2311 (3 days ago)" in page
