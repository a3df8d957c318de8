"""Demo-corpus commands."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click

from labeling.settings import Settings


@click.command("demo-corpus")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write Maildir/ and truth.jsonl into. Default: INSTANCE/demo-corpus.",
)
@click.option(
    "--count",
    type=click.IntRange(min=0),
    default=2400,
    show_default=True,
    help="Archived mails, filed in one Maildir folder per team.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same bytes.")
@click.option(
    "--inbox",
    "inbox_count",
    type=click.IntRange(min=0),
    default=300,
    show_default=True,
    help="Unsorted mails in the inbox (the Maildir root) for the worker to route.",
)
@click.option("--force", is_flag=True, help="Replace a corpus already in --out.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: when stderr is a terminal).",
)
@click.pass_obj
def demo_corpus(
    settings: Settings,
    out: Path | None,
    count: int,
    seed: int,
    inbox_count: int,
    force: bool,
    progress: bool | None,
) -> None:
    """Generate the synthetic mailbox of the invented insurer Polderzeker: a Maildir tree
    with one folder per team (archived mail) plus an unsorted inbox, and truth.jsonl with
    the true team of every mail. Mostly Dutch, some English; deterministic per seed."""
    from data import TEAMS_FILE
    from data.demo_corpus import generate
    from labeling.store.teams import load_teams_file

    target = out if out is not None else settings.instance_path / "demo-corpus"
    show = sys.stderr.isatty() if progress is None else progress
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        advance: Callable[[int, int], None] | None = None
        if show:
            bar = stack.enter_context(
                click.progressbar(length=count + inbox_count, label="generating", file=sys.stderr)
            )

            def update(done: int, total: int) -> None:
                bar.update(done - bar.pos)

            advance = update

        try:
            summary = generate(
                target,
                load_teams_file(TEAMS_FILE),
                count=count,
                seed=seed,
                inbox_count=inbox_count,
                overwrite=force,
                progress=advance,
            )
        except FileExistsError as exc:
            raise click.ClickException(f"{exc}; use --force to replace it") from None
    click.echo(summary.format())
    click.echo(f"generated in {time.perf_counter() - started:.1f} s")


commands: list[click.Command] = [demo_corpus]
"""Subcommands of ``mailroom``, one module per area; each module exposes ``commands``."""
