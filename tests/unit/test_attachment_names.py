"""An attachment's file name is shown for what it is: a bidi control character that would
make "rechnung\u202efdp.exe" look like "rechnungexe.pdf" is written out, on the labelling
and the review pages alike (both read web.payloads.message_view)."""

from __future__ import annotations

from labeling.store.tables import Message
from web.payloads import message_view, visible_name


def test_bidi_controls_in_a_file_name_are_written_out() -> None:
    message = Message(
        id=7,
        subject="Factuur",
        sender_name="",
        sender_email="a@example.nl",
        language="nl",
        new_text="Zie bijlage.",
        quoted_text="",
        signature="",
        body_text="Zie bijlage.",
        attachments=[
            {"filename": "rechnung\u202efdp.exe", "content_type": "application/x", "size": 9},
            {"filename": "\u2067gewoon.pdf\u2069", "content_type": "application/pdf", "size": 1},
            {"filename": "schade foto's (1).jpg", "content_type": "image/jpeg", "size": 2},
        ],
    )
    names = [a.filename for a in message_view(message, 0).attachments]
    assert names == [
        "rechnung[U+202E]fdp.exe",
        "[U+2067]gewoon.pdf[U+2069]",
        "schade foto's (1).jpg",
    ]


def test_every_bidi_control_is_written_out_and_nothing_else_changes() -> None:
    controls = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    shown = visible_name("a" + controls + "ü€")
    assert not any(char in shown for char in controls)
    assert shown.startswith("a[U+061C][U+200E]") and shown.endswith("[U+2069]ü€")
