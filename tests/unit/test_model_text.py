"""What the model reads of a mail (labeling.mail.model_text.model_text), the same in training and
in routing: a forward is read with what it forwards, a short reply with what it quotes."""

from __future__ import annotations

import pytest

from labeling.mail.model_text import QUOTED_CHARS, model_text

LONG = "Mijn auto is gisteren op de parkeerplaats aangereden door een bestelbus die wegreed."
QUOTED = "> Van: klant\n> Ik wil mijn polis opzeggen per 1 januari."


@pytest.mark.parametrize(
    ("subject", "new_text", "quoted", "reads_quote"),
    [
        ("Fwd: opzegging", "Zie onder, graag oppakken.", QUOTED, True),
        ("Doorst: vraag", LONG, QUOTED, True),  # a forward: always with what it forwards
        ("WG: Kündigung", LONG, QUOTED, True),
        ("Re: opzegging", "Dank u, prima.", QUOTED, True),  # a short reply: its topic is quoted
        ("Re: schade", LONG, QUOTED, False),  # a reply that says enough itself
        ("Schade", LONG, "", False),
        ("Forward planning", LONG, QUOTED, False),  # not a forward prefix
    ],
)
def test_the_quoted_part_is_read_only_when_the_new_text_cannot_say_enough(
    subject: str, new_text: str, quoted: str, reads_quote: bool
) -> None:
    text = model_text(subject, new_text, quoted)
    assert text.startswith(f"{subject}\n{new_text}")
    assert ("opzeggen per 1 januari" in text) is reads_quote


def test_a_long_forwarded_part_is_cut() -> None:
    text = model_text("Fwd: x", "zie onder", "a" * 10_000)
    assert len(text) == len("Fwd: x\nzie onder\n") + QUOTED_CHARS
