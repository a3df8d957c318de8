"""Angry, hurried and leaving customers in the demo corpus, with the truth flags ``urgent``
and ``churn`` (issue 14 item 3). All sentences were written for this project, in the
phrasebooks' template language (:func:`data.phrasebook.expand`).

The demo's organisation judges a mail **urgent** when the customer needs something now or
is at the end of their patience, and **churn** ("wants to leave") when the customer says
they will go, or is going, to another insurer — a cancellation because the car was sold or
someone emigrated is not churn. So the truth differs from the cue list on purpose, as an
organisation's judgement does: many urgent and leaving customers use none of its words,
some mail uses its words calmly ("het heeft geen spoed"), and a cancellation for a sold car
says "opzeggen" without wanting to leave.

:func:`mood_of` decides with its own seeded RNG, so the rest of a mail (and of the corpus)
is the same with and without it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from data.phrasebook import expand

# Chance that a customer's mail carries each mood, by team (the rest: BASE).
URGENT_SHARE = {"schade": 0.12, "klachten": 0.16, "premie": 0.06, "BASE": 0.04}
THREAT_SHARE = {"klachten": 0.18, "premie": 0.06, "schade": 0.03, "BASE": 0.015}
CALM_SHARE = 0.03  # cue words used calmly: not urgent, not leaving
# Cancellations that are a customer leaving for another insurer (Dutch intents).
LEAVING_INTENTS = {"overstap", "te_duur"}
# The English cancellation intent mixes moving abroad and leaving: read its words.
LEAVING_WORDS_EN = ("cheaper insurer", "premium increase")

_URGENT = {
    "nl": (
        "Dit moet {vandaag nog|uiterlijk morgen|deze week nog} geregeld zijn, anders {kan ik "
        "niet naar mijn werk|loop ik de termijn van de aannemer mis|sta ik met lege handen}.",
        "Ik wacht nu al {drie weken|een maand|zes weken} en niemand reageert. Ik verwacht "
        "{vandaag|morgen} {een antwoord|een telefoontje}.",
        "Het is echt dringend: {de garage wil morgen weten of ze mogen beginnen|de aannemer "
        "staat overmorgen voor de deur|wij vertrekken overmorgen op reis}.",
        "Graag met spoed behandelen, {het water staat nog in de woonkamer|we kunnen de woning "
        "niet meer afsluiten|ik heb geen vervoer meer}.",
        "Ik ben het {echt|helemaal} zat. Dit is de {derde|vierde} keer dat ik hierover mail "
        "en er gebeurt niets.",
        "Bel mij {alstublieft|a.u.b.} zo snel mogelijk terug, ik word gek van het wachten.",
        "{Onacceptabel|Belachelijk} dat dit zo lang duurt. Er moet nu iemand naar kijken.",
    ),
    "en": (
        "This needs to be sorted {today|by tomorrow at the latest|this week}, otherwise "
        "{I cannot get to work|the builder's deadline passes}.",
        "I have been waiting {three weeks|a month|six weeks} and nobody answers. I expect "
        "{a reply|a call} {today|tomorrow}.",
        "This is urgent: {the garage needs to know tomorrow whether they can start|we leave "
        "on holiday the day after tomorrow}.",
        "I am {really|completely} fed up. This is the {third|fourth} time I write about this "
        "and nothing happens.",
        "Please call me back as soon as possible, the waiting is driving me mad.",
    ),
}
_SUBJECT_PREFIX = {
    "nl": ("SPOED: ", "Dringend: ", "Nog steeds niets gehoord: ", "3e herinnering: "),
    "en": ("URGENT: ", "Still no answer: ", "Third reminder: "),
}
_THREAT = {
    "nl": (
        "Als dit niet {snel|deze week} wordt opgelost, zeg ik al mijn verzekeringen op.",
        "Ik overweeg {serieus|sterk} om naar een andere verzekeraar te gaan.",
        "Na {tien|vijftien|twintig} jaar klant te zijn ben ik er klaar mee; ik breng mijn "
        "polissen ergens anders onder.",
        "Bij {een concurrent|een andere maatschappij} ben ik een stuk goedkoper uit. Waarom "
        "zou ik nog blijven?",
        "Reken er maar op dat ik vertrek als dit zo doorgaat.",
        "Ik heb al offertes opgevraagd bij andere verzekeraars.",
    ),
    "en": (
        "If this is not solved {soon|this week}, I will cancel all my policies with you.",
        "I am {seriously|strongly} thinking about moving to another insurer.",
        "After {ten|fifteen|twenty} years as a customer I have had enough; I will take my "
        "policies elsewhere.",
        "I have already asked other insurers for a quote.",
    ),
}
_CALM = {
    "nl": (
        "Het heeft geen spoed, {reageer gerust wanneer het uitkomt|volgende week is ook prima}.",
        "Geen haast hoor, het is niet dringend.",
        "Ik ben {heel|erg} tevreden en wil zeker niet overstappen.",
    ),
    "en": (
        "No rush, it is not urgent; {next week is fine|whenever suits you}.",
        "I am very happy with you and certainly not planning to cancel.",
    ),
}


@dataclass
class Mood:
    """What :func:`mood_of` did to one mail, and its truth flags."""

    urgent: bool = False
    churn: bool = False
    features: list[str] = field(default_factory=list)


def _share(table: dict[str, float], team: str) -> float:
    return table.get(team, table["BASE"])


def mood_of(
    seed: int,
    index: int,
    *,
    language: str,
    team: str,
    intent: str,
    kind: str,
    paragraphs: list[str],
    subject: str,
) -> tuple[list[str], str, Mood]:
    """The mail's paragraphs and subject with any mood sentence added, and its flags."""
    rng = random.Random(f"demo-corpus/{seed}/{index}/mood")
    mood = Mood()
    out = list(paragraphs)
    if intent in LEAVING_INTENTS or (
        intent == "leaving" and any(w in " ".join(out) for w in LEAVING_WORDS_EN)
    ):
        mood.churn = True
        mood.features.append("mood:leaving")
    slots: dict[str, str] = {}
    if rng.random() < _share(URGENT_SHARE, team):
        mood.urgent = True
        mood.features.append("mood:urgent")
        out.insert(min(1, len(out)), expand(rng.choice(_URGENT[language]), slots, rng))
        if kind == "new" and rng.random() < 0.35:
            subject = rng.choice(_SUBJECT_PREFIX[language]) + subject
    if rng.random() < _share(THREAT_SHARE, team):
        mood.churn = True
        mood.features.append("mood:threat")
        out.insert(max(len(out) - 1, 1), expand(rng.choice(_THREAT[language]), slots, rng))
    elif not mood.urgent and not mood.churn and rng.random() < CALM_SHARE:
        mood.features.append("mood:calm")
        out.insert(max(len(out) - 1, 1), expand(rng.choice(_CALM[language]), slots, rng))
    return out, subject, mood
