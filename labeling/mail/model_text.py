"""What a model reads of a mail, the same in training, scoring and routing: pseudonymised,
so that no model learns a name, an address or an account number (nor keeps one in its
vocabulary)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labeling.mail.pseudonymise import Pseudonymiser

from labeling.mail.quotes import FORWARDED_ORIGINAL_MARK

# A forwarded mail's own text is the forwarder's note ("zie onder"); what it is about is in
# the forwarded part, which the parser files under quoted text. Likewise a short reply's
# topic is in what it quotes.
_FORWARD_SUBJECT = re.compile(r"^\s*+(?:fwd?|fw|doorst|wg|tr)\s*+:", re.IGNORECASE)
SHORT_NEW_TEXT_WORDS = 8
QUOTED_CHARS = 1500


def model_text(
    subject: str,
    new_text: str,
    quoted_text: str = "",
    *,
    names: Iterable[str] = (),
    pseudonymiser: Pseudonymiser | None = None,
) -> str:
    """The text a model reads for a mail, in training and in routing alike: the subject and
    the new text, plus the start of the quoted part when the mail is a forward (by its
    subject, or because it carries a forwarded message, which the parser puts first in the
    quoted part) or its new text is too short to say what it is about; personal details
    replaced by placeholders.

    ``names``: the sender's display name (helps find it in the text). ``pseudonymiser``:
    the one built from the settings (``Settings.pseudonymiser()``); by default the one with
    the default patterns. Training and routing must use the same one."""
    from labeling.mail.pseudonymise import pseudonymiser_for

    text = f"{subject}\n{new_text}"
    if quoted_text and (
        quoted_text.startswith(FORWARDED_ORIGINAL_MARK)
        or _FORWARD_SUBJECT.match(subject)
        or len(new_text.split()) < SHORT_NEW_TEXT_WORDS
    ):
        text += "\n" + quoted_text[:QUOTED_CHARS]
    found = pseudonymiser if pseudonymiser is not None else pseudonymiser_for()
    return found.mail(text, names=names).text(text)
