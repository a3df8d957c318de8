"""The demo corpus generator: deterministic, well-spread, realistic MIME, learnable but hard."""

from __future__ import annotations

import codecs
import dataclasses
import email
import mailbox
import os
import random
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.header import decode_header
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner

from data import TEAMS_FILE
from data.corpus_reader import (
    CorpusMail,
    TruthRecord,
    iter_corpus,
    message_subject_and_body,
    read_truth,
)
from data.demo_corpus import MAILDIR_NAME, TRUTH_NAME, CorpusSummary, generate
from data.phrasebook import Phrasebook, expand
from data.phrasebook_en import PHRASEBOOK as PHRASEBOOK_EN
from data.phrasebook_nl import PHRASEBOOK as PHRASEBOOK_NL
from data.slots import make_person, make_slots
from labeling.errors import ConfigError
from labeling.settings import Settings
from labeling.store.teams import TeamDefinition, load_teams_file

TEAMS = load_teams_file(TEAMS_FILE)

TEAM_SLUGS = {
    "schade",
    "polis-wijzigen",
    "premie",
    "klachten",
    "offertes",
    "opzeggingen",
    "persoonsgegevens",
    "algemeen",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CorpusSummary]:
    """800 mails (700 archived + 100 inbox), default seed; shared by the read-only tests."""
    out = tmp_path_factory.mktemp("corpus")
    return out, generate(out, TEAMS, count=700, inbox_count=100)


@pytest.fixture(scope="module")
def mails(corpus: tuple[Path, CorpusSummary]) -> list[CorpusMail]:
    return list(iter_corpus(corpus[0]))


@pytest.fixture(scope="module")
def parsed(mails: list[CorpusMail]) -> list[EmailMessage]:
    """Each mail parsed once with ``policy.default`` (parsing is the slow part)."""
    return [_parse(mail.raw) for mail in mails]


@pytest.fixture(scope="module")
def texts(parsed: list[EmailMessage]) -> list[tuple[str, str]]:
    """Subject and body text of each mail, extracted once."""
    return [message_subject_and_body(message) for message in parsed]


def tree_bytes(root: Path) -> dict[str, tuple[bytes, int]]:
    """Relative path -> (content, mtime) of every file under ``root``."""
    return {
        str(path.relative_to(root)): (path.read_bytes(), int(path.stat().st_mtime))
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# --- teams ---------------------------------------------------------------------------------


def test_teams_file_has_the_demo_teams() -> None:
    teams = TEAMS
    assert {team.slug for team in teams} == TEAM_SLUGS
    assert len({team.imap_folder for team in teams}) == len(teams)
    assert sorted(int(team.hotkey or 0) for team in teams) == list(range(1, len(teams) + 1))
    for team in teams:
        assert team.forward_address.endswith("@polderzeker.example")
        # Each guideline is in the team's language (Dutch) and says what does not belong.
        assert "NIET hier:" in team.description
        assert "\n" not in team.description
    with pytest.raises(dataclasses.FrozenInstanceError):
        teams[0].slug = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda text: text.replace("hotkey = 2", "hotkey = 1"), "duplicate hotkey"),
        (lambda text: text.replace('folder = "Premie"', 'folder = "Pre.mie"'), "folder"),
        (lambda text: text.replace('slug = "premie"', 'slug = "Premie!"'), "slug"),
        (lambda text: text.replace("hotkey = 8", "hotkey = 10"), "hotkey"),
        (lambda text: text.replace('forward_to = "info@polderzeker.example"\n', ""), "missing"),
    ],
)
def test_load_teams_rejects_bad_files(
    tmp_path: Path, change: Callable[[str], str], message: str
) -> None:
    path = tmp_path / "teams.toml"
    path.write_text(change(TEAMS_FILE.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_teams_file(path)


def test_load_teams_reads_another_file(tmp_path: Path) -> None:
    path = tmp_path / "teams.toml"
    path.write_text(
        '[[team]]\nslug = "a"\nname = "A"\ndescription = "x"\nforward_to = "a@example.nl"\n'
        'folder = "A"\nhotkey = 1\n',
        encoding="utf-8",
    )
    assert load_teams_file(path) == (TeamDefinition("a", "A", "x", "a@example.nl", "A", "1"),)


# --- phrasebooks ---------------------------------------------------------------------------


def _templates(book: Phrasebook) -> list[str]:
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, tuple | list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif dataclasses.is_dataclass(value):
            for item in dataclasses.fields(value):
                walk(getattr(value, item.name))

    walk(book)
    return found


@pytest.mark.parametrize("book", [PHRASEBOOK_NL, PHRASEBOOK_EN], ids=["nl", "en"])
def test_every_template_expands(book: Phrasebook) -> None:
    rng = random.Random(1)
    person = make_person(rng, book.language, 1)
    slots = make_slots(rng, book.language, person, datetime(2024, 5, 1, tzinfo=UTC))
    slots["earlier"] = "eerder verzoek"
    for template in _templates(book):
        for _ in range(3):
            text = expand(template, slots, rng)
            assert "{" not in text and "}" not in text, template
    assert set(book.intents) == TEAM_SLUGS
    assert set(book.mentions) == set(book.confounders) == TEAM_SLUGS


# --- determinism, layout, counts -------------------------------------------------------------


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", TEAMS, count=120, inbox_count=30, seed=3)
    generate(tmp_path / "b", TEAMS, count=120, inbox_count=30, seed=3)
    generate(tmp_path / "c", TEAMS, count=120, inbox_count=30, seed=4)
    a, b, c = (tree_bytes(tmp_path / name) for name in "abc")
    assert a == b
    assert a[TRUTH_NAME] != c[TRUTH_NAME]
    assert first.total == 150 == len(read_truth(tmp_path / "a"))


def test_existing_corpus_is_kept_unless_overwrite(tmp_path: Path) -> None:
    generate(tmp_path, TEAMS, count=20, inbox_count=5)
    with pytest.raises(FileExistsError):
        generate(tmp_path, TEAMS, count=20, inbox_count=5)
    summary = generate(tmp_path, TEAMS, count=30, inbox_count=0, overwrite=True)
    assert summary.total == 30 == len(read_truth(tmp_path))
    with pytest.raises(ValueError):
        generate(tmp_path / "x", TEAMS, count=-1)


def test_maildir_layout_and_counts(corpus: tuple[Path, CorpusSummary]) -> None:
    out, summary = corpus
    truth = read_truth(out)
    teams = TEAMS
    root = mailbox.Maildir(out / MAILDIR_NAME, create=False)
    assert sorted(root.list_folders()) == sorted(team.imap_folder for team in teams)
    assert len(root) == summary.inbox_count == 100
    assert summary.archive_count == 700 and summary.total == len(truth) == 800
    for team in teams:
        folder = root.get_folder(team.imap_folder)
        assert len(folder) == summary.per_folder[team.imap_folder]
        assert (out / MAILDIR_NAME / f".{team.imap_folder}" / "maildirfolder").exists()
    on_disk = Counter(record.folder for record in truth)
    assert dict(on_disk) == summary.per_folder
    assert sum(summary.per_team.values()) == sum(summary.per_language.values()) == 800
    assert len({record.message_id for record in truth}) == 800
    assert all(re.fullmatch(r"<demo-\d{6}@polderzeker\.example>", r.message_id) for r in truth)
    inbox = [record for record in truth if record.folder == "INBOX"]
    assert len(inbox) == 100 and all(record.path.startswith("new/") for record in inbox)


def test_truth_records_are_consistent(corpus: tuple[Path, CorpusSummary]) -> None:
    out, _ = corpus
    folders = {team.slug: team.imap_folder for team in TEAMS}
    truth = read_truth(out)
    for record in truth:
        assert record.team in TEAM_SLUGS and record.language in {"nl", "en"}
        assert record.kind in {"new", "reply", "forward", "malformed"}
        assert record.topics[0] == record.team and len(record.topics) in (1, 2)
        if len(record.topics) == 2:
            assert record.topics[1] != record.team
        if record.folder not in ("INBOX", folders[record.team]):
            assert "misfiled" in record.features
    misfiled = sum("misfiled" in record.features for record in truth)
    assert 0 < misfiled < 0.05 * len(truth)
    assert 0.15 < sum(len(r.topics) == 2 for r in truth) / len(truth) < 0.5


def test_repeat_customers_follow_up_their_case_from_the_same_address(
    mails: list[CorpusMail], parsed: list[EmailMessage]
) -> None:
    by_id = {
        mail.truth.message_id: (mail, message) for mail, message in zip(mails, parsed, strict=True)
    }
    for place in ("inbox", "archive"):
        part = [m for m in mails if (m.truth.folder == "INBOX") == (place == "inbox")]
        repeats = [mail for mail in part if mail.truth.repeat_of]
        assert 0.05 <= len(repeats) / len(part) <= 0.25, place
        kinds: Counter[str] = Counter()
        for mail in repeats:
            earlier, earlier_message = by_id[mail.truth.repeat_of or ""]
            message = by_id[mail.truth.message_id][1]
            # An earlier mail of the same part, from the same address; not a reply (only
            # customer affinity can link it). About the case's team unless a new matter.
            assert (earlier.truth.folder == "INBOX") == (place == "inbox")
            assert earlier.truth.message_id < mail.truth.message_id
            assert mail.truth.kind == "new"
            new_matter = "new-matter" in mail.truth.features
            assert (mail.truth.team != earlier.truth.team) == new_matter
            assert message["From"].addresses[0].addr_spec == (
                earlier_message["From"].addresses[0].addr_spec
            )
            assert message["In-Reply-To"] is None and message["References"] is None
            assert "repeat-customer" in mail.truth.features
            kinds.update(f for f in mail.truth.features if f.startswith("follow-up:"))
            kinds["new-matter"] += new_matter
        assert kinds["follow-up:vague"] and kinds["follow-up:more"], place
        assert 0 < kinds["new-matter"] < 0.35 * len(repeats), place


def test_every_team_has_a_reasonable_share_and_mostly_dutch(
    corpus: tuple[Path, CorpusSummary],
) -> None:
    _, summary = corpus
    assert set(summary.per_team) == TEAM_SLUGS
    for team, count in summary.per_team.items():
        assert 0.05 <= count / summary.total <= 0.3, team
    assert summary.per_language["nl"] / summary.total >= 0.7
    assert summary.per_language["en"] / summary.total >= 0.1
    kinds = summary.per_kind
    assert kinds["new"] > kinds["reply"] > kinds["forward"] > kinds["malformed"] > 0


# --- MIME ----------------------------------------------------------------------------------


def _parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_mime_variety(
    mails: list[CorpusMail], parsed: list[EmailMessage], texts: list[tuple[str, str]]
) -> None:
    seen: Counter[str] = Counter()
    ids = {mail.truth.message_id: n for n, mail in enumerate(mails)}
    for n, (mail, message) in enumerate(zip(mails, parsed, strict=True)):
        raw = mail.raw
        if re.search(rb"(?m)^Subject: .*=\?(utf-8|iso-8859-1|windows-1252)\?[qQbB]\?", raw):
            seen["rfc2047-subject"] += 1
        if re.search(rb"(?m)^From: =\?", raw):
            seen["rfc2047-name"] += 1
        if mail.truth.kind == "malformed":
            seen["malformed"] += 1
            continue
        for part in message.walk():
            seen[part.get_content_type()] += 1
            if part.get_content_charset():
                seen[f"charset:{part.get_content_charset()}"] += 1
            cte = str(part.get("content-transfer-encoding", "")).lower()
            seen[f"cte:{cte}"] += 1
        body = texts[n][1]
        if re.search(r"(?m)^> ", body):
            seen["gt-quote"] += 1
        if "-----Oorspronkelijk bericht-----" in body or "-----Original Message-----" in body:
            seen["outlook-quote"] += 1
        if re.search(r"(?m)^(Op .* schreef .*|On .* wrote):$", body):
            seen["reply-intro"] += 1
        if "Doorgestuurd bericht" in body or "Forwarded message" in body:
            seen["inline-forward"] += 1
        if "Met vriendelijke groet" in body:
            seen["met-vriendelijke-groet"] += 1
        if "Verzonden vanaf mijn iPhone" in body or "Sent from my iPhone" in body:
            seen["iphone"] += 1
        in_reply_to = message.get("in-reply-to")
        references = str(message.get("references", "")).split()
        if mail.truth.kind == "reply":
            assert in_reply_to and mail.truth.parent in references
            assert ids[str(mail.truth.parent)] < n  # an earlier mail of the corpus
            assert re.match(r"(?i)(re|antw|reactie):", str(message["subject"]))
            seen["reply"] += 1
        if mail.truth.kind == "forward":
            assert re.match(r"(?i)(fwd?|fw|wg|doorst):", str(message["subject"]))
    for feature in (
        "multipart/alternative",
        "multipart/mixed",
        "message/rfc822",
        "text/html",
        "application/pdf",
        "image/png",
        "application/octet-stream",
        "charset:utf-8",
        "charset:iso-8859-1",
        "charset:windows-1252",
        "cte:quoted-printable",
        "cte:base64",
        "cte:8bit",
        "rfc2047-subject",
        "rfc2047-name",
        "gt-quote",
        "outlook-quote",
        "reply-intro",
        "inline-forward",
        "met-vriendelijke-groet",
        "iphone",
        "reply",
        "malformed",
    ):
        assert seen[feature] >= 2, (feature, seen)
    # Characters that differ between the three charsets are really there.
    encoded = b"\n".join(mail.raw for mail in mails)
    assert b"=80" in encoded or b"\x80" in encoded  # euro sign in windows-1252
    assert b"=E9" in encoded or b"=EB" in encoded  # é / ë in a Latin charset


def test_well_formed_mails_parse_without_defects(
    mails: list[CorpusMail], parsed: list[EmailMessage], texts: list[tuple[str, str]]
) -> None:
    for mail, message, (_, body) in zip(mails, parsed, texts, strict=True):
        if mail.truth.kind == "malformed":
            continue
        assert str(message["message-id"]) == mail.truth.message_id
        assert message["date"].datetime is not None
        assert "@" in str(message["from"])
        for part in message.walk():
            assert not part.defects, (mail.truth.path, part.defects)
            if part.get_content_maintype() == "text":
                assert isinstance(part.get_content(), str)
        for name in ("subject", "from", "to"):
            header = message[name]
            assert header is not None and not header.defects, (mail.truth.path, name)
        assert body.strip(), mail.truth.path


def _problems(raw: bytes) -> list[str]:
    """What a careful parser would complain about (the stdlib alone lets some through)."""
    problems: list[str] = []
    message = _parse(raw)
    date = message["date"]
    if date is None or date.datetime is None:
        problems.append("date")
    head = raw.split(b"\n\n", 1)[0]
    subject = re.search(rb"(?m)^Subject: (.*(?:\n[ \t].*)*)", head)
    if subject is not None:
        value = subject.group(1)
        if not value.isascii():
            problems.append("8-bit header")
        else:
            try:
                for chunk, charset in decode_header(value.decode("ascii")):
                    if charset is not None:
                        codecs.lookup(charset)
                        assert isinstance(chunk, bytes)
                        chunk.decode(charset)
                    elif b"=?" in (chunk if isinstance(chunk, bytes) else chunk.encode()):
                        problems.append("unterminated encoded word")
            except (LookupError, UnicodeDecodeError, ValueError) as exc:
                problems.append(f"encoded word: {exc}")
    for part in message.walk():
        if part.get_content_maintype() == "text":
            try:
                part.get_content()  # decoding registers base64 defects
            except LookupError:
                problems.append("unknown charset")
        problems.extend(type(defect).__name__ for defect in part.defects)
    return problems


def test_malformed_mails_are_detectably_broken(mails: list[CorpusMail]) -> None:
    broken = [mail for mail in mails if mail.truth.kind == "malformed"]
    assert len(broken) == 8  # 1 % of 800
    kinds = {f for mail in broken for f in mail.truth.features if f.startswith("malformed:")}
    assert len(kinds) == 6
    for mail in broken:
        assert _problems(mail.raw), mail.truth.features


# --- hard enough, learnable enough -----------------------------------------------------------


def test_tfidf_baseline_is_learnable_but_not_trivially_separable(
    mails: list[CorpusMail], texts: list[tuple[str, str]]
) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import FeatureUnion, make_pipeline

    documents = [f"{subject}\n{body}" for subject, body in texts]
    teams = [mail.truth.team for mail in mails]
    x_train, x_test, y_train, y_test = train_test_split(
        documents, teams, test_size=0.25, stratify=teams, random_state=0
    )
    features = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2)),
        ]
    )
    # A loose tolerance: same accuracy here, a fifth of the fitting time.
    model = make_pipeline(features, LogisticRegression(C=10.0, tol=1e-2, max_iter=1000))
    model.fit(x_train, y_train)
    accuracy = model.score(x_test, y_test)
    assert 0.5 < accuracy < 0.95, accuracy


# --- command line --------------------------------------------------------------------------


def test_cli_generates_into_the_instance_folder(settings: Settings) -> None:
    from mailroom.cli import cli, register_commands

    register_commands()
    runner = CliRunner()
    args = ["demo-corpus", "--count", "24", "--inbox", "6", "--seed", "5", "--no-progress"]
    result = runner.invoke(cli, args, obj=settings, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = settings.instance_path / "demo-corpus"
    assert len(read_truth(out)) == 30
    assert "per team:" in result.output and "INBOX" in result.output
    assert "nl" in result.output

    again = runner.invoke(cli, args, obj=settings)
    assert again.exit_code == 1 and "--force" in again.output
    forced = runner.invoke(cli, [*args, "--force"], obj=settings)
    assert forced.exit_code == 0, forced.output


def test_cli_writes_to_out(settings: Settings, tmp_path: Path) -> None:
    from mailroom.cli import cli, register_commands

    register_commands()
    out = tmp_path / "elsewhere"
    result = CliRunner().invoke(
        cli,
        ["demo-corpus", "--out", str(out), "--count", "10", "--inbox", "0", "--no-progress"],
        obj=settings,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    truth = read_truth(out)
    assert len(truth) == 10 and all(isinstance(r, TruthRecord) for r in truth)
    assert not os.path.exists(settings.instance_path / "demo-corpus")
