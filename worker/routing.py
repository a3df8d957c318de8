"""Where one live mail goes: a pure decision over values, no sockets, no sessions.

:func:`decide_route` applies, in order:

1. **Thread affinity.** A reply in a thread that was already routed goes to the thread's
   team (``Thread.team_id``: the team the first mail went to, or the one a person moved the
   thread to). If the model is confident that the reply's new text belongs to another team,
   the decision says so (``details['topic_changed']``) but keeps the thread's team; after a
   person moved the thread, the model is not even asked to second-guess them.
2. **The model.** With no active model every mail goes to review (``'no-model'``). A
   prediction that is not ``auto`` (below the team's threshold, out of scope, a label that
   is no longer a routable team) goes to review with the model's reason.
3. **The team must be routable**: active (not archived) and with a destination for the
   outgoing method (a forward address for SMTP, a folder for IMAP move). Otherwise review.

Unsure never means a guess: every path that is not certain ends in ``mode='review'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from classifier.scoring import Prediction
from labeling.live.lifecycle import Outgoing, RouteDecision, TeamInfo, ThreadInfo


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
) -> RouteDecision:
    """Decide one mail; see the module docstring for the rules.

    ``prediction`` is None when no model is active. ``teams`` maps slug to team, archived
    teams included (a thread may point at one). ``is_reply``: the mail names a parent
    (In-Reply-To or References).
    """
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

    if is_reply and thread is not None and thread.team_id is not None:
        team = by_id.get(thread.team_id)
        details: dict[str, Any] = {**model_view, "moved_by_person": thread.moved_by_person}
        if (
            prediction is not None
            and prediction.auto
            and team is not None
            and prediction.team != team.slug
            and not thread.moved_by_person
        ):
            # The reply may be about something new; the thread still decides, and a person
            # reading the decision sees the flag.
            details["topic_changed"] = True
        common = _model_fields(prediction)
        if team is None or not team.routable(outgoing):
            why = "archived" if team is not None and team.archived else "not routable"
            return RouteDecision(
                mode="review",
                reason="thread-team-unavailable",
                decided_by="thread",
                team=team,
                details={**details, "why": why},
                **common,
            )
        return RouteDecision(
            mode="auto",
            reason="thread-moved-by-person" if thread.moved_by_person else "thread",
            decided_by="thread",
            team=team,
            details=details,
            **common,
        )

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
            details=model_view,
            **common,
        )
    if team is None or not team.routable(outgoing):
        return RouteDecision(
            mode="review",
            reason="unknown-team",
            decided_by="model",
            team=team,
            details=model_view,
            **common,
        )
    return RouteDecision(
        mode="auto",
        reason="confident",
        decided_by="model",
        team=team,
        details=model_view,
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
