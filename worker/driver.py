"""Driving one live mail through its life: the I/O between the lifecycle's transitions.

The route states and every transition with what it records live in
:mod:`labeling.live.lifecycle`; this module does what happens between them — ask the model,
send the forward (SMTP, IMAP move or a Maildir), flag or move the original in its mailbox —
and calls the lifecycle to record each step. :func:`advance` moves one mail as far as it
can go and is what every task calls. Because every transition is conditional, a redelivered
or duplicated task that finds the mail already moved on does nothing.

Sending is the one step that cannot be made atomic with the database: a worker may die
after the server accepted a forward and before it is recorded as sent. The delivery's claim
then expires (``claim_timeout``) and the mail is sent again with the same deterministic
Message-ID: at-least-once, with an idempotency key downstream can use. The original is
marked done in its mailbox only after the forward is recorded.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from sqlalchemy.orm import Session, sessionmaker

from classifier.scoring import Prediction
from labeling.errors import MailServerError, ModelError
from labeling.live import lifecycle
from labeling.live.lifecycle import ClaimedForward, Original, RouteDecision
from labeling.mail import hygiene
from labeling.mail.model_text import model_text
from labeling.mail.values import NormalisedMail
from labeling.rules.cues import cue_flags
from labeling.rules.flags import LearnedFlag, MailFlags
from labeling.rules.matching import evaluate
from labeling.settings import Settings
from labeling.store.db import session_scope
from labeling.store.tables import utcnow
from worker.outgoing import (
    REVIEW_KEYWORD,
    ROUTED_KEYWORD,
    ForwardInfo,
    ImapActions,
    ImapLocation,
    SmtpSender,
    build_forward,
    deliver_to_maildir,
    move_maildir_file,
)
from worker.routing import decide_route, routable_slugs
from worker.watchers import MailboxConfig, mailboxes_by_key

log = logging.getLogger(__name__)

# Maildir subfolders (Maildir++) for a local inbox, when no folder is configured.
MAILDIR_DONE = "Mailroom.Done"
MAILDIR_REVIEW = "Mailroom.Review"
CALLBACK_TIMEOUT = 10.0  # seconds to wait for a ticket's callback URL


class Predictor(Protocol):
    """The model as the driver uses it (see :class:`worker.model_cache.ModelCache`)."""

    def predict(
        self,
        texts: Sequence[str],
        known_teams: Collection[str],
        case_teams: Sequence[str | None] | None = None,
        thread_teams: Sequence[str | None] | None = None,
    ) -> list[Prediction]:
        """A prediction per text; raises ModelError when the model cannot be used.
        ``case_teams``: per text, the team of the customer's recent case (or None);
        ``thread_teams``: the team of a reply's thread (or None). The model weighs them
        where its version was certified to."""
        ...

    def active(self) -> bool:
        """True when a model version is active."""
        ...

    def warm_up(self) -> None:
        """Load the active version now (at worker start), not with the first mail."""
        ...


@runtime_checkable
class FlagJudge(Protocol):
    """A predictor that also judges urgency and churn (the active version's learned heads;
    :meth:`worker.model_cache.ModelCache.flags`). A predictor without it leaves both flags
    to the cue list."""

    def flags(self, texts: Sequence[str]) -> list[dict[str, LearnedFlag]]:
        """Per text, the flags the active version has a head for; raises ModelError."""
        ...


@dataclass
class Services:
    """What the driver needs from the outside world; tests pass fakes (the seams)."""

    settings: Settings
    sessions: sessionmaker[Session]
    predictor: Predictor
    smtp: SmtpSender
    imap_actions: Callable[[MailboxConfig], ImapActions] = field(
        default=lambda config: ImapActions(config.imap)
    )
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    # POST a JSON body to a URL, return the HTTP status (a ticket's callback; tests fake it).
    http_post: Callable[[str, bytes], int] = field(default=lambda url, body: _post_json(url, body))
    # The configured mailboxes by key; from the settings when not given.
    mailboxes: Mapping[str, MailboxConfig] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.mailboxes:
            self.mailboxes = mailboxes_by_key(self.settings)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where :func:`advance` left a mail: its state, and a word on why it stopped."""

    state: str | None
    note: str = ""


def _state(services: Services, message_id: int) -> str | None:
    with session_scope(services.sessions) as session:
        return lifecycle.state_of(session, message_id)


HANDED_OFF = "handed to the forward queue"


def advance(services: Services, message_id: int, *, handoff: bool = False) -> Outcome:
    """Move one mail through every step it is ready for; return where it stopped.

    ``handoff``: stop once the mail is 'forwarding' or 'forwarded' (note
    :data:`HANDED_OFF`): the routing task leaves sending and marking done to the forward
    queue, which may run on other hosts (docs/deploy.md).

    Raises :class:`MailServerError` or :class:`StoreError` on a failure of a server or the
    database (the task retries, then calls :func:`quarantine`). A mail that is not live
    (archive mail) or unknown is left alone.
    """
    # Each step returns the state it moved the mail to, or None when another task moved it
    # (then the state is read again): one database round trip fewer per step.
    state = _state(services, message_id)
    for _ in range(8):
        if handoff and state in ("forwarding", "forwarded"):
            return Outcome(state, HANDED_OFF)
        if state == "new":
            state = _route(services, message_id) or _state(services, message_id)
        elif state == "forwarding":
            moved = _deliver(services, message_id)
            if moved is None:
                return Outcome("forwarding", "another worker is sending it")
            state = moved
        elif state == "forwarded":
            state = _mark_done(services, message_id) or _state(services, message_id)
        elif state == "review":
            if not _review_step(services, message_id):
                return Outcome("review", "waiting for a person")
            state = "forwarding"
        else:
            return Outcome(state)
    return Outcome(_state(services, message_id), "step limit")  # pragma: no cover


# Routing -----------------------------------------------------------------------------------


def _route(services: Services, message_id: int) -> str | None:
    """Sort out machine mail, ask the model, decide, record; the state the mail moved to,
    None if another task moved it."""
    settings = services.settings
    with session_scope(services.sessions) as session:
        found = lifecycle.routing_input(
            session, message_id, services.clock(), customer=affinity_setup(settings)
        )
        if found is None:
            return None
        if found.unreadable:
            moved = lifecycle.quarantine(
                session, message_id, found.unreadable, services.clock(), expected="new"
            )
            return "quarantined" if moved else None

    # Machine mail never reaches a team as customer mail (promise 8): before the model.
    verdict = hygiene.classify(
        found.raw,
        own_addresses=settings.own_addresses(),
        recent_from_sender=found.recent_from_sender,
        sender_limit=settings.sender_rate_limit,
    )
    if verdict.handling == "file":
        # Marked in its mailbox first: if the worker dies before the record, the mail is
        # still 'new' and the sweep files it again (marking twice is harmless).
        location = _location(services, found.original)
        marked = _mark_original(services, location, review=False) if location else False
        log.info(
            "message %d is %s (%s): filed, not forwarded", message_id, verdict.kind, verdict.reason
        )
        with session_scope(services.sessions) as session:
            return lifecycle.record_filed(
                session, message_id, verdict, services.clock(), marked=marked
            )
    decision = decide(services, found, verdict)
    with session_scope(services.sessions) as session:
        routed = lifecycle.record_route(
            session,
            message_id,
            decision,
            services.clock(),
            outgoing=settings.outgoing,
            kind=verdict.kind,
            keys=found.keys,
        )
    if routed is not None:
        _callback(services, message_id)
    return routed


def affinity_setup(settings: Settings) -> lifecycle.AffinitySetup:
    """Customer affinity as the settings ask. With ``MAILROOM_AFFINITY_DAYS`` 0 no case is
    looked for, but the keys are still recorded, so turning it on finds recent history."""
    return lifecycle.AffinitySetup(
        days=settings.affinity_days,
        patterns=tuple(settings.pseudonymiser().org_patterns),
        own_addresses=tuple(settings.own_addresses()),
    )


def decide(
    services: Services, found: lifecycle.RoutingInput, verdict: hygiene.Hygiene
) -> RouteDecision:
    """Where a mail that is not filed goes: to a person for bulk mail and a sender over the
    rate limit (unless an admin rule naming their kind decides), else as the rules, the
    thread, the customer's case and the model say (:func:`worker.routing.decide_route`).
    Records nothing; ``mailroom inspect`` shows what it would decide."""
    settings = services.settings
    facts = found.facts
    if facts is not None and facts.kind != verdict.kind:
        # The kind as the worker sees it now (own addresses, the sender's rate known).
        facts = replace(facts, kind=verdict.kind)
    rules = evaluate(found.rules, facts) if facts is not None else None
    if verdict.handling == "review":
        decided = rules.decided if rules is not None else None
        if decided is not None and verdict.kind in decided.conditions.kind:
            # A rule the admin wrote for this kind of mail (bulk mail from a newsletter they
            # know) decides; the model is not asked.
            return decide_route(
                prediction=None,
                thread=None,
                is_reply=False,
                teams=found.teams,
                outgoing=settings.outgoing,
                rules=rules,
            )
        return RouteDecision(
            mode="review",
            reason="sender-rate-limit" if verdict.kind == "loop" else f"{verdict.kind}-mail",
            decided_by="hygiene",
            team=None,
            details={"kind": verdict.kind, "signals": list(verdict.signals[:10])},
        )
    prediction: Prediction | None = None
    model_error: str | None = None
    learned: dict[str, LearnedFlag] = {}
    if services.predictor.active():
        # Read exactly as in training (classifier.store_training): pseudonymised alike.
        text = model_text(
            found.subject,
            found.new_text,
            found.quoted_text,
            names=(found.sender_name,),
            pseudonymiser=settings.pseudonymiser(),
        )
        try:
            known = routable_slugs(found.teams, settings.outgoing)
            thread_team = _thread_team(found)
            case_team = _case_team(found)
            predict = services.predictor.predict
            if thread_team is not None:
                prediction = predict([text], known, thread_teams=[thread_team])[0]
            elif case_team is not None:
                prediction = predict([text], known, case_teams=[case_team])[0]
            else:
                prediction = predict([text], known)[0]
        except ModelError as exc:
            # A model that cannot be used is no reason to guess: unless a rule decides,
            # the mail goes to a person.
            log.error("model failed on message %d: %s", found.message_id, exc)
            model_error = str(exc)
        if isinstance(services.predictor, FlagJudge):
            try:
                learned = services.predictor.flags([text])[0]
            except ModelError as exc:
                # The cue list stands in, and the decision says so.
                log.error("flag heads failed on message %d: %s", found.message_id, exc)
    flags = MailFlags(cues=cue_flags(found.subject, found.new_text), learned=learned)
    if facts is not None:
        # The rules see the flags as routing judged them (learned heads, else cues).
        facts = replace(facts, given_flags=flags.names)
        rules = evaluate(found.rules, facts)
    decision = decide_route(
        prediction=prediction,
        thread=found.thread,
        is_reply=found.is_reply,
        teams=found.teams,
        outgoing=settings.outgoing,
        rules=rules,
        flags=flags,
        case=found.case,
    )
    if model_error and decision.decided_by != "rule":
        decision = RouteDecision(
            mode="review",
            reason="model-error",
            decided_by="model",
            team=None,
            details={"error": model_error, **flags.details()},
        )
    return decision


def _thread_team(found: lifecycle.RoutingInput) -> str | None:
    """The team of a reply's thread the model should weigh: where routing asks the thread
    (:func:`worker.routing.decide_route`), unless a person chose it (then it is followed)."""
    thread = found.thread
    if not found.is_reply or thread is None or thread.team_id is None or thread.moved_by_person:
        return None
    return next((slug for slug, team in found.teams.items() if team.id == thread.team_id), None)


def _case_team(found: lifecycle.RoutingInput) -> str | None:
    """The team of the customer's case the model should weigh: only where routing will ask
    the case (no thread with a team decides first: :func:`worker.routing.decide_route`)."""
    if found.case is None:
        return None
    if found.is_reply and found.thread is not None and found.thread.team_id is not None:
        return None
    return next((slug for slug, team in found.teams.items() if team.id == found.case.team_id), None)


@dataclass(frozen=True, slots=True)
class Preview:
    """What the worker would do with one mail now (``mailroom inspect``): its kind and,
    unless it would be filed, the decision."""

    verdict: hygiene.Hygiene
    decision: RouteDecision | None


def preview(services: Services, raw: bytes, mail: NormalisedMail) -> Preview:
    """What :func:`advance` would decide for ``raw`` (read as ``mail``) if it arrived now,
    with the teams, threads and model of the store and registry; records nothing."""
    with session_scope(services.sessions) as session:
        found = lifecycle.preview_input(
            session, raw, mail, services.clock(), customer=affinity_setup(services.settings)
        )
    verdict = hygiene.classify(
        raw,
        own_addresses=services.settings.own_addresses(),
        recent_from_sender=found.recent_from_sender,
        sender_limit=services.settings.sender_rate_limit,
    )
    if verdict.handling == "file":
        return Preview(verdict, None)
    return Preview(verdict, decide(services, found, verdict))


def _post_json(url: str, body: bytes) -> int:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=CALLBACK_TIMEOUT) as response:
        return int(response.status)


def _callback(services: Services, message_id: int) -> None:
    """Tell the integration that handed in a ticket where it went (once per decision, not
    retried: it can always ask GET /api/v1/tickets/<id>). A mail has no callback."""
    with session_scope(services.sessions) as session:
        callback = lifecycle.ticket_callback(session, message_id)
    if callback is None:
        return
    try:
        outcome = str(services.http_post(callback.url, json.dumps(callback.payload).encode()))
    except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts are OSErrors
        outcome = f"failed: {exc}"
        log.warning("callback for ticket %d failed: %s", message_id, exc)
    with session_scope(services.sessions) as session:
        lifecycle.record_callback(session, message_id, callback.url, outcome, services.clock())


# Review ------------------------------------------------------------------------------------


def _review_step(services: Services, message_id: int) -> bool:
    """Flag a mail that waits for a person in its mailbox, or send it on once a person
    decided. True when the mail moved on (to 'forwarding')."""
    with session_scope(services.sessions) as session:
        step = lifecycle.review_step(
            session, message_id, services.clock(), outgoing=services.settings.outgoing
        )
    if step.action == "forward":
        _callback(services, message_id)  # a person decided
        return True
    if step.action == "flag":
        location = _location(services, step.original)
        found = _mark_original(services, location, review=True) if location else False
        with session_scope(services.sessions) as session:
            lifecycle.record_review_flagged(session, message_id, found, services.clock())
    return False


# Delivery ----------------------------------------------------------------------------------


def _forward_info(forward: ClaimedForward, settings: Settings, message_id: int) -> ForwardInfo:
    return ForwardInfo(
        team_slug=forward.team_slug,
        to_address=forward.to_address,
        outgoing_id=forward.outgoing_id,
        decided_by=forward.decided_by,
        confidence=forward.confidence,
        model_version=forward.model_version,
        original_message_id=forward.original_message_id,
        original_subject=forward.original_subject,
        original_sender_name=forward.sender_name,
        original_sender_email=forward.sender_email,
        reason=forward.reason,
        explanation=forward.explanation,
        priority=forward.priority,
        send_back_url=(
            f"{settings.public_url.rstrip('/')}/review/routed?message={message_id}"
            if settings.public_url
            else ""
        ),
    )


def _deliver(services: Services, message_id: int) -> str | None:
    """Send the pending forward; the state after it is recorded as sent (or already was),
    None while another worker holds the claim."""
    settings = services.settings
    with session_scope(services.sessions) as session:
        forward = lifecycle.claim_delivery(
            session, message_id, services.clock(), claim_seconds=settings.claim_timeout
        )
    if forward is None:
        state = _state(services, message_id)
        return None if state == "forwarding" else state
    try:
        _send(services, forward, _forward_info(forward, settings, message_id))
    except MailServerError as exc:
        with session_scope(services.sessions) as session:
            lifecycle.release_claim(session, forward.delivery_id, str(exc))
        raise
    if settings.fault_pause_after_send:
        # Fault tests: the window between the server's accept and our record.
        log.warning(
            "fault pause: sent %s, recording in %.1f s",
            forward.outgoing_id,
            settings.fault_pause_after_send,
        )
        services.sleep(settings.fault_pause_after_send)
    with session_scope(services.sessions) as session:
        moved = lifecycle.record_sent(session, message_id, forward, services.clock())
    return moved or _state(services, message_id)


def _send(services: Services, forward: ClaimedForward, info: ForwardInfo) -> None:
    settings = services.settings
    if forward.method in ("smtp", "maildir"):
        data = build_forward(
            forward.raw,
            info,
            mode=settings.forward_mode,
            sender=settings.smtp_from,
            now=services.clock(),
        )
        if forward.method == "smtp":
            services.smtp.send(settings.smtp_from, [info.to_address], data)
        else:
            outbox = settings.maildir_outbox
            deliver_to_maildir(outbox, forward.team_slug, forward.outgoing_id, data)
        return
    # imap-move: the original itself goes into the team's folder
    location = _location(services, forward.original)
    config, where = location if location else (None, None)
    if config is None or not isinstance(where, ImapLocation):
        raise MailServerError(
            "IMAP move needs a mail that came from an IMAP mailbox", transient=False
        )
    moved = services.imap_actions(config).move_to_folder(
        where, forward.imap_folder, forward.outgoing_id
    )
    if not moved:
        raise MailServerError(
            f"the mail is no longer in {where.folder!r} and not in {forward.imap_folder!r}",
            transient=False,
        )


# Marking the original --------------------------------------------------------------------


def _location(
    services: Services, original: Original | None
) -> tuple[MailboxConfig, ImapLocation | str] | None:
    """Where the original is: (mailbox, IMAP location or Maildir file name)."""
    if original is None:
        return None
    config = services.mailboxes.get(original.mailbox_key)
    if config is None:
        return None
    if config.kind == "maildir":
        return config, original.source_ref
    return config, ImapLocation(
        folder=config.folder,
        uidvalidity=original.uidvalidity,
        uid=original.uid,
        message_id=original.message_id,
        content_hash=original.content_hash or None,
        size=original.raw_size,
    )


def _mark_original(
    services: Services,
    location: tuple[MailboxConfig, ImapLocation | str],
    *,
    review: bool,
) -> bool:
    settings = services.settings
    config, where = location
    if isinstance(where, str):
        assert config.path is not None
        folder = (
            (settings.review_folder or MAILDIR_REVIEW)
            if review
            else (settings.processed_folder or MAILDIR_DONE)
        )
        return move_maildir_file(config.path, where, folder)
    actions = services.imap_actions(config)
    if review:
        return actions.mark(
            where, keyword=REVIEW_KEYWORD, seen=False, move_to=settings.review_folder
        )
    return actions.mark(where, keyword=ROUTED_KEYWORD, seen=True, move_to=settings.processed_folder)


def _mark_done(services: Services, message_id: int) -> str | None:
    """Flag or move the original in its mailbox; 'done', or None if another task did."""
    with session_scope(services.sessions) as session:
        waiting, original = lifecycle.original_to_mark(session, message_id)
    if not waiting:
        return None
    location = _location(services, original)
    found = _mark_original(services, location, review=False) if location else False
    with session_scope(services.sessions) as session:
        done = lifecycle.record_done(session, message_id, found, services.clock())
    return "done" if done else None


# Giving up, and the sweep ------------------------------------------------------------------


def quarantine(services: Services, message_id: int, reason: str) -> bool:
    """Give up on a mail after the last retry (see :func:`labeling.live.lifecycle.quarantine`).
    True if the mail was quarantined now."""
    with session_scope(services.sessions) as session:
        return lifecycle.quarantine(session, message_id, reason, services.clock())


def stale_messages(services: Services, limit: int = 500) -> list[int]:
    """Live mail no task seems to be moving (see
    :func:`labeling.live.lifecycle.stale_messages`); the sweep queues each again."""
    with session_scope(services.sessions) as session:
        return lifecycle.stale_messages(
            session,
            services.clock(),
            older_than=services.settings.sweep_interval,
            limit=limit,
        )


def maildir_outbox_files(root: Path, team_slug: str) -> list[Path]:
    """Forwards delivered to a team's Maildir (for tests and the demo)."""
    folder = root / team_slug
    return sorted(p for sub in ("new", "cur") for p in (folder / sub).glob("*") if p.is_file())
