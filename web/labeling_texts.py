"""Texts ``labeling`` writes, in the interface language: its refusals and its reasons.

``labeling`` raises :class:`~labeling.errors.LabelingError` and ``RuleError`` with English
messages and explains a routing decision in English lines (the CLI, the cover note of a
forward and ``/api/v1`` use them as they are; ``labeling`` knows no Babel). The pages show
them in the person's language: :func:`refusal_text` and :func:`explanation_text` match a
text against the templates below (each the catalogue's msgid, its ``%(name)s`` parts read
back from the text) and translate it; a text no template matches is shown as written.

tests/unit/test_labeling_texts.py checks that every refusal template is a message
``labeling`` raises and that every line :func:`labeling.live.explain.explain` writes has
its template.
"""

from __future__ import annotations

import re
from functools import cache

from flask_babel import gettext

from web.i18n import N_

# Messages are short; a longer one is shown as written (and the patterns stay cheap).
MAX_MESSAGE = 600

TEMPLATES = (
    # labeling.store.people and labeling.store.passwords
    N_("a username is 2–150 letters, digits or . _ @ - (no spaces)"),
    N_("there is already a user %(name)s"),
    N_("the current password is not right"),
    N_("the new password is the current one"),
    N_("%(name)s is the last active admin; make another admin first"),
    N_("a password needs at least %(n)s characters"),
    N_("a password needs more than a few different characters"),
    N_("that password is one of the first an attacker tries; choose another"),
    N_("a password must not contain the username"),
    # labeling.store.teams
    N_("a team slug is lower-case letters, digits and '-', up to 64"),
    N_("there is already a team %(slug)s"),
    N_("hotkey %(key)s now belongs to %(holder)s; give %(team)s another hotkey (or none) first"),
    N_("a team needs a name"),
    N_("a hotkey is one digit, 1–9"),
    N_("hotkey %(key)s is taken by %(holder)s"),
    N_("%(address)s is not an e-mail address"),
    # labeling.store.api_tokens
    N_("callback URL: give an http:// or https:// URL"),
    N_("token name: one line of at most 100 characters"),
    N_("a token named %(name)s exists already"),
    # labeling.annotation.queue and agreement
    N_("team %(slug)s is archived; it takes no new labels"),
    N_("message %(id)s is quarantined (%(reason)s); it cannot be labelled"),
    N_("message %(id)s is quarantined; it cannot be labelled"),
    N_("message %(id)s is live mail; it is decided in review, not labelled"),
    N_("mail #%(id)s could not be read; it cannot be labelled"),
    N_(
        "mail #%(id)s comes in the queue's own order: only mail in a near-duplicate group, "
        "with a flagged folder label, or that you skipped or labelled can be opened by its "
        "number"
    ),
    N_("some mails of this group were labelled at the same time; try again"),
    N_("there is no archive mail #%(id)s"),
    N_("there is no message %(id)s"),
    # labeling.live.review and lifecycle
    N_("mail %(id)s is not waiting for review"),
    N_(
        "mail %(id)s could not be read (%(reason)s); open the original in the mailbox, "
        "forward it by hand, then mark it handled"
    ),
    N_("mail %(id)s is readable: choose its team instead"),
    N_("mail %(id)s was already decided"),
    N_("mail %(id)s has not been routed to a team"),
    N_(
        "mail #%(id)s arrived too long ago: its original was deleted under the retention "
        "period and cannot be forwarded again; forward it by hand"
    ),
    # labeling.rules
    N_("a rule named %(name)s exists already"),
    N_("rule %(name)s: team %(team)s is archived"),
    N_("rule %(name)s has no condition: it would match every mail"),
    N_("name: give one line of at most 200 characters"),
    N_("%(key)s: %(value)s holds a space"),
    N_("%(key)s: %(value)s holds a line break"),
)

# labeling.live.explain: why a mail went where it went (the review page lists them).
EXPLANATIONS = (
    N_("rule '%(rule)s' matched"),
    N_("rule '%(rule)s' asks a person to confirm every route"),
    N_("the rule's team %(team)s cannot receive mail now"),
    N_("same team as the earlier mail of its thread"),
    N_("same team as the earlier mail of its thread (a person moved the thread there)"),
    N_("the model thinks the topic changed (to %(team)s)"),
    N_("its thread went to %(team)s, but the model gives that team only %(probability)s"),
    N_("its thread went to %(team)s; the model weighed it and is still not sure"),
    N_("same team as case #%(case)s (today)"),
    N_("same team as case #%(case)s (1 day ago)"),
    N_("same team as case #%(case)s (%(days)s days ago)"),
    N_("same handler as case #%(case)s (today)"),
    N_("same handler as case #%(case)s (1 day ago)"),
    N_("same handler as case #%(case)s (%(days)s days ago)"),
    N_("a person chose the case's team"),
    N_("the model thinks the topic changed since case #%(case)s (to %(team)s)"),
    N_("case #%(case)s went to %(team)s, but the model gives that team only %(probability)s"),
    N_("case #%(case)s went to %(team)s; the model weighed it and is still not sure"),
    N_("a person chose this team"),
    N_("urgent (cue list: %(cues)s)"),
    N_("wants to leave (cue list: %(cues)s)"),
    N_("urgent: %(score)s (model)"),
    N_("wants to leave: %(score)s (model)"),
    N_("priority %(priority)s (rule '%(rule)s')"),
    N_("priority %(priority)s"),
)

# Parts that are themselves words of the interface (a rule's priority), translated too.
_WORDS = frozenset({"priority"})

_PART = re.compile(r"%\((\w+)\)s")


@cache
def _patterns(templates: tuple[str, ...]) -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each template as a pattern: its text literal, each part a bounded lazy group (at
    most a few per template, over a text of at most MAX_MESSAGE characters)."""
    built = []
    for template in templates:
        pieces = _PART.split(template)
        regex = "".join(
            re.escape(piece) if i % 2 == 0 else rf"(?P<{piece}>[^\n]{{1,300}}?)"
            for i, piece in enumerate(pieces)
        )
        built.append((re.compile(regex), template))
    return tuple(built)


def _translated(text: str, templates: tuple[str, ...]) -> str:
    if len(text) > MAX_MESSAGE:
        return text
    for pattern, template in _patterns(templates):
        found = pattern.fullmatch(text)
        if found is not None:
            parts = {
                name: gettext(value) if name in _WORDS else value
                for name, value in found.groupdict().items()
            }
            return gettext(template, **parts)
    return text


def refusal_text(exc: Exception | str) -> str:
    """The message of a refusal from ``labeling``, in the interface language when it is
    one of :data:`TEMPLATES`, else as written."""
    return _translated(str(exc), TEMPLATES)


def explanation_text(line: str) -> str:
    """A line of :func:`labeling.live.explain.explain`, in the interface language when it
    is one of :data:`EXPLANATIONS`, else as written."""
    return _translated(line, EXPLANATIONS)
