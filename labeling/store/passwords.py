"""Which passwords are accepted: long enough, not a common one, not the username.

The list below is written for Mailroom (no copied list): the passwords every guessing
attack tries first, in English and Dutch. A password is compared after lower-casing and
stripping digits and punctuation from both ends, so ``Welkom2024!`` counts as ``welkom``.
"""

from __future__ import annotations

import string

MIN_PASSWORD_LENGTH = 10

_COMMON = """
    password passw0rd passwort wachtwoord wachtw00rd paswoord welkom welcome welkomwelkom
    qwerty qwertyuiop qwertz azerty asdfgh asdfghjkl zxcvbn zxcvbnm qazwsx
    abc abcdef abcdefgh abcdefghij letmein iloveyou ikhouvanjou admin administrator
    beheer beheerder root toor user gebruiker guest gast test tester testen demo
    changeme veranderen default standaard secret geheim geheimpje private privé
    monkey dragon master shadow sunshine princess football baseball soccer voetbal
    superman batman starwars pokemon trustno1 whatever hello hallo hoi doei
    ajax feyenoord psv oranje holland nederland amsterdam rotterdam utrecht
    zomer winter lente herfst voorjaar januari februari maart april mei juni juli
    augustus september oktober november december maandag dinsdag woensdag donderdag
    vrijdag zaterdag zondag spring summer autumn monday friday
    mailroom mailbox postkamer verzekering verzekeraar polis schade insurance claims
    login inloggen logon access toegang computer internet office kantoor
    lovely loveme freedom michael jennifer jordan thomas daniel jessica charlie
"""
COMMON_PASSWORDS = frozenset(_COMMON.split())

_EDGES = string.digits + string.punctuation + " "


def password_problem(password: str, username: str = "") -> str | None:
    """Why ``password`` is refused, in words for the person choosing it; None when fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
    if len(set(password)) < 4:
        return "a password needs more than a few different characters"
    core = password.casefold().strip(_EDGES)
    if not core or core in COMMON_PASSWORDS or core.replace(" ", "") in COMMON_PASSWORDS:
        return "that password is one of the first an attacker tries; choose another"
    name = username.strip().casefold()
    if len(name) >= 3 and name in password.casefold():
        return "a password must not contain the username"
    return None
