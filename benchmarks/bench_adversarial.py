"""Worst time per KB of every parse and render step on mail content, for hostile inputs.

    PYTHONPATH=$PWD python benchmarks/bench_adversarial.py [--sizes 8,16,32] [--repeat 1]

For each kind of adversarial input (long runs of spaces, dashes, '>' quotes, header-like
prefixes followed by whitespace, deep HTML nesting, a mix) and each size in KB, it times each
entry point that reads mail text: ``normalise()`` on a whole mail, the reply splitter,
forward counting (the dashboard's archive figure), the model's text, HTML sanitising (the
review and labelling pages' frame), and admin rules with the urgency/churn cue list. It
prints a table of the seconds each step took and, per kind, the worst seconds per KB over
the sizes: a linear step keeps that figure flat as the size grows, a quadratic one doubles
it with each doubling of the size.

A step that would take longer than ``--budget`` seconds (default 30) at the next size is
skipped there (shown as ``>``), so that a quadratic step on the start commit does not run
for minutes. CPU time is measured (``time.process_time``): the machine is shared.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from labeling.errors import MailParseError
from labeling.live.stats import count_forwards
from labeling.mail.mime import normalise
from labeling.mail.model_text import model_text
from labeling.mail.quotes import split_reply
from labeling.rules.matching import Conditions, facts_of
from web.mailhtml import sanitise

KB = 1024
# Prefix words and multi-word phrases: the costliest conditions a rule can hold.
RULE_CONDITIONS = Conditions.from_mapping(
    {
        "text": ["a* a* a* a* a* a* a* zz", "x x x zz", "aa bb* zz"],
        "header": {"subject": "a* a* zz"},
    }
)


@dataclass(frozen=True)
class Kind:
    name: str
    text: Callable[[int], str]  # body text of about n characters
    html: Callable[[int], str]  # an HTML body of about n characters


def _repeat_to(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


def _nested(n: int, tag: str = "div") -> str:
    depth = max(1, n // (len(tag) * 2 + 5))
    return f"<{tag}>" * depth + "x" + f"</{tag}>" * depth


KINDS: tuple[Kind, ...] = (
    Kind("spaces", lambda n: "a" + " " * n + "b", lambda n: "<p>a" + " " * n + "b</p>"),
    Kind(
        "from-spaces",  # a header-like prefix, then whitespace that never reaches the field
        lambda n: "Van" + " " * n + "x\n" + "Aan" + " " * n + "x\n",
        lambda n: "<p>From" + " " * n + "x</p>",
    ),
    Kind("dashes", lambda n: "-" * n + " x", lambda n: "<p>" + "-" * n + "</p>"),
    Kind(
        "dash-lines",
        lambda n: _repeat_to("-- doorgestuurd bericht --\n", n),
        lambda n: _repeat_to("<p>-----Original Message-----</p>", n),
    ),
    Kind("quotes", lambda n: _repeat_to("> ", n) + "x", lambda n: _repeat_to("&gt; ", n)),
    Kind(
        "quote-lines", lambda n: _repeat_to(">\n", n), lambda n: _repeat_to("<blockquote>", n)
    ),
    Kind(
        "sign-off",  # a sign-off line with a long whitespace tail that does not end it
        lambda n: "tekst\n\nMet vriendelijke groet" + " " * n + "x y z w v u\nJan",
        lambda n: "<p>Groeten" + " " * n + "x</p>",
    ),
    Kind(
        "trailing-space",
        lambda n: "a" + " \t" * (n // 2) + "x\n",
        lambda n: "<p>a" + "&nbsp;" * (n // 6) + "</p>",
    ),
    Kind(
        "tables",  # dense but ordinary markup: the HTML-to-text step's worst per byte
        lambda n: "x",
        lambda n: _repeat_to("<table><tr><td>a</td><td>b</td></tr></table>", n),
    ),
    Kind("nesting", lambda n: "x", _nested),
    Kind("nesting-b", lambda n: "x", lambda n: "<b>" * (n // 3)),
    Kind(
        "mixed",
        lambda n: _repeat_to("Van: x\n" + " " * 200 + "\n> " + "-" * 100 + "\n", n),
        lambda n: _repeat_to("<div><span>" + " " * 50 + "<i>-- ", n),
    ),
)


def _mail(text: str, html: str | None = None) -> bytes:
    head = (
        "From: Jan <jan@example.nl>\nTo: info@example.nl\nSubject: Fwd: test\n"
        "Message-ID: <adv@example.nl>\nMIME-Version: 1.0\n"
    )
    if html is None:
        body = "Content-Type: text/plain; charset=utf-8\n\n" + text
    else:
        body = "Content-Type: text/html; charset=utf-8\n\n" + html
    return (head + body).encode("utf-8")


def _normalise(data: bytes) -> None:
    with contextlib.suppress(MailParseError):
        normalise(data)


def _steps(kind: Kind, n: int) -> dict[str, Callable[[], object]]:
    text, html = kind.text(n), kind.html(n)
    plain_mail, html_mail = _mail(text), _mail("", html)
    return {
        "normalise": lambda: _normalise(plain_mail),
        "normalise-html": lambda: _normalise(html_mail),
        "split_reply": lambda: split_reply(text),
        "count_forwards": lambda: count_forwards("Fwd: " + text[:16 * KB], text),
        "model_text": lambda: model_text("Fwd: " + text[:16 * KB], text, text),
        "sanitise": lambda: sanitise(html),
        # Admin rules and the cue list on the same text (labeling/rules/).
        "rules": lambda: RULE_CONDITIONS.matches(
            facts_of(
                subject=text[: 4 * KB],
                new_text=text,
                quoted_text=text,
                sender_email="a@b.example",
                recipients=None,
                attachments=None,
                language="nl",
                raw=plain_mail,
            )
        ),
    }


def _cpu(step: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        step()
        best = min(best, time.process_time() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="8,16,32,64", help="sizes in KB (default 8,16,32,64)")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs (default 1)")
    parser.add_argument("--budget", type=float, default=30.0, help="skip a step past this (s)")
    parser.add_argument("--kinds", default="", help="comma-separated kinds (default: all)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    chosen = set(args.kinds.split(",")) if args.kinds else None

    normalise(_mail("warm up the language model"))
    print(f"sizes (KB): {sizes}; CPU seconds per step, then worst seconds per KB")
    print(f"{'kind':<15} {'step':<15} " + " ".join(f"{s:>8}K" for s in sizes) + "   worst s/KB")
    worst_overall = 0.0
    for kind in KINDS:
        if chosen is not None and kind.name not in chosen:
            continue
        names = list(_steps(kind, 1))
        for name in names:
            cells, per_kb, last = [], [], 0.0
            for index, size in enumerate(sizes):
                # Quadratic growth: four times the time for twice the size.
                growth = (size / sizes[index - 1]) ** 2 if index else 1.0
                if last * growth > args.budget:
                    cells.append(f"{'>':>9}")
                    per_kb.append(last * growth / size)
                    continue
                last = _cpu(_steps(kind, size * KB)[name], args.repeat)
                cells.append(f"{last:9.3f}")
                per_kb.append(last / size)
            worst = max(per_kb)
            worst_overall = max(worst_overall, worst)
            print(f"{kind.name:<15} {name:<15} " + " ".join(cells) + f"   {worst:10.5f}")
        sys.stdout.flush()
    print(f"worst seconds per KB over all kinds and steps: {worst_overall:.5f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
