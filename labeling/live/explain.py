"""Why a live mail went where it went, in the words a person reads on the review page and
in the forward's cover note: "rule 'Schadeformulier' matched", "same handler as case #2311
(3 days ago)", "priority high (rule 'Spoed')", "urgent: 0.91 (model)", "wants to leave (cue
list: 'opzeggen')". Pure: it reads a routing decision's fields, nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labeling.rules.cues import SOURCE as CUE_SOURCE
from labeling.rules.flags import FLAG_NAMES, flag_words


def explain(
    decided_by: str, reason: str, confidence: float | None, details: Mapping[str, Any]
) -> tuple[str, ...]:
    """One short line per reason behind a routing decision, most decisive first."""
    lines: list[str] = []
    rule = details.get("rule")
    if decided_by == "rule" and rule:
        lines.append(f"rule '{rule}' matched")
    if reason == "rule-no-auto" and details.get("no_auto_rule"):
        lines.append(f"rule '{details['no_auto_rule']}' asks a person to confirm every route")
    if reason == "rule-team-unavailable":
        lines.append(f"the rule's team {details.get('rule_team')!r} cannot receive mail now")
    if decided_by == "thread":
        moved = " (a person moved the thread there)" if details.get("moved_by_person") else ""
        lines.append(f"same team as the earlier mail of its thread{moved}")
        if details.get("topic_changed"):
            lines.append(f"the model thinks the topic changed (to {details.get('model_team')})")
    case = details.get("affinity_case")
    if case and (decided_by == "affinity" or details.get("suggested_by") == "affinity"):
        whom = "handler" if details.get("handler") else "team"
        lines.append(f"same {whom} as case #{case} ({_ago(details.get('affinity_age_days'))})")
        if details.get("moved_by_person"):
            lines.append("a person chose the case's team")
    elif decided_by == "model" and case and details.get("topic_changed"):
        lines.append(
            f"the model thinks the topic changed since case #{case} "
            f"(to {details.get('model_team')})"
        )
    if details.get("thread_doubted"):
        lines.append(
            f"its thread went to {details.get('thread_team')}, but the model gives that team "
            f"only {float(details.get('thread_probability', 0.0)):.2f}"
        )
    if details.get("thread_weighed") and decided_by != "thread":
        lines.append(
            f"its thread went to {details.get('thread_team')}; the model weighed it and is "
            "still not sure"
        )
    elif decided_by == "model" and details.get("thread_team") and details.get("topic_changed"):
        lines.append(f"the model thinks the topic changed (to {details.get('model_team')})")
    if details.get("case_weighed") and decided_by != "affinity":
        lines.append(
            f"case #{case} went to {details.get('affinity_team')}; the model weighed it "
            "and is still not sure"
        )
    if details.get("affinity_doubted"):
        lines.append(
            f"case #{case} went to {details.get('affinity_team')}, but the model gives that "
            f"team only {float(details.get('affinity_probability', 0.0)):.2f}"
        )
    if decided_by == "model" and details.get("model_team") and confidence is not None:
        lines.append(f"model: {details['model_team']} {confidence:.2f}")
    if decided_by.startswith("user"):
        lines.append("a person chose this team")
    for flag in FLAG_NAMES:
        if details.get(flag):
            # "urgent: 0.91 (model)" or "urgent (cue list: 'spoed')" (labeling.rules.flags)
            lines.append(flag_words(flag, details[flag], details.get("flags_source", CUE_SOURCE)))
    if details.get("priority"):
        by = f" (rule '{details['priority_rule']}')" if details.get("priority_rule") else ""
        lines.append(f"priority {details['priority']}{by}")
    return tuple(lines)


def _ago(days: Any) -> str:
    if not isinstance(days, int) or days <= 0:
        return "today"
    return "1 day ago" if days == 1 else f"{days} days ago"
