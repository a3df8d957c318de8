"""Label commands: export the training set, group near-duplicate mail.

Each command parses its arguments, calls one function of ``labeling`` and prints the result;
errors are :class:`MailroomError`, which the ``mailroom`` group prints as one line.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from labeling.settings import Settings
from labeling.store.db import open_database

if TYPE_CHECKING:
    from labeling.annotation.export import ExportFormat


@click.command("export")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="File to write (replaced if it exists).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default=None,
    help="File format. Default: from the file's suffix (.csv), else jsonl.",
)
@click.option(
    "--include-weak",
    is_flag=True,
    help="Also export mail labelled only by its archive folder (weak labels).",
)
@click.option(
    "--exclude-archived-teams",
    is_flag=True,
    help="Leave out mail whose label is a team that has been archived.",
)
@click.pass_obj
def export_command(
    settings: Settings,
    out: Path,
    fmt: str | None,
    include_weak: bool,
    exclude_archived_teams: bool,
) -> None:
    """Write the labelled training set: one mail per line with its team, the source that
    decided it (and every source that agrees), its near-duplicate group and its split.

    A mail's label: an adjudication, else the majority of people's labels (ties wait for
    an adjudication), else a reviewer's label, else (with --include-weak) its archive folder.
    """
    from classifier.arguments import from_settings
    from labeling.annotation.export import (
        dataset_hash,
        training_examples,
        training_splits,
        write_examples,
    )
    from labeling.store.db import session_scope

    chosen = cast("ExportFormat", fmt or ("csv" if out.suffix.lower() == ".csv" else "jsonl"))
    with open_database(settings) as sessions, session_scope(sessions) as session:
        examples = training_examples(
            session,
            include_weak=include_weak,
            exclude_archived_teams=exclude_archived_teams,
            pseudonymiser=settings.pseudonymiser(),
        )
    args = from_settings(settings)
    # The split column says where a training run (without a verified sample) puts each mail.
    splits = training_splits(examples, validation_share=args.validation_share, seed=args.seed)
    written = write_examples(examples, out, chosen, splits=splits)
    click.echo(f"{out}: {written} labelled mails ({chosen})")
    parts = Counter(splits.values())
    click.echo(
        f"  split: {parts['train']} train, {parts['validation']} validation, "
        f"{parts['holdout']} frozen holdout"
    )
    for label, number in sorted(Counter(e.label for e in examples).items()):
        click.echo(f"  {label:<24} {number:>6}")
    click.echo(f"dataset hash {dataset_hash(examples)}")


@click.command("group-duplicates")
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.8,
    show_default=True,
    help="How similar (Jaccard of word shingles) two mails must be to share a group.",
)
@click.option(
    "--num-perm",
    type=click.IntRange(16, 1024),
    default=128,
    show_default=True,
    help="MinHash permutations: more is more precise and slower.",
)
@click.pass_obj
def group_duplicates_command(settings: Settings, threshold: float, num_perm: int) -> None:
    """Group near-duplicate archive mail (newsletters, auto-replies, repeats) so a
    labeller can label a whole group at once. Safe to run again after an import."""
    from labeling.annotation.neardup import group_near_duplicates
    from labeling.store.db import session_scope

    with open_database(settings) as sessions, session_scope(sessions) as session:
        summary = group_near_duplicates(session, threshold=threshold, num_perm=num_perm)
    click.echo(
        f"{summary.messages} mails compared in {summary.seconds:.1f} s: "
        f"{summary.groups} groups holding {summary.grouped} mails "
        f"({summary.changed} changed)"
    )


commands: list[click.Command] = [export_command, group_duplicates_command]
