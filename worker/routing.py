"""Where one live mail goes: a pure decision over values, no sockets, no sessions.

:func:`decide_route` applies, in order:

0. **Admin rules** (:mod:`labeling.rules.matching`, walked by the caller with
   :func:`~labeling.rules.matching.evaluate`). The first matching ``route`` rule sends the
   mail to its team (``decided_by='rule'``; review when the team is not routable), a
   ``review`` rule sends it to a person. A matching ``no-auto`` rule turns whatever would be
   forwarded below into review (the suggestion kept), and a ``priority`` rule's priority is
   recorded (``details['priority']``) whoever decides.
1. **Thread affinity.** A reply in a thread that was already routed goes to the thread's
   team (``Thread.team_id``: the team the first mail went to, or the one a person chose for
   the thread). If the model is sure, at its certified threshold, that the reply belongs to
   another team, the model decides instead (``details['topic_changed']`` and
   ``details['thread_team']`` say so). Following a thread has a certificate of its own: the
   model must give the thread's team at least the version's ``follow_floor``
   (:func:`classifier.certify.follow_floor`, from the verified replies); below it the reply
   is the model's to decide (``details['thread_doubted']``), a person's when the model is
   not sure. A version that weighs threads (``Prediction.thread_team``: the model was
   given the thread's team and updated its probabilities as it does a customer's case,
   below) decides with its certified threshold instead: sure of the thread's team → the
   thread (``thread_weighed``); sure of another → the model (``topic_changed``); not sure
   → a person. After a person chose the thread's team, the model is not even asked to
   second-guess them.
1b. **Customer affinity** (only when no thread decided). A mail from a customer with an
   open or recent case (:mod:`labeling.live.affinity`: the same sender or customer/policy
   number, within ``MAILROOM_AFFINITY_DAYS``) may go to the case's team, and to the member
   who handles it (``details['handler_id']``), ``decided_by='affinity'``, with the case's id
   and age in ``details``. A version that weighs cases (``Prediction.case_team``: the model
   was given the case and updated its probabilities by the odds fitted on validation,
   :func:`classifier.scoring.with_case`) decides with its certified threshold, which was
   certified on verified mail weighed the same way: sure of the case's team → affinity
   (``case_weighed``); sure of another → the model (``topic_changed``); not sure → a person,
   the case recorded. A version that does not weigh cases takes the thread's step
   (:func:`_follow`): a sure model overrules the case, and below the follow floor the model
   decides (``affinity_doubted``). A case whose team a person chose is followed either way.
2. **The model.** With no active model every mail goes to review (``'no-model'``). A
   prediction that is not ``auto`` (below the team's threshold, out of scope, a label that
   is no longer a routable team) goes to review with the model's reason.
3. **The team must be routable**: active (not archived) and with a destination for the
   outgoing method (a forward address for SMTP, a folder for IMAP move). Otherwise review.

Whoever decides, the mail's **urgency and churn flags** are recorded (:mod:`labeling.rules.
flags`: the learned heads of the active model version where it has them, else the cue
list, each flag saying which), and an urgent mail without a rule's priority gets priority
high (its forward carries ``Importance``/``X-Priority``; it comes first in review). Rules
match on the same flags (the caller gives them to the facts: ``MailFacts.given_flags``).

Unsure never means a guess: every path that is not certain ends in ``mode='review'``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from classifier.scoring import Prediction
from labeling.live.affinity import CaseInfo
from labeling.live.lifecycle import Outgoing, RouteDecision, TeamInfo, ThreadInfo
from labeling.rules.cues import CueFlags
from labeling.rules.flags import MailFlags
from labeling.rules.matching import RuleOutcome, RuleSpec


def routable_slugs(teams: Mapping[str, TeamInfo], outgoing: Outgoing) -> frozenset[str]:
    """The team slugs mail may be auto-routed to now (the model's ``known_teams``)."""
    return frozenset(slug for slug, team in teams.items() if team.routable(outgoing))


def decide_route(
    *,
    prediction: Prediction | None,
    thread: ThreadInfo | None,
    is_reply: bool,
    teams: Mapping[str, TeamInfo],
    outgoing: Outgoing,
    rules: RuleOutcome | None = None,
    cues: CueFlags | None = None,
    case: CaseInfo | None = None,
    flags: MailFlags | None = None,
) -> RouteDecision:
    """Decide one mail; see the module docstring for the rules.

    ``prediction`` is None when no model is active. ``teams`` maps slug to team, archived
    teams included (a thread may point at one). ``is_reply``: the mail names a parent
    (In-Reply-To or References). ``rules``: what the admin rules said of the mail.
    ``case``: the customer's open or recent case (:func:`labeling.live.affinity.find_case`),
    None when affinity is off or finds none. ``flags``: its urgency and churn flags, learned
    or from the cue list (recorded; urgent without a rule's priority means priority high);
    ``cues`` alone: the cue list's.
    """
    decision = _with_rules(
        prediction=prediction,
        thread=thread,
        is_reply=is_reply,
        teams=teams,
        outgoing=outgoing,
        rules=rules,
        case=case,
    )
    if flags is None and cues is not None:
        flags = MailFlags(cues=cues)
    flagged = flags.details() if flags is not None else {}
    if flags is None or not flagged:
        return decision
    details = {**decision.details, **flagged}
    if flags.urgent and "priority" not in details:
        details["priority"] = "high"
    return replace(decision, details=details)


def _with_rules(
    *,
    prediction: Prediction | None,
    thread: ThreadInfo | None,
    is_reply: bool,
    teams: Mapping[str, TeamInfo],
    outgoing: Outgoing,
    rules: RuleOutcome | None,
    case: CaseInfo | None,
) -> RouteDecision:
    decision = _decide(
        prediction=prediction,
        thread=thread,
        is_reply=is_reply,
        teams=teams,
        outgoing=outgoing,
        rules=rules or RuleOutcome(),
        case=case,
    )
    if rules is None or not rules.matched:
        return decision
    details = {**decision.details, **rules.details()}
    if decision.mode == "auto" and rules.no_auto is not None:
        # A person confirms what the thread or the model would have done.
        return replace(
            decision,
            mode="review",
            reason="rule-no-auto",
            decided_by="rule",
            rule_id=rules.no_auto.id,
            details={**details, "suggested_by": decision.decided_by},
        )
    return replace(decision, details=details)


def _decide(
    *,
    prediction: Prediction | None,
    thread: ThreadInfo | None,
    is_reply: bool,
    teams: Mapping[str, TeamInfo],
    outgoing: Outgoing,
    rules: RuleOutcome,
    case: CaseInfo | None,
) -> RouteDecision:
    model_view: dict[str, Any] = {}
    if prediction is not None:
        model_view = {
            "model_team": prediction.team,
            "model_confidence": round(prediction.confidence, 4),
            "model_reason": prediction.reason,
            "margin": round(prediction.margin, 4),
        }
        if prediction.threshold is not None:
            model_view["threshold"] = prediction.threshold
    by_id = {team.id: team for team in teams.values()}

    if rules.decided is not None:
        return _by_rule(rules.decided, prediction, model_view, teams, outgoing)

    topic_changed: dict[str, Any] = {}
    if is_reply and thread is not None and thread.team_id is not None:
        team = by_id.get(thread.team_id)
        if (
            prediction is not None
            and team is not None
            and _weighs(prediction.thread_team, team, thread.moved_by_person, outgoing)
        ):
            # The model already weighed the thread (a version certified with it).
            followed, topic_changed = _weighed("thread", team, {}, prediction, model_view)
        else:
            followed, topic_changed = _follow(
                "thread",
                team,
                thread.moved_by_person,
                {},
                prediction,
                model_view,
                outgoing,
            )
        if followed is not None:
            return followed
    elif case is not None:
        team = by_id.get(case.team_id)
        if (
            prediction is not None
            and team is not None
            and _weighs(prediction.case_team, team, case.moved_by_person, outgoing)
        ):
            # The model already weighed the case (a version certified with it): its
            # certified threshold decides, and the case only says who handles the mail.
            followed, topic_changed = _weighed(
                "affinity", team, case.details(), prediction, model_view
            )
            if followed is not None:
                return followed
        elif team is not None and team.routable(outgoing):
            # An archived case team is no reason for review: the model decides alone.
            followed, topic_changed = _follow(
                "affinity",
                team,
                case.moved_by_person,
                case.details(),
                prediction,
                model_view,
                outgoing,
            )
            if followed is not None:
                return followed

    if prediction is None:
        return RouteDecision(mode="review", reason="no-model", decided_by="model", team=None)
    team = teams.get(prediction.team)
    common = _model_fields(prediction)
    if not prediction.auto:
        return RouteDecision(
            mode="review",
            reason=prediction.reason,
            decided_by="model",
            team=team,
            details={**model_view, **topic_changed},
            **common,
        )
    if team is None or not team.routable(outgoing):
        return RouteDecision(
            mode="review",
            reason="unknown-team",
            decided_by="model",
            team=team,
            details={**model_view, **topic_changed},
            **common,
        )
    return RouteDecision(
        mode="auto",
        reason="confident",
        decided_by="model",
        team=team,
        details={**model_view, **topic_changed},
        **common,
    )


def _weighs(weighed: str | None, team: TeamInfo, moved_by_person: bool, outgoing: Outgoing) -> bool:
    """The model's probabilities already weigh ``team`` (the thread's or the case's,
    :func:`classifier.scoring.with_case`), which can receive mail, and no person chose it
    (a person's choice is followed, not weighed)."""
    return weighed == team.slug and team.routable(outgoing) and not moved_by_person


def _weighed(
    source: str,
    team: TeamInfo,
    earlier: Mapping[str, Any],
    prediction: Prediction,
    model_view: Mapping[str, Any],
) -> tuple[RouteDecision | None, dict[str, Any]]:
    """The thread's or the case's team, already weighed by the model (``source`` 'thread'
    or 'affinity'): its certified threshold decides. Sure of ``team`` → ``source`` routes
    it (``*_weighed``); sure of another team → (None, topic changed): the model routes it;
    not sure → (None, what to record): a person decides, with the earlier team shown."""
    flag = "case_weighed" if source == "affinity" else "thread_weighed"
    if prediction.auto and prediction.team == team.slug:
        return (
            RouteDecision(
                mode="auto",
                reason=source,
                decided_by=source,
                team=team,
                details={**model_view, **earlier, flag: True},
                **_model_fields(prediction),
            ),
            {},
        )
    return None, {
        "topic_changed" if prediction.auto else flag: True,
        f"{source}_team": team.slug,
        **earlier,
    }


def _follow(
    source: str,
    team: TeamInfo | None,
    moved_by_person: bool,
    earlier: Mapping[str, Any],
    prediction: Prediction | None,
    model_view: Mapping[str, Any],
    outgoing: Outgoing,
) -> tuple[RouteDecision | None, dict[str, Any]]:
    """Follow what came before — the mail's thread (``source`` 'thread') or its customer's
    case ('affinity') — to ``team``. (None, what to record) when the model decides instead,
    unless a person chose ``team`` (then the model is not asked to second-guess them): the
    model is sure, at its certified threshold, that the mail belongs to another team (the
    topic changed: the demo's replies that followed their thread against a sure model were
    right 8 times in 16), or it gives ``team`` less than the follow floor certified on
    verified replies (doubted)."""
    if (
        prediction is not None
        and prediction.auto
        and team is not None
        and prediction.team != team.slug
        and not moved_by_person
    ):
        return None, {"topic_changed": True, f"{source}_team": team.slug, **earlier}
    if (
        prediction is not None
        and team is not None
        and not moved_by_person
        and prediction.doubts(team.slug)
    ):
        # Following is certified only where the model gives the team at least the version's
        # follow floor (classifier.certify, on verified replies): below it, replies in such
        # threads were too often about something else. The model decides, and a person when
        # the model is not sure either.
        return None, {
            f"{source}_doubted": True,
            f"{source}_team": team.slug,
            f"{source}_probability": round(prediction.probability_of(team.slug), 4),
            # NEVER (inf) is no JSON number: PostgreSQL refuses it in the details column.
            "follow_floor": (
                prediction.follow_floor if math.isfinite(prediction.follow_floor) else None
            ),
            **earlier,
        }
    details = {**model_view, **earlier, "moved_by_person": moved_by_person}
    common = _model_fields(prediction)
    if team is None or not team.routable(outgoing):
        why = "archived" if team is not None and team.archived else "not routable"
        return (
            RouteDecision(
                mode="review",
                reason=f"{source}-team-unavailable",
                decided_by=source,
                team=team,
                details={**details, "why": why},
                **common,
            ),
            {},
        )
    return (
        RouteDecision(
            mode="auto",
            reason=f"{source}-moved-by-person" if moved_by_person else source,
            decided_by=source,
            team=team,
            details=details,
            **common,
        ),
        {},
    )


def _by_rule(
    rule: RuleSpec,
    prediction: Prediction | None,
    model_view: Mapping[str, Any],
    teams: Mapping[str, TeamInfo],
    outgoing: Outgoing,
) -> RouteDecision:
    common = _model_fields(prediction)
    details = {**model_view, "rule": rule.name}
    if rule.action == "review":
        return RouteDecision(
            mode="review",
            reason="rule-review",
            decided_by="rule",
            team=teams.get(prediction.team) if prediction is not None else None,
            details=details,
            rule_id=rule.id,
            **common,
        )
    team = teams.get(rule.team or "")
    if team is None or not team.routable(outgoing):
        return RouteDecision(
            mode="review",
            reason="rule-team-unavailable",
            decided_by="rule",
            team=team,
            details={**details, "rule_team": rule.team},
            rule_id=rule.id,
            **common,
        )
    return RouteDecision(
        mode="auto",
        reason="rule",
        decided_by="rule",
        team=team,
        details=details,
        rule_id=rule.id,
        **common,
    )


def _model_fields(prediction: Prediction | None) -> dict[str, Any]:
    if prediction is None:
        return {}
    return {
        "confidence": prediction.confidence,
        "model_version": prediction.model_version,
        "top": prediction.top,
    }
