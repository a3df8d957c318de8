"""What a model reads is pseudonymised, the same in training, scoring and routing, so no
model learns (or keeps in its vocabulary) a name, an address or an account number."""

from __future__ import annotations

from labeling.mail.model_text import model_text
from labeling.mail.pseudonymise import Pseudonymiser


def test_the_model_reads_placeholders_not_personal_details() -> None:
    text = model_text(
        "Schade aan auto 12-ABC-3",
        "Beste mensen,\n\nMijn auto is aangereden. Bel me op 06-12345678 of mail "
        "jan.jansen@example.nl. IBAN NL91ABNA0417164300.\n\nGroet,\nJan Jansen",
        names=("Jan Jansen",),
    )
    for detail in ("12-ABC-3", "06-12345678", "jan.jansen", "NL91", "Jansen"):
        assert detail not in text
    assert text.startswith("Schade aan auto [KENTEKEN-1]\nBeste mensen,")
    assert "[TELEFOON-1]" in text and "[EMAIL-1]" in text and "[IBAN-1]" in text
    assert text.endswith("Groet,\n[NAAM-1]")


def test_the_settings_patterns_reach_the_model_text() -> None:
    custom = Pseudonymiser(org_patterns={"DOSSIER": r"D\d{6}"}, keep=())
    assert model_text("Dossier D123456", "Graag", pseudonymiser=custom) == (
        "Dossier [DOSSIER-1]\nGraag"
    )
