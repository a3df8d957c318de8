"""The training set: which label each mail gets, and the files and datasets built from it.

Label resolution (:func:`resolve_label`), over a message's current (non-superseded)
annotations, first rule that applies:

1. an ``adjudication`` (an admin or reviewer settled a disagreement) — the newest one;
2. the majority of the people's ``human`` labels (one per person); a tie between the top
   teams excludes the mail until someone adjudicates it;
3. the newest ``review`` label (a reviewer routed live mail by hand);
4. the ``archive-folder`` weak label — only with ``include_weak``.

``human`` labels count on archive mail only: live mail is decided in review, and the
labelling queue refuses it (docs/labels.md has the whole order, with who may give which
label).

The flags (issue 14 item 3) — ``urgent``, ``churn`` (wants to leave) — come from the
people who answered them with their label (:func:`resolve_flags`): the newest adjudication
that did, else the people's majority (a tie counts as flagged: missing an angry customer
costs more than a second look), else the newest review label that did; None when no person
was asked (folder labels, labels from before the flags).

``model`` annotations are never exported: they are predictions, not labels. Labels for
archived teams are exported (the labels are the asset) unless ``exclude_archived_teams``.
Each example records its ``sources``: the deciding source first, then every other source
whose label agrees (e.g. ``('human', 'archive-folder')``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labeling.mail.model_text import model_text
from labeling.store.tables import Annotation, Message, Team

if TYPE_CHECKING:
    from datasets import DatasetDict

    from labeling.mail.pseudonymise import Pseudonymiser

ExportFormat = Literal["jsonl", "csv"]
Split = Literal["train", "validation", "holdout"]

# The frozen holdout: a mail's near-duplicate group falls in the lowest HOLDOUT_PERCENT of
# a fixed hash, forever (see classifier.store_training, which gates versions on it).
HOLDOUT_PERCENT = 10

# Deciding order of the sources, strongest first; 'model' is never a label.
LABEL_SOURCES = ("adjudication", "human", "review", "archive-folder")
WEAK_SOURCE = "archive-folder"


@dataclass(frozen=True, slots=True)
class Vote:
    """One current annotation of a message as the resolution sees it.

    ``order`` breaks "newest" ties: the annotation id (ids grow with time).
    """

    source: str
    label: str
    order: int = 0
    urgent: bool | None = None
    churn: bool | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    """The label a message gets and the sources that back it (deciding source first)."""

    label: str
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Example:
    """One training example. ``text`` is the subject, a newline, and the mail's new text.

    ``group`` is the near-duplicate group (or the message id when it has none): the
    train/validation split keeps a group on one side, so copies do not leak across.
    """

    message_id: int
    text: str
    label: str
    sources: tuple[str, ...]
    language: str
    group: int = 0
    urgent: bool | None = None  # people's flags (resolve_flags); None: no one was asked
    churn: bool | None = None


def resolve_label(votes: Iterable[Vote], *, include_weak: bool = False) -> Resolution | None:
    """The label for one message from its current annotations, or None (see module doc)."""
    votes = list(votes)
    label: str | None = None
    decided = ""
    adjudications = [vote for vote in votes if vote.source == "adjudication"]
    humans = Counter(vote.label for vote in votes if vote.source == "human")
    reviews = [vote for vote in votes if vote.source == "review"]
    weak = [vote for vote in votes if vote.source == WEAK_SOURCE]
    if adjudications:
        label, decided = max(adjudications, key=lambda vote: vote.order).label, "adjudication"
    elif humans:
        ranked = humans.most_common()
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            return None  # people disagree evenly: wait for an adjudication
        label, decided = ranked[0][0], "human"
    elif reviews:
        label, decided = max(reviews, key=lambda vote: vote.order).label, "review"
    elif weak and include_weak:
        label, decided = max(weak, key=lambda vote: vote.order).label, WEAK_SOURCE
    if label is None:
        return None
    agreeing = {vote.source for vote in votes if vote.label == label}
    others = tuple(s for s in LABEL_SOURCES if s in agreeing and s != decided)
    return Resolution(label, (decided, *others))


FLAG_NAMES = ("urgent", "churn")


def resolve_flags(votes: Iterable[Vote]) -> dict[str, bool | None]:
    """Each flag's value from the people's answers (see module doc); None: no one said."""
    votes = list(votes)
    out: dict[str, bool | None] = {}
    for name in FLAG_NAMES:
        said = [(vote, getattr(vote, name)) for vote in votes if getattr(vote, name) is not None]
        value: bool | None = None
        for source in ("adjudication", "human", "review"):
            answers = [(vote, flag) for vote, flag in said if vote.source == source]
            if not answers:
                continue
            if source == "human":
                yes = sum(1 for _, flag in answers if flag)
                value = 2 * yes >= len(answers)
            else:
                value = bool(max(answers, key=lambda pair: pair[0].order)[1])
            break
        out[name] = value
    return out


def training_examples(
    session: Session,
    *,
    include_weak: bool = False,
    exclude_archived_teams: bool = False,
    pseudonymiser: Pseudonymiser | None = None,
) -> list[Example]:
    """Every parsed mail with a resolvable label (see module doc), ordered by message id.

    Covers archive and live mail alike (live mail gets labels through review), except mail
    of people who were erased (:mod:`labeling.store.privacy`). The text is
    :func:`model_text`, pseudonymised with ``pseudonymiser`` (default: default patterns).
    """
    from labeling.store.privacy import erased_filter

    excluded = erased_filter(session)
    rows = session.execute(
        select(
            Annotation.message_id,
            Annotation.source,
            Team.slug,
            Annotation.id,
            Annotation.urgent,
            Annotation.churn,
        )
        .join(Team, Team.id == Annotation.team_id)
        .join(Message, Message.id == Annotation.message_id)
        .where(
            Annotation.superseded_at.is_(None),
            Annotation.source.in_(LABEL_SOURCES),
            Message.status == "ok",
            # Live mail is decided in review: a labelling-queue label on it (possible before
            # revision 0008) never outvotes the reviewer.
            (Message.origin == "archive") | (Annotation.source != "human"),
        )
        .order_by(Annotation.message_id, Annotation.id)
    )
    votes: dict[int, list[Vote]] = defaultdict(list)
    for message_id, source, slug, annotation_id, urgent, churn in rows:
        votes[message_id].append(Vote(source, slug, annotation_id, urgent, churn))

    archived: set[str] = set()
    if exclude_archived_teams:
        archived = set(session.scalars(select(Team.slug).where(Team.archived_at.is_not(None))))
    resolved: dict[int, Resolution] = {}
    for message_id, message_votes in votes.items():
        resolution = resolve_label(message_votes, include_weak=include_weak)
        if resolution is not None and resolution.label not in archived:
            resolved[message_id] = resolution
    if not resolved:
        return []

    examples = []
    has_label = Message.annotations.any(
        (Annotation.superseded_at.is_(None)) & Annotation.source.in_(LABEL_SOURCES)
    )
    texts = session.execute(
        select(
            Message.id,
            Message.subject,
            Message.new_text,
            Message.quoted_text,
            Message.language,
            Message.dup_group_id,
            Message.sender_name,
            Message.sender_email,
            Message.recipients,
            Message.body_text,
        )
        .where(Message.status == "ok", has_label)
        .order_by(Message.id)
    )
    for (
        message_id,
        subject,
        new_text,
        quoted_text,
        language,
        dup_group_id,
        sender_name,
        sender_email,
        recipients,
        body_text,
    ) in texts:
        resolution = resolved.get(message_id)
        if resolution is None or excluded(sender_email, recipients, body_text):
            continue
        flags = resolve_flags(votes[message_id])
        examples.append(
            Example(
                message_id=message_id,
                text=model_text(
                    subject,
                    new_text,
                    quoted_text,
                    names=(sender_name,),
                    pseudonymiser=pseudonymiser,
                ),
                label=resolution.label,
                sources=resolution.sources,
                language=language,
                group=dup_group_id or message_id,
                urgent=flags["urgent"],
                churn=flags["churn"],
            )
        )
    return examples


PERSON_SOURCES = ("human", "review", "adjudication")


def person_labels_since(session: Session, since: datetime | None) -> int:
    """Current labels given by people (labelling, review, adjudication) after ``since``
    (all of them when None): what a retrain would learn that the last one did not."""
    query = select(func.count()).select_from(Annotation).where(
        Annotation.superseded_at.is_(None), Annotation.source.in_(PERSON_SOURCES)
    )
    if since is not None:
        query = query.where(Annotation.created_at > since)
    return int(session.scalar(query) or 0)


def is_holdout(group: int) -> bool:
    """Whether a near-duplicate group (or a mail without one: its id) is in the frozen
    holdout no model trains on."""
    digest = hashlib.sha256(f"mailroom-holdout:{group}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HOLDOUT_PERCENT


def training_splits(
    examples: Sequence[Example], *, validation_share: float, seed: int = 0
) -> dict[int, Split]:
    """Message id → the part a training run puts it in: the frozen holdout, else train or
    validation as :func:`split_examples` divides the rest (the same arguments give the
    same answer as training without a verified sample)."""
    rest = [e for e in examples if not is_holdout(e.group or e.message_id)]
    train, validation = split_examples(rest, validation_share=validation_share, seed=seed)
    splits: dict[int, Split] = {e.message_id: "holdout" for e in examples}
    splits.update({e.message_id: "train" for e in train})
    splits.update({e.message_id: "validation" for e in validation})
    return splits


def split_examples(
    examples: Sequence[Example], *, validation_share: float = 0.2, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """(train, validation), stratified by label and reproducible for a given ``seed``.

    Each label sends about ``validation_share`` of its examples to validation, at least one
    when it has two or more groups, and always keeps one in train (a label with a single
    example is train-only). Near-duplicate groups are never split, so validation scores
    are not inflated by copies of training mail. Both lists are ordered by message id.
    """
    if not 0.0 <= validation_share < 1.0:
        raise ValueError(f"validation_share must be in [0, 1), not {validation_share}")
    groups: dict[int, list[Example]] = defaultdict(list)
    for example in examples:
        groups[example.group or example.message_id].append(example)
    by_label: dict[str, list[int]] = defaultdict(list)
    for key, members in groups.items():
        # A group whose copies got different labels goes with its most common one.
        counts = Counter(e.label for e in members)
        by_label[min(counts, key=lambda label: (-counts[label], label))].append(key)

    validation_keys: set[int] = set()
    for label, keys in sorted(by_label.items()):
        if len(keys) < 2 or validation_share == 0.0:
            continue
        keys.sort()
        # Seeded per label: adding mail of one team does not reshuffle the others.
        random.Random(f"{seed}:{label}").shuffle(keys)
        total = sum(len(groups[key]) for key in keys)
        target = max(1, round(total * validation_share))
        taken = 0
        for key in keys[:-1]:  # the last group stays in train whatever the share
            if taken >= target:
                break
            validation_keys.add(key)
            taken += len(groups[key])

    train = [e for e in examples if (e.group or e.message_id) not in validation_keys]
    validation = [e for e in examples if (e.group or e.message_id) in validation_keys]
    return (
        sorted(train, key=lambda e: e.message_id),
        sorted(validation, key=lambda e: e.message_id),
    )


def build_dataset(
    session: Session,
    *,
    validation_share: float = 0.2,
    seed: int = 0,
    include_weak: bool = False,
    exclude_archived_teams: bool = False,
) -> DatasetDict:
    """The training set as a ``datasets.DatasetDict`` with 'train' and 'validation' splits.

    Columns: message_id (int64), text, label (team slug), sources (list of str),
    language. Split as :func:`split_examples` describes; record :func:`dataset_hash` of
    :func:`training_examples` with the model to know what it was trained on.
    """
    examples = training_examples(
        session, include_weak=include_weak, exclude_archived_teams=exclude_archived_teams
    )
    train, validation = split_examples(examples, validation_share=validation_share, seed=seed)
    return examples_to_dataset(train, validation)


def examples_to_dataset(train: Sequence[Example], validation: Sequence[Example]) -> DatasetDict:
    """A ``DatasetDict`` with the two splits (columns as in :func:`build_dataset`)."""
    from datasets import Dataset, DatasetDict, Features, Value
    from datasets import Sequence as FeatureList

    features = Features(
        {
            "message_id": Value("int64"),
            "text": Value("string"),
            "label": Value("string"),
            "sources": FeatureList(Value("string")),
            "language": Value("string"),
        }
    )

    def table(examples: Sequence[Example]) -> Dataset:
        return Dataset.from_dict(
            {
                "message_id": [e.message_id for e in examples],
                "text": [e.text for e in examples],
                "label": [e.label for e in examples],
                "sources": [list(e.sources) for e in examples],
                "language": [e.language for e in examples],
            },
            features=features,
        )

    return DatasetDict({"train": table(train), "validation": table(validation)})


def dataset_hash(examples: Iterable[Example]) -> str:
    """SHA-256 hex over the sorted (message_id, label, text) of ``examples``.

    Changes when a label, a text or the set of mails changes; not when sources, language
    or the order of ``examples`` do.
    """
    digest = hashlib.sha256()
    for message_id, label, text in sorted((e.message_id, e.label, e.text) for e in examples):
        line = json.dumps([message_id, label, text], ensure_ascii=False, separators=(",", ":"))
        digest.update(line.encode("utf-8", "surrogatepass") + b"\n")
    return digest.hexdigest()


def write_examples(
    examples: Iterable[Example],
    path: Path,
    fmt: ExportFormat = "jsonl",
    *,
    splits: Mapping[int, Split] | None = None,
) -> int:
    """Write ``examples`` to ``path`` as JSONL or CSV; returns how many were written.

    Fields: message_id, label, source (the one that decided the label), sources (it and
    every other source that agrees: a list in JSONL, ';'-joined in CSV), group (the
    near-duplicate group, the message id when it has none), split (``splits``' answer,
    empty without), language, text, urgent and churn (the people's flags: true/false, null
    in JSONL and empty in CSV when no one was asked). The file is written next to ``path``
    and renamed over it at the end, so a reader never sees half a file; it is readable by
    its owner only (0600).
    """
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"format must be 'jsonl' or 'csv', not {fmt!r}")
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    count = 0
    try:
        # Owner-only from the first byte: the texts are customers' mail.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as out:
            if fmt == "csv":
                writer = csv.writer(out)
                writer.writerow(
                    [
                        "message_id",
                        "label",
                        "source",
                        "sources",
                        "group",
                        "split",
                        "language",
                        "text",
                        "urgent",
                        "churn",
                    ]
                )
            for example in examples:
                split = splits.get(example.message_id, "") if splits is not None else ""
                group = example.group or example.message_id
                if fmt == "csv":
                    writer.writerow(
                        [
                            example.message_id,
                            example.label,
                            example.sources[0],
                            ";".join(example.sources),
                            group,
                            split,
                            example.language,
                            example.text,
                            _csv_flag(example.urgent),
                            _csv_flag(example.churn),
                        ]
                    )
                else:
                    record = {
                        "message_id": example.message_id,
                        "label": example.label,
                        "source": example.sources[0],
                        "sources": list(example.sources),
                        "group": group,
                        "split": split,
                        "language": example.language,
                        "text": example.text,
                        "urgent": example.urgent,
                        "churn": example.churn,
                    }
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return count


def _csv_flag(value: bool | None) -> str:
    return "" if value is None else str(value).lower()
