"""The interface speaks Dutch first: to a browser that asks for neither language, in Dutch;
English to a browser that asks for it; and each person's own choice over their browser."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from labeling.rules import store as rule_store
from labeling.rules.matching import Conditions, RuleSpec
from tests.support.web import Api, Seeded, csrf_token, login, serve


def _client(app: Flask, accept: str | None) -> FlaskClient:
    client = FlaskClient(app, app.response_class, use_cookies=True)
    if accept is not None:
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = accept
    return client


def test_dutch_first_english_from_the_browser_and_a_persons_choice_wins(
    app: Flask, seeded: Seeded
) -> None:
    anonymous = _client(app, None).get("/login").get_data(as_text=True)
    assert '<html lang="nl">' in anonymous and "Inloggen" in anonymous
    english = _client(app, "en-GB,en;q=0.9").get("/login").get_data(as_text=True)
    assert '<html lang="en">' in english and "Log in" in english
    german = _client(app, "de-DE").get("/login").get_data(as_text=True)
    assert '<html lang="nl">' in german  # neither language asked for: Dutch

    reviewer = _client(app, None)
    assert login(reviewer, "reviewer").status_code == 302
    page = reviewer.get("/review").get_data(as_text=True)
    assert "Er wacht niets op beoordeling" in page and ">Beoordelen<" in page
    agreement = reviewer.get("/agreement").get_data(as_text=True)
    assert "Overeenstemming tussen labelaars" in agreement
    assert "Geen open meningsverschillen." in reviewer.get("/agreement/disagreements").get_data(
        as_text=True
    )

    # The reviewer prefers English: the choice holds whatever the browser asks.
    token = csrf_token(reviewer, "/review")
    answer = reviewer.post(
        "/language", data={"language": "en", "next": "/review", "csrf_token": token}
    )
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/review")
    page = reviewer.get("/review").get_data(as_text=True)
    assert '<html lang="en">' in page and "Nothing waits for review" in page

    # Back to the browser's language; an address elsewhere is not followed.
    answer = reviewer.post(
        "/language", data={"language": "", "next": "//evil.example/", "csrf_token": token}
    )
    assert answer.headers["Location"] in ("/", "http://localhost/")
    assert '<html lang="nl">' in reviewer.get("/review").get_data(as_text=True)

    # Labellers get the labelling page in Dutch too.
    labeller = _client(app, None)
    login(labeller, "labeler")
    label_page = labeller.get("/label").get_data(as_text=True)
    assert "Door jou overgeslagen" in label_page and "oudste eerst" in label_page
    # The words the page's script writes come with the page, in Dutch.
    assert "door een mens gelabeld" in label_page and "getoond: {what}" in label_page


# What an admin reads on each of their pages: (path, Dutch that must show, English that
# must not). The English is the page's own text in the English catalogue, so a text that
# misses the catalogue (or a template that forgets _()) fails here.
ADMIN_PAGES = (
    (
        "/dashboard",
        ("Binnengekomen mails", "Modelversies", "Beoordelingsachterstand", "over de laatste"),
        ("Mails arrived", "Model versions", "Review backlog", "No model yet", "over the last"),
    ),
    (
        "/thresholds",
        ("Doelprecisie", "Waar het certificaat op rust", "Controlesteekproef: 0 mails"),
        ("Target precision", "What the certificate rests on", "Verified sample"),
    ),
    (
        "/admin/users",
        ("Nieuwe gebruiker", "Wachtwoord opnieuw instellen", "beoordelaar", "labelaar"),
        ("New user", "Reset password", "Deactivated users cannot log in", ">reviewer</option>"),
    ),
    (
        "/admin/teams",
        ("Nieuw team", "Labels van een mens", "Uit mappen", "Sneltoets", "Doorstuuradres"),
        ("New team", "Labels by a person", "From folders", "Hotkey", "Forwarding address"),
    ),
    (
        "/admin/rules/",
        ("Nieuwe regel", "Proberen op het archief", "Zinsdeel in het onderwerp", ">hoog<"),
        ("New rule", "Try on the archive", "Phrase in the subject", "No rules yet", ">high<"),
    ),
    (
        "/admin/api-tokens",
        ("API-tokens", "Nieuw token", "Nog geen tokens.", "Koppeling"),
        ("New token", "No tokens yet", "Integration", "Only a hash of each token is kept"),
    ),
    (
        "/account/password",
        ("Je wachtwoord wijzigen", "Huidig wachtwoord", "Nieuw wachtwoord herhalen"),
        ("Change your password", "Current password", "New password again"),
    ),
)


def test_the_admin_pages_speak_dutch_and_english_to_who_chose_it(
    app: Flask, seeded: Seeded, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        rule_store.create_rule(
            session,
            RuleSpec(
                "Aansprakelijkheid", Conditions.from_mapping({"sender": ["klant.nl"]}), "review"
            ),
        )
        session.commit()
    admin = _client(app, None)
    assert login(admin, "admin").status_code == 302
    rules = admin.get("/admin/rules/").get_data(as_text=True)
    assert "afzender klant.nl" in rules and "naar beoordeling" in rules
    for path, dutch, english in ADMIN_PAGES:
        page = admin.get(path).get_data(as_text=True)
        assert '<html lang="nl">' in page, path
        assert [text for text in dutch if text not in page] == [], path
        assert [text for text in english if text in page] == [], path
    team_page = admin.get(f"/admin/teams/{seeded.teams['schade']}").get_data(as_text=True)
    assert "Opslaan" in team_page and "Richtlijn (wat bij dit team hoort)" in team_page

    # What the server says back: a notice after a change, and the refusal of a bad value.
    token = csrf_token(admin, "/admin/teams")
    made = admin.post(
        "/admin/teams",
        data={"slug": "reizen", "name": "Reizen", "hotkey": "", "csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Team Reizen is aangemaakt." in made and "created" not in made
    again = admin.post(
        "/admin/teams",
        data={"slug": "reizen", "name": "Reizen", "hotkey": "", "csrf_token": token},
    )
    assert again.status_code == 400
    assert "er is al een team &#39;reizen&#39;" in again.get_data(as_text=True)
    archived = admin.post(
        f"/admin/teams/{seeded.teams['klachten']}/archive",
        data={"csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Team Klachten is gearchiveerd; zijn labels blijven bewaard." in archived
    refused = admin.get("/dashboard?period=month")
    assert refused.status_code == 400
    assert "Ongeldig verzoek" in refused.get_data(as_text=True)
    assert "De periode moet een van" in refused.get_data(as_text=True)
    assert "Niet gevonden" in admin.get("/admin/teams/999999").get_data(as_text=True)

    # A labeller is told in Dutch which role the dashboard needs.
    labeller = _client(app, None)
    login(labeller, "labeler")
    forbidden = labeller.get("/dashboard")
    assert forbidden.status_code == 403
    text = forbidden.get_data(as_text=True)
    assert "Geen toegang" in text and "de rol beheerder nodig" in text
    assert "ingelogd als labelaar" in text and "Forbidden" not in text
    label_page = labeller.get("/label").get_data(as_text=True)
    assert "Suggestie:" in label_page and "Groepsmodus: de volgende teamtoets" in label_page
    assert "Group mode" not in label_page and "Mail to label" not in label_page
    # The labelling page's refusals (409) come in Dutch too: the store's and the API's own.
    serve(sessions, seeded.users["labeler"], seeded.messages[0])
    api = Api(labeller)
    refused_label = api.post(
        "/api/label", 409, message_id=seeded.messages[0], team_id=seeded.teams["klachten"]
    )
    assert refused_label["error"] == "team klachten is gearchiveerd; het krijgt geen nieuwe labels"
    not_skipped = api.post("/api/unskip", 409, message_id=seeded.messages[0])
    assert not_skipped["error"] == f"je had #{seeded.messages[0]} niet overgeslagen"

    # The same pages in English for an admin whose browser asks for it.
    english_admin = _client(app, "en-GB,en;q=0.9")
    login(english_admin, "admin")
    for path, dutch, _english in ADMIN_PAGES:
        page = english_admin.get(path).get_data(as_text=True)
        assert '<html lang="en">' in page, path
        assert [text for text in dutch if text in page] == [], path
    board = english_admin.get("/dashboard").get_data(as_text=True)
    assert "Mails arrived" in board and "Model versions" in board
