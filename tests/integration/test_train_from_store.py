"""`mailroom train` from the store: a version is trained, gated on the frozen holdout,
promoted, and unlabelled mail is scored for the queue; a worse retrain is refused."""

from __future__ import annotations

import random
from email.message import EmailMessage

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from classifier.arguments import PipelineArguments
from classifier.registry import Registry
from classifier.store_training import is_holdout, split_holdout, train_from_store
from labeling.annotation.export import training_examples
from labeling.annotation.queue import ScoreRow  # noqa: F401  (the table the scores land in)
from labeling.mail.values import RawMail
from labeling.settings import Settings
from labeling.store.ingest import ingest
from labeling.store.tables import Annotation, Message, Team, User
from mailroom.cli import cli, register_commands


@pytest.fixture(autouse=True)
def _commands() -> None:
    register_commands()


VOCAB = {
    "schade": "aanrijding waterschade storm diefstal lekkage deuk ruit hagel brand",
    "opzeggingen": "opzeggen beëindigen stoppen einde opzegging afmelden verhuizing buitenland",
    "klachten": "klacht ontevreden boos slecht teleurgesteld onbeschoft wachten laat",
}
FAST = PipelineArguments(min_examples_for_transformer=10**6, target_precision=0.9)


def _mail(i: int, team: str, rng: random.Random) -> bytes:
    msg = EmailMessage()
    msg["Message-ID"] = f"<train-{i}@example.nl>"
    msg["From"] = f"klant{i}@example.nl"
    msg["To"] = "info@polderzeker.example"
    words = VOCAB[team].split()
    msg["Subject"] = " ".join(rng.choices(words, k=2))
    msg.set_content(
        " ".join(rng.choices(words, k=12)) + f"\npolisnummer {rng.randint(1000, 9999)}\n"
    )
    return msg.as_bytes()


def _seed(sessions: sessionmaker[Session], per_team: int = 60, unlabelled: int = 10) -> None:
    rng = random.Random(1)
    with sessions() as session:
        user = User(username="lisa", password_hash="x", role="labeler")
        session.add(user)
        teams = {slug: Team(slug=slug, name=slug.title()) for slug in VOCAB}
        session.add_all(teams.values())
        session.flush()
        i = 0
        for slug in VOCAB:
            for n in range(per_team + unlabelled):
                i += 1
                result = ingest(session, RawMail(_mail(i, slug, rng), folder="", source_ref=str(i)))
                if n < per_team:
                    session.add(
                        Annotation(
                            message_id=result.message_id,
                            team_id=teams[slug].id,
                            user_id=user.id,
                            source="human",
                        )
                    )
        session.commit()


def test_train_promotes_a_first_version_and_scores_unlabelled_mail(
    db_settings: Settings, db_sessions: sessionmaker[Session]
) -> None:
    _seed(db_sessions)
    outcome = train_from_store(db_settings, FAST, progress=False)
    assert (outcome.version, outcome.promoted, outcome.kind) == ("v0001", True, "tfidf")
    assert outcome.n_holdout > 0
    assert outcome.holdout["accuracy"] >= 0.9
    registry = Registry(db_settings.models_path)
    info = registry.active()
    assert info is not None and info.version == "v0001"
    assert "training-set hash" in (info.path / "MODEL_CARD.md").read_text().lower()
    assert info.manifest["dataset_hash"]
    assert outcome.scored == 30
    with db_sessions() as session:
        rows = session.execute(select(func.count()).select_from(Message)).scalar_one()
        assert rows == 210
        examples = training_examples(session)
    rest, holdout = split_holdout(examples)
    assert all(is_holdout(e.group or e.message_id) for e in holdout)
    assert len(rest) + len(holdout) == 180


def test_every_unlabelled_mail_keeps_its_score_when_there_are_more_than_one_batch(
    db_settings: Settings, db_sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scores are computed in batches; each batch used to replace the version's scores, so
    only the last batch survived and "most uncertain first" fell back to oldest first."""
    import classifier.store_training as store_training
    from labeling.annotation.queue import next_message_id
    from labeling.store.tables import MessageScore

    monkeypatch.setattr(store_training, "SCORE_BATCH", 7)  # 30 unlabelled mails: 5 batches
    _seed(db_sessions)
    outcome = train_from_store(db_settings, FAST, progress=False)
    with db_sessions() as session:
        stored = session.scalars(
            select(MessageScore.message_id).where(MessageScore.model_version == outcome.version)
        ).all()
        labelled = set(session.scalars(select(Annotation.message_id)))
        unlabelled = set(session.scalars(select(Message.id))) - labelled
        assert sorted(stored) == sorted(unlabelled) and len(stored) == outcome.scored == 30
        # The uncertainty-first queue now walks the smallest margin of all of them.
        lisa = session.scalar(select(User.id).where(User.username == "lisa"))
        assert lisa is not None
        first = next_message_id(session, lisa, order="uncertain")
        smallest = session.scalar(
            select(MessageScore.message_id)
            .where(MessageScore.model_version == outcome.version)
            .order_by(MessageScore.margin, MessageScore.message_id)
            .limit(1)
        )
        assert first == smallest


def test_a_worse_retrain_is_kept_but_not_promoted(
    db_settings: Settings, db_sessions: sessionmaker[Session]
) -> None:
    _seed(db_sessions)
    assert train_from_store(db_settings, FAST, progress=False).promoted
    # Scramble the labels of every mail outside the holdout: the next model learns noise.
    rng = random.Random(3)
    with db_sessions() as session:
        team_ids = session.scalars(select(Team.id)).all()
        for annotation in session.scalars(select(Annotation)):
            if not is_holdout(annotation.message_id):
                annotation.team_id = rng.choice(team_ids)
        session.commit()
    outcome = train_from_store(db_settings, FAST, progress=False)
    assert not outcome.promoted
    assert "worse than the active version" in outcome.reason
    registry = Registry(db_settings.models_path)
    assert registry.active_version() == "v0001"
    assert registry.get(outcome.version).status == "rejected"


def test_cli_train_and_models_list(
    db_settings: Settings, db_sessions: sessionmaker[Session]
) -> None:
    _seed(db_sessions)
    runner = CliRunner()
    # Fewer labels than the transformer needs: the TF-IDF model serves alone.
    db_settings = db_settings.model_copy(update={"min_labels_for_transformer": 1000})
    result = runner.invoke(cli, ["train"], obj=db_settings)
    assert result.exit_code == 0, result.output
    assert "v0001: tfidf" in result.output and "promoted" in result.output
    listed = runner.invoke(cli, ["models", "list"], obj=db_settings)
    assert "* v0001  active" in listed.output
    # No one flagged any mail yet: both flags are the cue list's, and both outputs say why.
    assert "urgent: cue list — 0 mails labelled urgent" in result.output
    assert "flags: urgent: cue list (0 flagged labels); wants to leave: cue list" in listed.output
    # Promoting the active version again keeps the reason it was promoted for.
    reason = Registry(db_settings.models_path).get("v0001").manifest["status_reason"]
    again = runner.invoke(cli, ["models", "promote", "v0001"], obj=db_settings)
    assert again.exit_code == 0 and "already active; its reason is kept" in again.output
    assert Registry(db_settings.models_path).get("v0001").manifest["status_reason"] == reason
    report = runner.invoke(cli, ["evaluate"], obj=db_settings)
    assert report.exit_code == 0, report.output
    assert (db_settings.models_path / "v0001" / "report" / "index.html").stat().st_size > 1000


def test_training_without_two_labelled_teams_is_a_clear_error(db_settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["train"], obj=db_settings)
    assert result.exit_code == 1
    assert "label mail of at least two teams first" in result.output


def test_retrain_waits_for_new_labels_and_refuses_a_worse_version(
    db_settings: Settings, db_sessions: sessionmaker[Session]
) -> None:
    from classifier.retraining import retrain_check
    from labeling.store.tables import utcnow

    _seed(db_sessions)
    db_settings = db_settings.model_copy(
        update={"min_labels_for_transformer": 1000, "retrain_min_new_labels": 20}
    )
    runner = CliRunner()
    assert runner.invoke(cli, ["train"], obj=db_settings).exit_code == 0
    result = runner.invoke(cli, ["retrain", "--if-due"], obj=db_settings)
    assert result.exit_code == 0, result.output
    assert "0 new person labels since v0001; 20 needed: not due" in result.output
    assert [v.version for v in Registry(db_settings.models_path).versions()] == ["v0001"]

    # A labeller relabels every mail outside the holdout at random: new labels, but noise.
    rng = random.Random(3)
    now = utcnow()
    with db_sessions() as session:
        team_ids = session.scalars(select(Team.id)).all()
        for annotation in session.scalars(select(Annotation)).all():
            if not is_holdout(annotation.message_id):
                annotation.superseded_at = now
                session.flush()
                session.add(
                    Annotation(
                        message_id=annotation.message_id,
                        team_id=rng.choice(team_ids),
                        user_id=annotation.user_id,
                        source="human",
                    )
                )
        session.commit()
    check = retrain_check(db_settings, db_sessions)
    assert check.due and check.new_labels > 20 and check.last_version == "v0001"
    result = runner.invoke(cli, ["retrain", "--if-due"], obj=db_settings)
    assert result.exit_code == 0, result.output
    assert "v0002: tfidf" in result.output and "kept, not promoted" in result.output
    assert "worse than the active version" in result.output
    # Not a terminal: a line per stage says how far it is, with the counts.
    assert "labelled mails read; training on " in result.output
    assert "in the frozen holdout" in result.output
    assert "scoring unlabelled mail with v0001 for the labelling queue" in result.output
    registry = Registry(db_settings.models_path)
    assert registry.active_version() == "v0001"
    assert registry.get("v0002").status == "rejected"
    # The refused version counts as the last training: nothing new since, nothing due.
    assert not retrain_check(db_settings, db_sessions).due
