"""How much a customer's recent case says about their new mail.

Customer affinity (:mod:`labeling.live.affinity`) links a live mail to its customer's case:
the team their recent mail went to. Following the case blindly routes a customer's new
matter to the old team; ignoring it leaves "any news on my earlier mail?" — mail whose team
only the case tells — to a person. The model weighs the case instead:

* **The odds.** The model's probabilities are updated by Bayes' rule with a likelihood ratio
  ``s`` for the case's team (:func:`classifier.scoring.with_case`).
* **Depending on the text.** How much a case says depends on what the mail says itself: a
  vague follow-up is about its case, a mail that describes a new matter may not be. A small
  head (TF-IDF and logistic regression, as the flag heads) learns from the training mail
  that had a case whether a mail is about its case (its label is the case's team), and
  ``log s = a + b · logit(head)``; without enough such mail, ``b = 0`` and one odds ratio
  serves all. ``a`` and ``b`` are fitted on validation mail with a case (least log loss).
* **Certified with them.** The thresholds are certified on verified mail weighed the same
  way (:mod:`classifier.store_training`), so a case never makes mail routable that the
  certificate did not see weighed; a version without :class:`CaseOdds` weighs no case.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from classifier.baseline import BaselineArguments, TfidfBaseline
from classifier.flags import NO, YES, positive_scores
from classifier.scoring import with_case

MIN_CASE_EXAMPLES = 20  # validation mail with a case needed to weigh cases at all
MIN_HEAD_EXAMPLES = 10  # training mail with a case, of each kind, for the head
INTERCEPTS = tuple(0.25 * k for k in range(49))  # a: log odds 0 … 12
SLOPES = tuple(0.25 * k for k in range(13))  # b: 0 … 3 (more about its case: more weight)


@dataclass(frozen=True)
class CaseOdds:
    """``log s = a + b · logit(head(text))`` (``b`` is 0 without a head)."""

    a: float
    b: float
    head: TfidfBaseline | None = None

    def strengths(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """The likelihood ratio of each text's case."""
        if self.head is None or self.b == 0.0:
            return np.full(len(texts), math.exp(self.a))
        return _strengths(self.a, self.b, positive_scores(self.head, texts))

    def weigh(
        self,
        probabilities: NDArray[np.floating],
        texts: Sequence[str],
        case_columns: Sequence[int] | NDArray[np.integer],
    ) -> NDArray[np.float64]:
        """``probabilities`` with each row's case weighed (rows whose column is < 0 have
        none and stay as they were)."""
        columns = np.asarray(case_columns, dtype=np.int64)
        strengths = np.ones(len(columns))
        rows = np.flatnonzero(columns >= 0)
        if len(rows):
            strengths[rows] = self.strengths([texts[int(i)] for i in rows])
        return with_case(probabilities, columns, strengths)

    def to_json(self) -> list[float]:
        return [self.a, self.b]


def _strengths(a: float, b: float, about_case: NDArray[np.floating]) -> NDArray[np.float64]:
    q = np.clip(np.asarray(about_case, dtype=np.float64), 1e-4, 1.0 - 1e-4)
    return np.asarray(np.exp(np.minimum(a + b * np.log(q / (1.0 - q)), 30.0)), dtype=np.float64)


def fit_case_head(texts: Sequence[str], about_case: Sequence[bool]) -> TfidfBaseline | None:
    """The head that tells from a mail's text whether it is about its customer's case:
    fitted on training mail with a case (``about_case``: its label is the case's team).
    None with fewer than :data:`MIN_HEAD_EXAMPLES` of either kind."""
    yes = sum(about_case)
    if yes < MIN_HEAD_EXAMPLES or len(about_case) - yes < MIN_HEAD_EXAMPLES:
        return None
    head = TfidfBaseline(BaselineArguments(class_weight="balanced"))
    return head.fit(list(texts), [YES if about else NO for about in about_case])


def fit_case_odds(
    probabilities: NDArray[np.floating],
    case_columns: Sequence[int],
    targets: Sequence[int],
    about_case: NDArray[np.floating] | None = None,
) -> tuple[float, float] | None:
    """``(a, b)`` that fit validation mail with a case best (least log loss of its
    answer), on a grid; ``b`` stays 0 without the head's scores (``about_case``). None —
    cases are not weighed — with fewer than :data:`MIN_CASE_EXAMPLES` such mails. Where
    customers often write about something new, the odds stay near 1 and a case changes
    little."""
    columns = np.asarray(case_columns, dtype=np.int64)
    answer = np.asarray(targets, dtype=np.int64)
    p = np.asarray(probabilities, dtype=np.float64)
    if len(columns) < MIN_CASE_EXAMPLES:
        return None
    rows = np.arange(len(columns))
    slopes = SLOPES if about_case is not None else (0.0,)
    scores = np.asarray(about_case if about_case is not None else np.ones(len(columns)))

    def loss(a: float, b: float) -> float:
        q = with_case(p, columns, _strengths(a, b, scores))[rows, answer]
        return float(-np.mean(np.log(np.clip(q, 1e-12, 1.0))))

    # Ties go to the weaker odds (smaller a, then smaller b): no more weight than shown.
    return min(((a, b) for b in slopes for a in INTERCEPTS), key=lambda ab: (loss(*ab), ab))
