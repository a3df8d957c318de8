"""Near-duplicate groups: newsletters, auto-replies, the same complaint sent twice.

Each parsed archive mail is reduced to the set of its three-word shingles over the subject
and the new text, case-folded and with every number made "0" (so "polis 12345" and
"polis 67.890" read alike). Mails with identical shingles are one group outright; among
the rest, MinHash LSH (``datasketch``) proposes candidates, and a candidate joins the
group of the oldest mail whose estimated Jaccard similarity with it reaches the threshold
(so every member resembles that first mail). A group's id is its smallest message id,
stored in ``messages.dup_group_id``; a mail without near-duplicates keeps NULL, and so
does a mail too short to tell (fewer than :data:`MIN_SHINGLES` shingles).
"""

from __future__ import annotations

import hashlib
import re
import time
import zlib
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from labeling.store.tables import Message

SHINGLE_WORDS = 3
# Short mails ("Scan", "Bel mij terug aub") look alike whatever they are about, and the
# team they need depends on what is attached or meant; grouping them would invite labelling
# unrelated mail at once. Only mails with this many distinct shingles (some fifteen words)
# are grouped.
MIN_SHINGLES = 15
# Long newsletters are recognised by their first few thousand words; hashing the rest
# only costs time.
MAX_WORDS = 2000
_WORD = re.compile(r"\w+")
# A number with its separators ("06 12 34 56 78", "87.059.645", "+31-6-…") is one "0".
_NUMBER = re.compile(r"\+?\d(?:[\d.,/ -]*\d)?")


@dataclass(frozen=True, slots=True)
class GroupingSummary:
    """What :func:`group_near_duplicates` found: ``messages`` compared, ``groups`` of two
    or more, ``grouped`` mails in them, ``changed`` rows whose group changed."""

    messages: int
    groups: int
    grouped: int
    changed: int
    seconds: float


def shingles(subject_key: str, new_text: str) -> set[str]:
    """The normalised word shingles of a mail (empty for a mail without words)."""
    text = _NUMBER.sub("0", f"{subject_key}\n{new_text}".casefold())
    words = _WORD.findall(text)[:MAX_WORDS]
    if len(words) <= SHINGLE_WORDS:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def _hash32(data: bytes) -> int:
    # CRC-32 is fast and the same in every process (MinHash permutes it anyway), so a run
    # again gives the same groups.
    return zlib.crc32(data)


def group_near_duplicates(
    session: Session, *, threshold: float = 0.8, num_perm: int = 128
) -> GroupingSummary:
    """Group the near-duplicates among parsed archive mail; idempotent.

    ``threshold``: the Jaccard similarity of shingle sets that makes two mails
    near-duplicates; ``num_perm``: MinHash permutations (more is more precise and
    slower). Flushes the changed ``dup_group_id`` values; the caller commits.
    """
    from datasketch import MinHash, MinHashLSH

    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
    if num_perm < 16:
        raise ValueError(f"num_perm must be at least 16, not {num_perm}")
    started = time.perf_counter()
    rows = session.execute(
        select(Message.id, Message.subject_key, Message.new_text)
        .where(Message.status == "ok", Message.origin == "archive")
        .order_by(Message.id)
    )
    # Mails whose normalised text is identical (the same mail sent again, a newsletter that
    # differs only in numbers) share one entry: only distinct texts are hashed and compared.
    copies: list[list[int]] = []
    texts: list[list[bytes]] = []
    index_of: dict[bytes, int] = {}
    compared = 0
    for message_id, subject_key, new_text in rows:
        compared += 1
        words = shingles(subject_key, new_text)
        if len(words) < MIN_SHINGLES:
            continue
        encoded = sorted(shingle.encode("utf-8", "surrogatepass") for shingle in words)
        key = hashlib.sha256(b"\n".join(encoded)).digest()
        if key not in index_of:
            index_of[key] = len(texts)
            texts.append(encoded)
            copies.append([])
        copies[index_of[key]].append(message_id)

    signatures = MinHash.bulk(texts, num_perm=num_perm, hashfunc=_hash32)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    for index, signature in enumerate(signatures):
        lsh.insert(index, signature, check_duplication=False)

    # Each group gathers the texts similar to its oldest one (texts come in id order), so
    # every member is like the first; a chain of small differences does not snowball into
    # one group, and a large group costs one query, not one per member.
    leader = [-1] * len(texts)
    for index, signature in enumerate(signatures):
        if leader[index] != -1:
            continue
        leader[index] = index
        for other in lsh.query(signature):
            # LSH only proposes candidates; the estimated similarity decides.
            if leader[other] == -1 and signature.jaccard(signatures[other]) >= threshold:
                leader[other] = index

    members: dict[int, list[int]] = {}
    for index, first in enumerate(leader):
        members.setdefault(first, []).extend(copies[index])
    wanted: dict[int, int] = {}
    groups = 0
    for group in members.values():
        if len(group) > 1:
            groups += 1
            smallest = min(group)
            wanted.update((message_id, smallest) for message_id in group)

    # Every row whose group changes, including mail that was grouped before and is not now
    # (two integers per mail; SQLite reads them from the dup_group_id index alone).
    current = session.execute(select(Message.id, Message.dup_group_id))
    changes = [
        {"id": message_id, "dup_group_id": wanted.get(message_id)}
        for message_id, group_id in current
        if wanted.get(message_id) != group_id
    ]
    if changes:
        session.execute(update(Message), changes)
        # A bulk UPDATE by primary key leaves loaded objects as they were.
        for row in list(session.identity_map.values()):
            if isinstance(row, Message):
                session.expire(row, ["dup_group_id"])
    session.flush()
    return GroupingSummary(
        messages=compared,
        groups=groups,
        grouped=len(wanted),
        changed=len(changes),
        seconds=time.perf_counter() - started,
    )


def group_members(session: Session, message_id: int) -> list[Message]:
    """The parsed mails in the message's near-duplicate group, by id; just the message
    itself when it has no group, and an empty list for an unknown id."""
    message = session.get(Message, message_id)
    if message is None:
        return []
    if message.dup_group_id is None:
        return [message]
    return list(
        session.scalars(
            select(Message)
            .where(Message.dup_group_id == message.dup_group_id, Message.status == "ok")
            .order_by(Message.id)
        )
    )
