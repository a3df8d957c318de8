"""Customer affinity: a customer's new mail goes where their open or recent case is.

A live mail is linked to its customer by keys (:func:`customer_keys`): its sender address,
and every customer, policy, claim, quote or invoice number its subject or own text holds,
found by the pseudonymiser's organisation patterns (``MAILROOM_PSEUDONYMISE_PATTERNS``:
the same linear-time patterns that hide those numbers from the model; no second parser).
Only hashes are stored (``case_keys``), written when the mail is routed: not the values in
clear, but a short number can be found again by hashing every number, so they are personal
data and live and die with their mail.

:func:`find_case` looks, for a mail about to be routed, for the customer's latest *case*:
another live mail with one of its keys that arrived within ``MAILROOM_AFFINITY_DAYS``, was
sent to a team (by a rule, the model, its thread, affinity or a person) and is not back in
review. A match by number wins over a match by address; an address whose recent mail went
to more than one team (a broker, a colleague forwarding for many customers) links to
nothing. What routing then does with the case — follow it, unless the model is sure the
topic changed and no person chose the case's team — is :func:`worker.routing.decide_route`,
the same step as thread affinity.

Privacy: an erased address (a tombstone in ``erasures``) gets no keys and no case; erasure
deletes the erased mail with its keys, and expiry (``MAILROOM_RETENTION_DAYS``) drops the
keys with the addresses.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from labeling.store.tables import (
    CaseKey,
    Delivery,
    Erasure,
    Message,
    RoutingDecision,
    TeamMember,
)

MAX_TEXT_CHARS = 20_000  # of the subject and of the own text, each
MAX_KEYS = 20
MAX_CANDIDATES = 200
ROUTED_STATES = ("forwarding", "forwarded", "done")


@dataclass(frozen=True, slots=True)
class CaseInfo:
    """A customer's earlier case, as routing sees it: the mail (``case #message_id``), the
    team it went to, and the member who handles it (if its team has members)."""

    message_id: int
    team_id: int
    age: timedelta
    matched_by: str  # 'number' or 'sender'
    moved_by_person: bool = False  # a person chose the case's team
    member_id: int | None = None
    member_name: str = ""

    @property
    def age_days(self) -> int:
        return max(0, self.age.days)

    def details(self) -> dict[str, object]:
        """What a routing decision records about the case."""
        out: dict[str, object] = {
            "affinity_case": self.message_id,
            "affinity_age_days": self.age_days,
            "affinity_by": self.matched_by,
        }
        if self.member_id is not None:
            out["handler_id"] = self.member_id
            out["handler"] = self.member_name
        return out


def _hash(kind: str, value: str) -> str:
    return hashlib.sha256(f"mailroom-case:{kind}:{value}".encode()).hexdigest()


def _number(value: str) -> str:
    # "PZ-12345678", "PZ12345678" and "12.345.678" are one policy; "S-2024-00001" and
    # "SCH-2024-00001" one claim: the digits say which.
    digits = "".join(ch for ch in value if ch.isdigit())
    return digits if len(digits) >= 5 else ""


@dataclass(frozen=True, slots=True)
class CustomerKeys:
    """A mail's keys: its sender's and its numbers' (hashes, see :func:`customer_keys`)."""

    sender: str = ""
    numbers: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return ((self.sender,) if self.sender else ()) + self.numbers

    def __bool__(self) -> bool:
        return bool(self.sender or self.numbers)


def customer_keys(
    sender_email: str,
    texts: Iterable[str],
    patterns: Sequence[tuple[str, re.Pattern[str]]],
    *,
    own_addresses: Iterable[str] = (),
) -> CustomerKeys:
    """The keys linking a mail to its customer: its sender (unless one of Mailroom's own
    addresses) and the organisation numbers in ``texts`` (subject, own text), each as a
    hash. Pure; linear in the text (``patterns`` are checked linear-time)."""
    sender = (sender_email or "").strip().lower()
    own = {address.strip().lower() for address in own_addresses}
    numbers: list[str] = []
    for text in texts:
        text = (text or "")[:MAX_TEXT_CHARS]
        for label, pattern in patterns:
            for match in pattern.finditer(text):
                group = "value" if "value" in pattern.groupindex else 0
                number = _number(match.group(group))
                if number:
                    numbers.append(_hash(label, number))
    return CustomerKeys(
        sender=sender_key(sender) if "@" in sender and sender not in own else "",
        numbers=tuple(dict.fromkeys(numbers))[:MAX_KEYS],
    )


def sender_key(sender_email: str) -> str:
    """The key of an address."""
    return _hash("sender", sender_email.strip().lower())


def is_erased(session: Session, sender_email: str) -> bool:
    """Whether the address was erased (GDPR Art. 17): it is linked to nothing again."""
    from labeling.store.privacy import address_hash

    if not sender_email:
        return False
    digest = address_hash(sender_email)
    return session.scalar(select(Erasure.id).where(Erasure.address_hash == digest)) is not None


def record_keys(session: Session, message_id: int, keys: CustomerKeys) -> None:
    """Store ``keys`` for a live mail (again: the old ones are replaced)."""
    session.execute(
        delete(CaseKey)
        .where(CaseKey.message_id == message_id)
        .execution_options(synchronize_session=False)
    )
    session.add_all(CaseKey(message_id=message_id, key=key) for key in keys.all)


def find_case(
    session: Session,
    message_id: int,
    keys: CustomerKeys,
    now: datetime,
    *,
    days: int,
) -> CaseInfo | None:
    """The customer's latest case within ``days`` (see the module docstring), or None:
    affinity off (``days`` 0), no keys, nothing recent, or an ambiguous sender."""
    if days <= 0 or not keys:
        return None
    rows = session.execute(
        select(
            Message.id,
            Message.imported_at,
            RoutingDecision.team_id,
            RoutingDecision.decided_by,
            RoutingDecision.details,
            CaseKey.key,
        )
        .join(CaseKey, CaseKey.message_id == Message.id)
        .join(
            RoutingDecision,
            (RoutingDecision.message_id == Message.id) & RoutingDecision.is_current,
        )
        .where(
            CaseKey.key.in_(list(keys.all)),
            Message.id != message_id,
            Message.origin == "live",
            Message.route_state.in_(ROUTED_STATES),
            Message.imported_at >= now - timedelta(days=days),
            RoutingDecision.mode == "auto",
            RoutingDecision.team_id.is_not(None),
        )
        .order_by(Message.imported_at.desc(), Message.id.desc())
        .limit(MAX_CANDIDATES)
    ).all()
    if not rows:
        return None
    by_number = [row for row in rows if row.key in keys.numbers]
    if by_number:
        chosen, matched_by = by_number[0], "number"
    else:
        if len({row.team_id for row in rows}) > 1:
            return None  # one address, many teams: a broker or a colleague, not one case
        chosen, matched_by = rows[0], "sender"
    details = chosen.details if isinstance(chosen.details, dict) else {}
    moved = chosen.decided_by.startswith("user") or bool(
        chosen.decided_by in ("thread", "affinity") and details.get("moved_by_person")
    )
    member = session.execute(
        select(TeamMember.id, TeamMember.name)
        .join(Delivery, Delivery.member_id == TeamMember.id)
        .where(
            Delivery.message_id == chosen.id,
            TeamMember.active,
            TeamMember.team_id == chosen.team_id,
        )
    ).first()
    return CaseInfo(
        message_id=chosen.id,
        team_id=chosen.team_id,
        age=now - chosen.imported_at,
        matched_by=matched_by,
        moved_by_person=moved,
        member_id=member.id if member is not None else None,
        member_name=member.name if member is not None else "",
    )
