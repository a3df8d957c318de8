"""``mailroom demo``: everything on the embedded default, from nothing to a running product.

Steps (each skipped when already done, so a second run starts in seconds):
database → teams → demo corpus → import the archive → weak labels from its folders →
near-duplicate groups → demo users → train a model (progress bar) → route the demo inbox
(worker) → serve the web app until Ctrl-C.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from labeling.mailtypes import RawMail
from labeling.settings import Settings

DEMO_PASSWORD = "mailroom-demo"
DEMO_USERS = (("admin", "admin"), ("lisa", "labeler"), ("rob", "reviewer"))


class ArchiveFolders:
    """The demo corpus' team folders as one import source; its root (the unsorted inbox)
    is left out, because that mail arrives live and the worker routes it."""

    def __init__(self, root: Path) -> None:
        from labeling.importers.maildir import MaildirSource

        self._source = MaildirSource(root)
        self.description = f"{root} (team folders)"

    def count(self) -> int:
        return sum(1 for _ in self._files())

    def _files(self) -> Iterator[Path]:
        for folder, path in self._source.folders():
            if folder:
                for sub in ("new", "cur"):
                    yield from (p for p in (path / sub).iterdir() if p.is_file())

    def __iter__(self) -> Iterator[RawMail]:
        return (mail for mail in self._source if mail.folder)


def deliver_inbox(corpus_root: Path, inbox: Path) -> int:
    """Copy the corpus' unsorted mails into the live Maildir inbox (new/), once."""
    import mailbox

    inbox.parent.mkdir(parents=True, exist_ok=True)
    live = mailbox.Maildir(inbox, create=True)
    known = {key for key in live.iterkeys()}
    count = 0
    for sub in ("new", "cur"):
        for path in sorted((corpus_root / sub).iterdir()):
            key = path.name.split(":")[0]
            if key in known:
                continue
            target = inbox / "new" / key
            target.write_bytes(path.read_bytes())
            count += 1
    return count


@contextmanager
def step(title: str) -> Iterator[None]:
    click.secho(f"==> {title}", bold=True, err=True)
    started = time.perf_counter()
    yield
    click.echo(f"    done in {time.perf_counter() - started:.1f} s", err=True)


def prepare(
    settings: Settings,
    *,
    count: int,
    inbox: int,
    model: str,
    time_budget: float,
    epochs: int,
    progress: bool,
) -> dict[str, object]:
    """Run every step up to (not including) the worker and the web server."""
    from classifier.pipeline import PipelineArguments
    from classifier.registry import Registry
    from classifier.store_training import train_from_store
    from classifier.training import TrainingArguments
    from data.demo_corpus import generate
    from data.teams import load_teams
    from labeling.db import open_database, session_scope, upgrade
    from labeling.importing import label_from_folders, run_import
    from labeling.models import User
    from labeling.neardup import group_near_duplicates
    from labeling.teams import sync_teams
    from mailroom.commands.store import team_definitions
    from web.roster import create_user

    facts: dict[str, object] = {}
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    with step("database schema"):
        upgrade(settings)
    teams = load_teams()
    with open_database(settings) as sessions:
        with step("teams"), session_scope(sessions) as session:
            sync_teams(session, team_definitions(teams))
        corpus = settings.instance_path / "demo-corpus"
        with step(f"demo corpus ({count} archived + {inbox} inbox mails)"):
            if (corpus / "truth.jsonl").exists():
                click.echo(f"    already there: {corpus}", err=True)
            else:
                generate(corpus, count=count, inbox_count=inbox)
        with step("import the archive (the team folders; the inbox is live mail)"):
            summary = run_import(sessions, ArchiveFolders(corpus / "Maildir"), progress=progress)
            click.echo(
                f"    imported {summary.imported}, duplicates {summary.duplicates}, "
                f"quarantined {summary.quarantined}",
                err=True,
            )
            facts["import"] = summary
        with step("weak labels from the archive folders"), session_scope(sessions) as session:
            weak = label_from_folders(session, {team.folder: team.slug for team in teams})
            labelled = sum(f.labelled for f in weak.folders)
            click.echo(
                f"    {labelled} mails weakly labelled from {len(weak.folders)} folders", err=True
            )
        with step("deliver the demo inbox to the live Maildir inbox"):
            delivered = deliver_inbox(corpus / "Maildir", settings.maildir_inbox)
            click.echo(f"    {delivered} new mails in {settings.maildir_inbox}", err=True)
        with step("near-duplicate groups"), session_scope(sessions) as session:
            grouping = group_near_duplicates(session)
            click.echo(
                f"    {grouping.grouped} mails in {grouping.groups} near-duplicate groups",
                err=True,
            )
        with step("demo users"), session_scope(sessions) as session:
            for username, role in DEMO_USERS:
                if session.query(User).filter_by(username=username).first() is None:
                    create_user(session, username, DEMO_PASSWORD, role)
        registry = Registry(settings.models_path)
        with step(f"train a model ({model}, at most {time_budget:.0f} s of fine-tuning)"):
            if registry.active_version():
                click.echo(f"    model {registry.active_version()} is already active", err=True)
            else:
                args = PipelineArguments(
                    base_model=model,
                    training=TrainingArguments(epochs=epochs, max_train_seconds=time_budget),
                    target_precision=settings.target_precision,
                    min_examples_for_transformer=settings.min_labels_for_transformer,
                )
                outcome = train_from_store(settings, args, include_weak=True, progress=progress)
                click.echo(
                    f"    {outcome.version}: holdout accuracy "
                    f"{outcome.holdout.get('accuracy', 0):.3f} "
                    f"(TF-IDF {outcome.baseline_holdout.get('accuracy', 0):.3f}); {outcome.reason}",
                    err=True,
                )
                facts["model"] = outcome
    return facts


@click.command("demo")
@click.option("--count", type=int, default=2400, show_default=True, help="Archived mails.")
@click.option("--inbox", type=int, default=300, show_default=True, help="Unsorted inbox mails.")
@click.option("--model", default=None, help="Base encoder (default: MAILROOM_MODEL).")
@click.option(
    "--time-budget", type=float, default=300, show_default=True, help="Seconds of fine-tuning."
)
@click.option("--epochs", type=int, default=4, show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--no-serve", is_flag=True, help="Prepare everything, then stop (for CI).")
@click.pass_obj
def demo(
    settings: Settings,
    count: int,
    inbox: int,
    model: str | None,
    time_budget: float,
    epochs: int,
    port: int,
    no_serve: bool,
) -> None:
    """Set up and run the whole product on the embedded default (no servers needed)."""
    started = time.perf_counter()
    prepare(
        settings,
        count=count,
        inbox=inbox,
        model=model or settings.model,
        time_budget=time_budget,
        epochs=epochs,
        progress=sys.stderr.isatty(),
    )
    click.secho(f"ready in {time.perf_counter() - started:.0f} s", fg="green", err=True)
    users = ", ".join(f"{u} ({r})" for u, r in DEMO_USERS)
    click.echo(f"demo logins: {users}; password {DEMO_PASSWORD}")
    if no_serve:
        return
    from waitress import serve

    from web import create_app

    click.echo(f"open http://127.0.0.1:{port}/  (Ctrl-C stops)")
    serve(create_app(settings), host="127.0.0.1", port=port, threads=4)


commands: list[click.Command] = [demo]
