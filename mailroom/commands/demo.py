"""``mailroom demo``: everything on the embedded default, from nothing to a running product.

Steps (each skipped when already done, so a second run starts in seconds):
database → teams → demo corpus → import the archive → weak labels from its folders →
near-duplicate groups → demo users → a labeller who also flags urgent and leaving customers
(``demo_flags``) → train a model (progress bar) → start a worker and
route the demo inbox (some mail forwarded to per-team Maildirs, some waiting in review) →
serve the web app until Ctrl-C, which stops the web app and then the worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from labeling.mail.values import RawMail
from labeling.settings import Settings

if TYPE_CHECKING:
    from classifier.router import Router
from mailroom.commands.demo_flags import (
    DEMO_FLAG_LABELLED,
    DEMO_FLAG_LABELLER,
    flag_scores,
    play_flag_labeller,
    truth_flags,
)

DEMO_PASSWORD = "mailroom-demo"
DEMO_USERS = (("admin", "admin"), ("lisa", "labeler"), ("sanne", "labeler"), ("rob", "reviewer"))
DEMO_VERIFIER = "lisa"
# Two labellers label the same archive mails, so Agreement and Adjudicate have something to
# show; the second disagrees on every DEMO_DISAGREE_EVERY-th mail, on purpose.
DEMO_DOUBLE_LABELLERS = ("lisa", "sanne")
DEMO_DOUBLE_LABELLED = 60
DEMO_DISAGREE_EVERY = 6


class ArchiveFolders:
    """The demo corpus' team folders as one import source; its root (the unsorted inbox)
    is left out, because that mail arrives live and the worker routes it."""

    def __init__(self, root: Path) -> None:
        from labeling.importers.maildir import MaildirSource

        self._source = MaildirSource(root)
        self.description = f"{root} (team folders)"

    def count(self) -> int:
        return sum(1 for _ in self._files())

    def _files(self) -> Iterator[Path]:
        for folder, path in self._source.folders():
            if folder:
                for sub in ("new", "cur"):
                    yield from (p for p in (path / sub).iterdir() if p.is_file())

    def __iter__(self) -> Iterator[RawMail]:
        return (mail for mail in self._source if mail.folder)


def deliver_inbox(corpus_root: Path, inbox: Path) -> int:
    """Copy the corpus' unsorted mails into the live Maildir inbox (new/), once: a mail
    already in the inbox or in one of its folders (where the worker files what it handled)
    is not delivered again."""
    import mailbox

    inbox.parent.mkdir(parents=True, exist_ok=True)
    live = mailbox.Maildir(inbox, create=True)
    known = set(live.iterkeys())
    for name in live.list_folders():
        known.update(live.get_folder(name).iterkeys())
    count = 0
    for sub in ("new", "cur"):
        for path in sorted((corpus_root / sub).iterdir()):
            key = path.name.split(":")[0]
            if key in known:
                continue
            target = inbox / "new" / key
            target.write_bytes(path.read_bytes())
            count += 1
    return count


@contextmanager
def step(title: str) -> Iterator[None]:
    click.secho(f"==> {title}", bold=True, err=True)
    started = time.perf_counter()
    yield
    click.echo(f"    done in {time.perf_counter() - started:.1f} s", err=True)


def inbox_texts(session: Session, settings: Settings) -> list[tuple[str, str]]:
    """(Message-ID without brackets, the text the model reads) of every mail that arrived
    in the live inbox, as routing reads it; for the benchmarks that re-score a demo."""
    from labeling.mail.model_text import model_text
    from labeling.store.tables import Message

    pseudonymiser = settings.pseudonymiser()
    rows = session.execute(
        select(
            Message.message_id,
            Message.subject,
            Message.new_text,
            Message.quoted_text,
            Message.sender_name,
        ).where(Message.source_folder == "")
    ).all()
    return [
        (
            str(message_id).strip("<>"),
            model_text(subject, new, quoted, names=(name,), pseudonymiser=pseudonymiser),
        )
        for message_id, subject, new, quoted, name in rows
    ]


def inbox_earlier_teams(session: Session) -> tuple[dict[str, str], dict[str, str]]:
    """(cases, threads): the customer case and the thread team each live mail had when it
    was routed (team slugs), by Message-ID without brackets: what the model was given to
    weigh (a mail has one or neither)."""
    from labeling.store.tables import Message, RoutingDecision, Team

    teams = dict(session.execute(select(Team.id, Team.slug)).all())
    cases: dict[str, str] = {}
    threads: dict[str, str] = {}
    for message_id, decided_by, team_id, details in session.execute(
        select(
            Message.message_id,
            RoutingDecision.decided_by,
            RoutingDecision.team_id,
            RoutingDecision.details,
        )
        .join(
            RoutingDecision,
            (RoutingDecision.message_id == Message.id) & RoutingDecision.is_current,
        )
        .where(Message.source_folder == "")
    ):
        details = details if isinstance(details, dict) else {}
        key = str(message_id).strip("<>")
        for found, source in ((cases, "affinity"), (threads, "thread")):
            team = details.get(f"{source}_team") or (
                teams.get(team_id) if decided_by == source else None
            )
            if team:
                found[key] = str(team)
    return cases, threads


def truth_rows(corpus: Path) -> dict[str, dict[str, Any]]:
    """The generator's truth line of every corpus mail, by Message-ID (without brackets)."""
    with (corpus / "truth.jsonl").open(encoding="utf-8") as handle:
        return {str(row["message_id"]).strip("<>"): row for row in map(json.loads, handle)}


def truth_by_message_id(corpus: Path) -> dict[str, str | None]:
    """The generator's true team of every corpus mail, by Message-ID (without brackets)."""
    return {mid: row.get("team") or None for mid, row in truth_rows(corpus).items()}


def repeats_by_message_id(corpus: Path) -> dict[str, str]:
    """Repeat customers' mails (truth ``repeat_of``): Message-ID → the earlier mail's."""
    return {
        mid: str(row["repeat_of"]).strip("<>")
        for mid, row in truth_rows(corpus).items()
        if row.get("repeat_of")
    }


def active_router(settings: Settings) -> Router:
    """The active model version, loaded; for the benchmarks that re-score a demo."""
    from classifier.registry import Registry
    from classifier.router import Router

    active = Registry(settings.models_path).active()
    if active is None:
        raise click.ClickException("no active model version: run mailroom demo --no-serve first")
    return Router.load(active.path, settings.cache_path)


def play_verifier(
    sessions: sessionmaker[Session], truth: dict[str, str | None], username: str, count: int
) -> int:
    """Answer ``count`` mails of the verification sample as ``username``, in the order the
    sample offers them, with the generator's truth (a person would read each mail)."""
    from labeling.annotation.verify import next_to_verify, record_verification, verified_count
    from labeling.store.db import session_scope
    from labeling.store.tables import Message, Team, User

    with session_scope(sessions) as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        if user_id is None:
            raise click.ClickException(f"no demo user {username}")
        teams = dict(session.execute(select(Team.slug, Team.id)).all())
        done = verified_count(session)  # a second run does not verify again
        while done < count:
            message_id = next_to_verify(session, user_id)
            if message_id is None:
                break
            header = session.scalar(select(Message.message_id).where(Message.id == message_id))
            team = truth.get((header or "").strip("<>"))
            record_verification(session, message_id, teams.get(team) if team else None, user_id)
            done += 1
    return done


@dataclass(frozen=True)
class DoubleLabels:
    mails: int  # mails both labellers labelled
    disagreements: int  # of them, where the second chose another team


def play_double_labellers(
    sessions: sessionmaker[Session],
    truth: dict[str, str | None],
    *,
    count: int,
    double_label_share: float,
) -> DoubleLabels:
    """Label ``count`` archive mails twice, as the two demo labellers, from the generator's
    truth; the second labeller picks another team on every :data:`DEMO_DISAGREE_EVERY`-th
    mail. Only mail of the double-labelled share (so it counts toward "labelled by two
    people"); once done, a second run changes nothing."""
    from labeling.annotation.queue import is_double_labelled, record_label
    from labeling.store.db import session_scope
    from labeling.store.tables import Annotation, Message, Team, User

    with session_scope(sessions) as session:
        users = dict(
            session.execute(
                select(User.username, User.id).where(User.username.in_(DEMO_DOUBLE_LABELLERS))
            ).all()
        )
        first, second = (users[name] for name in DEMO_DOUBLE_LABELLERS)
        done = session.scalar(
            select(func.count())
            .select_from(Annotation)
            .where(Annotation.user_id == second, Annotation.source == "human")
        )
        if done:
            return DoubleLabels(0, 0)
        teams = dict(session.execute(select(Team.slug, Team.id)).all())
        slugs = sorted(teams)
        candidates = session.execute(
            select(Message.id, Message.message_id)
            .where(
                Message.origin == "archive",
                Message.status == "ok",
                Message.human_labels == 0,
            )
            .order_by(Message.id)
        )
        mails = disagreements = 0
        for message_id, header in candidates:
            if mails >= count:
                break
            team = truth.get((header or "").strip("<>"))
            if team not in teams or not is_double_labelled(message_id, double_label_share):
                continue
            mails += 1
            record_label(session, message_id, teams[team], first)
            other = team
            if mails % DEMO_DISAGREE_EVERY == 0:
                other = slugs[(slugs.index(team) + 1) % len(slugs)]
                disagreements += 1
            record_label(session, message_id, teams[other], second)
    return DoubleLabels(mails, disagreements)


def train_in_child(
    settings: Settings,
    *,
    model: str,
    epochs: int,
    time_budget: float,
    target_precision: float | None,
) -> None:
    """``mailroom train`` in a child process: the memory training takes (torch, the
    encoder, the datasets) goes back to the system when it ends, and the process that
    then serves the web app never held it. Its bar goes to our terminal; its summary
    lines come back indented."""
    env = dict(os.environ)
    env["MAILROOM_INSTANCE_PATH"] = str(settings.instance_path.resolve())
    if target_precision is not None:
        env["MAILROOM_TARGET_PRECISION"] = str(target_precision)
    command = [sys.executable, "-m", "mailroom", "train", "--include-weak"]
    command += ["--model", model, "--epochs", str(epochs), "--time-budget", str(time_budget)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    with process.stdout:
        for line in process.stdout:
            click.echo(f"    {line.rstrip()}", err=True)
    if process.wait() != 0:
        raise click.ClickException(f"training failed (exit {process.returncode}); see above")


def prepare(
    settings: Settings,
    *,
    count: int,
    inbox: int,
    model: str,
    time_budget: float,
    epochs: int,
    progress: bool,
    target_precision: float | None,
    verify: int,
) -> dict[str, object]:
    """Run every step up to (not including) the worker and the web server."""
    from classifier.registry import Registry
    from data import TEAMS_FILE
    from data.demo_corpus import generate
    from labeling.annotation.neardup import group_near_duplicates
    from labeling.annotation.verify import weak_label_noise
    from labeling.importers.run import label_from_folders, run_import
    from labeling.store.db import open_database, session_scope, upgrade
    from labeling.store.people import create_user
    from labeling.store.tables import User
    from labeling.store.teams import load_teams_file, sync_teams

    facts: dict[str, object] = {}
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    with step("database schema"):
        upgrade(settings)
    teams = load_teams_file(TEAMS_FILE)
    with open_database(settings) as sessions:
        with step("teams"), session_scope(sessions) as session:
            sync_teams(session, teams, reserved=settings.own_addresses())
        corpus = settings.instance_path / "demo-corpus"
        with step(f"demo corpus ({count} archived + {inbox} inbox mails)"):
            if (corpus / "truth.jsonl").exists():
                click.echo(f"    already there: {corpus}", err=True)
            else:
                generate(corpus, teams, count=count, inbox_count=inbox)
        with step("import the archive (the team folders; the inbox is live mail)"):
            summary = run_import(sessions, ArchiveFolders(corpus / "Maildir"), progress=progress)
            click.echo(
                f"    imported {summary.imported}, duplicates {summary.duplicates}, "
                f"quarantined {summary.quarantined}"
                + (
                    f", Message-ID reused {summary.message_id_reused}"
                    if summary.message_id_reused
                    else ""
                ),
                err=True,
            )
            facts["import"] = summary
        with step("weak labels from the archive folders"), session_scope(sessions) as session:
            weak = label_from_folders(session, {team.imap_folder: team.slug for team in teams})
            labelled = sum(f.labelled for f in weak.folders)
            click.echo(
                f"    {labelled} mails weakly labelled from {len(weak.folders)} folders", err=True
            )
        with step("deliver the demo inbox to the live Maildir inbox"):
            delivered = deliver_inbox(corpus / "Maildir", settings.maildir_inbox)
            click.echo(
                f"    {delivered} new mails in {settings.maildir_inbox}"
                if delivered
                else "    already delivered",
                err=True,
            )
        with step("near-duplicate groups"), session_scope(sessions) as session:
            grouping = group_near_duplicates(session)
            click.echo(
                f"    {grouping.grouped} mails in {grouping.groups} near-duplicate groups",
                err=True,
            )
        with step("demo users"), session_scope(sessions) as session:
            for username, role in DEMO_USERS:
                if session.query(User).filter_by(username=username).first() is None:
                    create_user(session, username, DEMO_PASSWORD, role)
        title = (
            f"verify a random sample of {verify} archive mails, blind (the demo plays "
            f"{DEMO_VERIFIER}, a labeller, and answers from the generator's truth: about an "
            "hour of one person's work)"
        )
        with step(title):
            answered = play_verifier(sessions, truth_by_message_id(corpus), DEMO_VERIFIER, verify)
            with session_scope(sessions) as session:
                noise = weak_label_noise(session)
            click.echo(f"    {answered} mails verified", err=True)
            if noise.compared:
                click.echo(
                    f"    their archive folders disagree with the verified team for "
                    f"{noise.disagreements} of {noise.compared} ({noise.rate:.1%}; 95 % "
                    f"interval {noise.low:.1%}–{noise.high:.1%}): the folder labels' noise",
                    err=True,
                )
        title = (
            f"label {DEMO_DOUBLE_LABELLED} archive mails twice (the demo plays "
            f"{' and '.join(DEMO_DOUBLE_LABELLERS)}, labellers, from the generator's truth; "
            f"{DEMO_DOUBLE_LABELLERS[1]} disagrees on purpose on every "
            f"{DEMO_DISAGREE_EVERY}th, so Agreement and Adjudicate have something to show)"
        )
        with step(title):
            double = play_double_labellers(
                sessions,
                truth_by_message_id(corpus),
                count=DEMO_DOUBLE_LABELLED,
                double_label_share=settings.double_label_share,
            )
            click.echo(
                f"    {double.mails} mails labelled by both, {double.disagreements} "
                "disagreements waiting in Adjudicate"
                if double.mails
                else "    already labelled",
                err=True,
            )
        # Urgency and churn as people give them (issue 14 item 3): mailroom/commands/demo_flags.py
        title = (
            f"label {DEMO_FLAG_LABELLED} archive mails with their team and flags (the demo plays "
            f"{DEMO_FLAG_LABELLER}, a labeller, pressing d for urgent and o for wants to leave, "
            "from the generator's truth; a random draw across the folders, about four hours "
            "of one person's work at 10 s a mail), so the model learns the flags"
        )
        with step(title):
            flagged = play_flag_labeller(sessions, truth_flags(corpus))
            click.echo(
                f"    {flagged.mails} mails labelled, {flagged.urgent} flagged urgent, "
                f"{flagged.churn} wants to leave"
                if flagged.mails
                else "    already labelled",
                err=True,
            )
        registry = Registry(settings.models_path)
        if target_precision is not None:
            settings = settings.model_copy(update={"target_precision": target_precision})
        title = (
            f"train a model ({model}, {time_budget:.0f} s of fine-tuning, "
            f"target precision {settings.target_precision})"
        )
        with step(title):
            if registry.active_version():
                click.echo(f"    model {registry.active_version()} is already active", err=True)
            else:
                train_in_child(
                    settings,
                    model=model,
                    epochs=epochs,
                    time_budget=time_budget,
                    target_precision=target_precision,
                )
    return facts


SOURCES = ("rule", "affinity", "thread", "model", "review")


@dataclass(frozen=True)
class SourceResult:
    """The mails one source decided (``decided``) and, of those it sent to a team, how many
    went to the generator's true team (``correct`` of ``with_team``)."""

    decided: int = 0
    with_team: int = 0
    correct: int = 0

    @property
    def precision(self) -> float | None:
        return self.correct / self.with_team if self.with_team else None


@dataclass(frozen=True)
class SourceScores:
    """Who decided the inbox's mails (SOURCES; 'review': a person, or waiting for one),
    scored against the truth, and the repeat customers (truth ``repeat_of``): their mails,
    those routed without a person to the true team or elsewhere, the right ones customer
    affinity decided, and those whose case the model overruled (sure of another team) or
    doubted (below the certified follow floor, or not sure even with the case weighed), with
    how often the case's team was right there (what following the case would have
    scored)."""

    live: int = 0
    by_source: dict[str, SourceResult] = field(default_factory=dict)
    repeats: int = 0
    repeats_right: int = 0
    repeats_wrong: int = 0
    repeats_by_affinity: int = 0
    repeats_topic_changed: int = 0
    repeats_doubted: int = 0
    repeats_case_right: int = 0

    def describe(self) -> tuple[str, str]:
        """Two lines: each source's share and precision; the repeat customers."""
        parts = []
        for source in SOURCES:
            result = self.by_source.get(source, SourceResult())
            share = result.decided / self.live if self.live else 0.0
            precision = f"{result.precision:.3f}" if result.precision is not None else "n/a"
            parts.append(f"{source} {result.decided} ({share:.0%}) precision {precision}")
        sources = "decided by " + "; ".join(parts)
        if not self.repeats:
            return sources, "no repeat customers in the inbox"
        return sources, (
            f"repeat customers: {self.repeats} mails, routed right without a person "
            f"{self.repeats_right} ({self.repeats_right / self.repeats:.0%}; "
            f"{self.repeats_by_affinity} by customer affinity), routed wrong "
            f"{self.repeats_wrong}, the rest waits for a person; the model overruled the "
            f"case {self.repeats_topic_changed} times (sure of another team) and doubted it "
            f"{self.repeats_doubted} times (below the follow floor, or not sure even weighing "
            f"it); in "
            f"{self.repeats_case_right} of those the case's team was the right one"
        )


@dataclass(frozen=True)
class RoutingResult:
    """How the worker handled the demo inbox, scored against the generator's truth."""

    live: int
    auto: int  # routed by the model or its thread, without a person
    auto_correct: int
    review: int  # waiting for a person
    by_people: int  # decided by a person in review (after the first run)
    quarantined: int
    unsettled: int  # still new/forwarding when the wait ended
    filed: int = 0  # machine mail (auto-replies, bounces, loops): filed, never forwarded
    sources: SourceScores | None = None  # who decided, and the repeat customers

    @property
    def precision(self) -> float | None:
        return self.auto_correct / self.auto if self.auto else None

    def describe(self) -> str:
        if not self.live:
            return "no inbox mail was recorded"
        share = lambda n: f"{n} ({n / self.live:.0%})"  # noqa: E731
        precision = f"{self.precision:.3f}" if self.precision is not None else "n/a"
        text = (
            f"{self.live} inbox mails: auto-routed {share(self.auto)} at precision {precision} "
            f"against the generator's truth; waiting in review {share(self.review)}"
        )
        if self.by_people:
            text += f"; decided by people {share(self.by_people)}"
        if self.filed:
            text += f"; filed as machine mail {self.filed}"
        text += f"; quarantined {self.quarantined}"
        return text + (f"; {self.unsettled} not settled yet" if self.unsettled else "")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    """``mailroom worker`` as a child process on the same settings (read from the same
    environment), its log in the instance folder."""
    env = dict(os.environ)
    env["MAILROOM_INSTANCE_PATH"] = str(settings.instance_path.resolve())
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "mailroom", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop the worker in order
        )


def stop_worker(process: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    """SIGTERM (Celery's warm shutdown: running tasks finish), then SIGKILL after
    ``timeout``; the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def wait_for_ready(
    process: subprocess.Popen[bytes], log_path: Path, offset: int, timeout: float
) -> None:
    """Until Celery logs that the worker is ready (its signal handlers are then in place,
    so a stop is a warm shutdown)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with log_path.open("rb") as log:
            log.seek(offset)
            if b" ready." in log.read():
                return
        time.sleep(0.3)
    if process.poll() is not None:
        raise click.ClickException(
            f"the worker stopped (exit {process.returncode}); see its log in {log_path}"
        )


def wait_for_routing(
    settings: Settings, expected: int, process: subprocess.Popen[bytes], timeout: float
) -> None:
    """Until the inbox's mails are all recorded and none is new or being forwarded."""
    from labeling.store.db import open_database, session_scope
    from labeling.store.tables import Message

    deadline = time.monotonic() + timeout
    last = ""
    with open_database(settings) as sessions:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise click.ClickException(
                    f"the worker stopped (exit {process.returncode}); see its log in "
                    f"{settings.instance_path / 'worker.log'}"
                )
            with session_scope(sessions) as session:
                counts = dict(
                    session.execute(
                        select(Message.route_state, func.count())
                        .where(Message.origin == "live")
                        .group_by(Message.route_state)
                    ).all()
                )
            moving = sum(counts.get(state, 0) for state in ("new", "forwarding", "forwarded"))
            recorded = sum(counts.values())
            line = f"    {recorded}/{expected} recorded, {moving} on their way"
            if line != last:
                click.echo(line, err=True)
                last = line
            if recorded >= expected and moving == 0:
                return
            time.sleep(1.0)
    click.echo(f"    still busy after {timeout:.0f} s; the worker goes on", err=True)


def routing_result(settings: Settings, corpus: Path) -> RoutingResult:
    """The inbox's routing, scored against truth.jsonl (by Message-ID). Auto-routed is what
    a rule, customer affinity, a thread or the model routed without a person; mail people
    decided counts apart. Run the demo with ``MAILROOM_AFFINITY_DAYS=0`` and with the
    default to compare repeat customers without and with affinity."""
    from labeling.store.db import open_database, session_scope
    from labeling.store.tables import Message, RoutingDecision, Team

    truth = truth_by_message_id(corpus)
    with open_database(settings) as sessions, session_scope(sessions) as session:
        rows = session.execute(
            select(
                Message.message_id,
                Message.route_state,
                RoutingDecision.decided_by,
                RoutingDecision.mode,
                Team.slug,
                RoutingDecision.details,
            )
            .outerjoin(
                RoutingDecision,
                (RoutingDecision.message_id == Message.id) & RoutingDecision.is_current,
            )
            .outerjoin(Team, Team.id == RoutingDecision.team_id)
            .where(Message.origin == "live")
        ).all()
    result = classify_inbox([(r[0], r[1], r[2], r[3], r[4]) for r in rows], truth)
    detailed = [
        (r[0], r[1], r[2], r[3], r[4], r[5] if isinstance(r[5], dict) else {}) for r in rows
    ]
    return replace(result, sources=score_sources(detailed, truth, repeats_by_message_id(corpus)))


# Who routes without a person (as /metrics and the dashboard count it): the model, a reply's
# thread, a customer's case, an admin rule. A person's decision in review names the person
# ('user:<id>').
AUTO_DECIDERS = ("model", "thread", "affinity", "rule")


def score_sources(
    rows: Sequence[
        tuple[str | None, str | None, str | None, str | None, str | None, Mapping[str, Any]]
    ],
    truth: Mapping[str, str | None],
    repeats: Mapping[str, str],
) -> SourceScores:
    """:class:`SourceScores` of ``(Message-ID, route state, decided_by, mode, team slug,
    decision details)`` rows; pure."""
    counts: dict[str, list[int]] = {source: [0, 0, 0] for source in SOURCES}
    repeat_rows = right_rows = wrong_rows = by_affinity = changed_rows = doubted_rows = 0
    case_right = 0
    for message_id, state, decided_by, mode, team, details in rows:
        key = (message_id or "").strip("<>")
        right = team is not None and truth.get(key) == team
        is_repeat = key in repeats
        repeat_rows += is_repeat
        if is_repeat and details.get("affinity_case"):
            changed = bool(details.get("topic_changed"))
            # Below the follow floor, or not sure even with the case weighed.
            doubted = bool(details.get("affinity_doubted")) or bool(
                details.get("case_weighed") and decided_by != "affinity" and not changed
            )
            changed_rows += changed
            doubted_rows += doubted
            if changed or doubted:
                case_right += truth.get(key) == details.get("affinity_team")
        # As classify_inbox counts them: settled mail only, a person's decision apart.
        if state == "review":
            counts["review"][0] += 1
            continue
        if state != "done" or decided_by is None:
            continue  # quarantined, filed machine mail, not settled yet
        if decided_by in AUTO_DECIDERS and mode == "auto":
            source = decided_by
            if is_repeat:
                right_rows += right
                wrong_rows += not right
                by_affinity += right and decided_by == "affinity"
        else:
            source = "review"  # a person decided it (or closed it as no team's)
        counts[source][0] += 1
        if team is not None:
            counts[source][1] += 1
            counts[source][2] += right
    return SourceScores(
        live=len(rows),
        by_source={name: SourceResult(*values) for name, values in counts.items()},
        repeats=repeat_rows,
        repeats_right=right_rows,
        repeats_wrong=wrong_rows,
        repeats_by_affinity=by_affinity,
        repeats_topic_changed=changed_rows,
        repeats_doubted=doubted_rows,
        repeats_case_right=case_right,
    )


def classify_inbox(
    rows: Sequence[tuple[str | None, str | None, str | None, str | None, str | None]],
    truth: Mapping[str, str | None],
) -> RoutingResult:
    """The inbox's live mails, each ``(Message-ID, route state, current decision's
    decided_by, its mode, its team slug)``, counted by who settled them; auto-routed mail
    scored against ``truth`` (Message-ID without brackets → team slug)."""
    auto = correct = review = people = quarantined = unsettled = filed = 0
    for message_id, state, decided_by, mode, team in rows:
        if state == "review":
            review += 1
        elif state == "quarantined":
            quarantined += 1
        elif state in ("new", "forwarding", "forwarded"):
            unsettled += 1
        elif decided_by is None:
            # Done without a decision: machine mail is filed so (lifecycle.record_filed).
            filed += state == "done"
            unsettled += state != "done"
        elif decided_by in AUTO_DECIDERS and mode == "auto":
            auto += 1
            correct += truth.get((message_id or "").strip("<>")) == team
        else:
            people += 1  # decided in review (or closed as belonging to no team)
    return RoutingResult(
        len(rows), auto, correct, review, people, quarantined, unsettled, filed=filed
    )


def route_inbox(settings: Settings, *, expected: int, timeout: float) -> subprocess.Popen[bytes]:
    """Start the worker and wait until it has routed the demo inbox; the worker keeps
    running (the caller stops it)."""
    log_path = settings.instance_path / "worker.log"
    offset = log_path.stat().st_size if log_path.exists() else 0
    process = start_worker(settings, log_path)
    try:
        wait_for_ready(process, log_path, offset, timeout)
        wait_for_routing(settings, expected, process, timeout)
    except BaseException:
        stop_worker(process)
        raise
    return process


@click.command("demo")
@click.option("--count", type=int, default=2400, show_default=True, help="Archived mails.")
@click.option("--inbox", type=int, default=300, show_default=True, help="Unsorted inbox mails.")
@click.option("--model", default=None, help="Base encoder (default: MAILROOM_MODEL).")
@click.option(
    "--time-budget", type=float, default=300, show_default=True, help="Seconds of fine-tuning."
)
@click.option("--epochs", type=int, default=4, show_default=True)
@click.option(
    "--target-precision",
    type=click.FloatRange(0.5, 0.999),
    default=None,
    help="Precision auto-routed mail must reach (default: MAILROOM_TARGET_PRECISION, 0.98), "
    "certified on the verified sample.",
)
@click.option(
    "--verify",
    type=click.IntRange(0, 10_000),
    default=400,
    show_default=True,
    help="Archive mails the demo's labeller verifies (blind, answered from the generator's "
    "truth); thresholds are certified on them.",
)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option(
    "--route-timeout",
    type=float,
    default=300,
    show_default=True,
    help="Seconds to wait for the worker to route the inbox before serving anyway.",
)
@click.option(
    "--no-serve", is_flag=True, help="Prepare, route the inbox, report, then stop (for CI)."
)
@click.pass_obj
def demo(
    settings: Settings,
    count: int,
    inbox: int,
    model: str | None,
    time_budget: float,
    epochs: int,
    port: int,
    target_precision: float | None,
    verify: int,
    route_timeout: float,
    no_serve: bool,
) -> None:
    """Set up and run the whole product on the embedded default (no servers needed)."""
    started = time.perf_counter()
    # Ctrl-C and `kill` stop it cleanly. Set explicitly: a shell that starts a command in the
    # background hands it SIGINT ignored, and Python then never raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    prepare(
        settings,
        count=count,
        inbox=inbox,
        model=model or settings.model,
        time_budget=time_budget,
        epochs=epochs,
        progress=sys.stderr.isatty(),
        target_precision=target_precision,
        verify=verify,
    )
    inbox_files = sum(1 for sub in ("new", "cur") for _ in (settings.maildir_inbox / sub).glob("*"))
    with step("start the worker and route the demo inbox"):
        worker = route_inbox(settings, expected=inbox_files, timeout=route_timeout)
    try:
        result = routing_result(settings, settings.instance_path / "demo-corpus")
        click.echo(f"    {result.describe()}", err=True)
        for line in result.sources.describe() if result.sources is not None else ():
            click.echo(f"    {line}", err=True)
        for score in flag_scores(settings, settings.instance_path / "demo-corpus"):
            click.echo(f"    {score.describe()}", err=True)
        outbox = settings.maildir_outbox
        click.echo(
            f"    forwards in {outbox}/<team>/new; the inbox is {settings.maildir_inbox}", err=True
        )
        click.secho(f"ready in {time.perf_counter() - started:.0f} s", fg="green", err=True)
        users = ", ".join(f"{u} ({r})" for u, r in DEMO_USERS)
        click.echo(f"demo logins: {users}; password {DEMO_PASSWORD}")
        if no_serve:
            return
        from waitress import serve

        from web import create_app

        click.echo(
            f"open http://127.0.0.1:{port}/  (rob reviews what waits; Ctrl-C stops the web "
            "app and the worker)"
        )
        with suppress(KeyboardInterrupt):  # Ctrl-C: stop serving, then stop the worker
            serve(create_app(settings), host="127.0.0.1", port=port, threads=4)
    finally:
        click.echo("stopping the worker…", err=True)
        status = stop_worker(worker)
        click.echo(f"worker stopped (exit {status})", err=True)


commands: list[click.Command] = [demo]
