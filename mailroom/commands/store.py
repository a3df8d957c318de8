"""Mail-store commands: database, import, weak labels, teams.

Each command parses its arguments, calls one function of ``labeling`` and prints the result;
errors are :class:`MailroomError`, which the ``mailroom`` group prints as one line.
"""

from __future__ import annotations

from pathlib import Path

import click

from labeling.settings import Settings
from labeling.store.db import open_database

# mailroom db ---------------------------------------------------------------------------


@click.group("db")
def db_group() -> None:
    """Create or migrate the database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.pass_obj
def db_upgrade(settings: Settings, revision: str) -> None:
    """Create the schema, or migrate it to the newest version (safe to run again)."""
    from labeling.store.db import current_revision, make_engine, upgrade

    engine = make_engine(settings)
    try:
        before = current_revision(engine)
        after = upgrade(settings, revision, engine=engine)
    finally:
        engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        click.echo(f"database {where} is already at revision {after}")
    else:
        click.echo(f"database {where} migrated from {before or 'empty'} to revision {after}")


@db_group.command("current")
@click.pass_obj
def db_current(settings: Settings) -> None:
    """Show the schema revision of the database and whether it is up to date."""
    from labeling.store.db import current_revision, head_revision, make_engine

    engine = make_engine(settings)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    where = engine.url.render_as_string(hide_password=True)
    if current == head:
        click.echo(f"{where}: revision {current} (up to date)")
    elif current is None:
        click.echo(f"{where}: no schema yet; run `mailroom db upgrade`")
    else:
        click.echo(f"{where}: revision {current}; newest is {head}; run `mailroom db upgrade`")


# mailroom import -------------------------------------------------------------------------


@click.command("import")
@click.argument("source")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: when stderr is a terminal).",
)
@click.pass_obj
def import_command(settings: Settings, source: str, progress: bool | None) -> None:
    """Import mail from SOURCE: an mbox file, a folder of .eml files, a Maildir tree, or
    imap://user@host:port/FOLDER (imaps:// for TLS).

    The IMAP password comes from MAILROOM_IMPORT_PASSWORD (or MAILROOM_IMPORT_PASSWORD_FILE)
    or is asked for: a password on the command line is readable by every local user (ps).
    Mails already in the store are skipped, mails that cannot be parsed are kept as
    quarantined, and an interrupted IMAP import resumes where it stopped.
    """
    from labeling.imap import lacks_password, with_password
    from labeling.importers.run import run_import

    if lacks_password(source):
        password = settings.import_password
        if password is None:
            password = click.prompt("IMAP password", hide_input=True, err=True)
        source = with_password(source, password)

    with open_database(settings) as sessions:
        summary = run_import(
            sessions,
            source,
            batch_size=settings.import_batch_size,
            progress=progress,
            max_mail_bytes=settings.max_mail_bytes,
        )

    click.echo(f"{summary.source}: {summary.total} mails in {summary.seconds:.1f} s")
    click.echo(
        f"  imported {summary.imported}, duplicates {summary.duplicates}, "
        f"quarantined {summary.quarantined}"
    )
    if summary.erased:
        click.echo(f"  not stored again (mail of people erased before): {summary.erased}")
    if summary.message_id_reused:
        click.echo(
            f"  {summary.message_id_reused} imported mails reuse the Message-ID of a different "
            "mail: both are kept (flagged 'Message-ID reused')"
        )
    if len(summary.per_folder) > 1 or "" not in summary.per_folder:
        width = max((len(_folder_label(name)) for name in summary.per_folder), default=0)
        for folder, counts in sorted(summary.per_folder.items()):
            click.echo(
                f"  {_folder_label(folder):<{width}}  imported {counts.imported:>6}  "
                f"duplicates {counts.duplicates:>6}  quarantined {counts.quarantined:>4}"
            )
    if summary.quarantine_examples:
        click.echo("quarantined (could not be parsed):")
        for where, reason in summary.quarantine_examples:
            click.echo(f"  {where}: {reason}")
        if summary.quarantined > len(summary.quarantine_examples):
            click.echo(f"  … and {summary.quarantined - len(summary.quarantine_examples)} more")


def _folder_label(folder: str) -> str:
    return folder or "(root)"


# mailroom label-from-folders -------------------------------------------------------------


def _parse_pair(text: str, where: str) -> tuple[str, str]:
    # Split on the last '=': team slugs never hold one, folder names might.
    folder, sep, slug = text.rpartition("=")
    if not sep or not slug.strip():
        raise click.BadParameter(f"expected FOLDER=TEAM, got {text!r}", param_hint=where)
    return folder.strip(), slug.strip()


@click.command("label-from-folders")
@click.option(
    "--map",
    "pairs",
    multiple=True,
    metavar="FOLDER=TEAM",
    help="Label every mail in FOLDER with TEAM (a team slug). Repeat for more folders; "
    "'=TEAM' is the root/inbox folder.",
)
@click.option(
    "--map-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of FOLDER=TEAM lines ('#' starts a comment).",
)
@click.option(
    "--team-folders",
    is_flag=True,
    help="Map each team's own IMAP folder (from `mailroom teams sync`) to that team.",
)
@click.pass_obj
def label_from_folders_command(
    settings: Settings, pairs: tuple[str, ...], map_file: Path | None, team_folders: bool
) -> None:
    """Turn the folder each archived mail was filed in into a weak label for its team.

    The labels (source 'archive-folder') are for people to confirm or correct. Running
    it again adds labels only to mails that have none yet.
    """
    from labeling.importers.run import label_from_folders, team_folder_mapping
    from labeling.store.db import session_scope

    mapping: dict[str, str] = {}
    if map_file is not None:
        for number, line in enumerate(map_file.read_text(encoding="utf-8").splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if line:
                folder, slug = _parse_pair(line, f"{map_file}:{number}")
                mapping[folder] = slug
    for pair in pairs:
        folder, slug = _parse_pair(pair, "--map")
        mapping[folder] = slug

    with open_database(settings) as sessions, session_scope(sessions) as session:
        if team_folders:
            mapping = {**team_folder_mapping(session), **mapping}
        if not mapping:
            raise click.UsageError(
                "nothing to label: give --map FOLDER=TEAM, --map-file or --team-folders"
                + (" (no team's IMAP folder has mail in the store)" if team_folders else "")
            )
        summary = label_from_folders(session, mapping)

    for entry in summary.folders:
        click.echo(
            f"{_folder_label(entry.folder)} -> {entry.team}: {entry.labelled} labelled, "
            f"{entry.already_labelled} already labelled ({entry.messages} mails)"
        )
    click.echo(f"total: {summary.labelled} labelled, {summary.already_labelled} already labelled")


# mailroom teams ----------------------------------------------------------------------------


@click.group("teams")
def teams_group() -> None:
    """Manage the teams mail is routed to."""


@teams_group.command("sync")
@click.option(
    "--file",
    "teams_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Teams file (TOML, [[team]] tables). Default: the bundled data/teams.toml.",
)
@click.pass_obj
def teams_sync(settings: Settings, teams_file: Path | None) -> None:
    """Create or update the teams from a teams file (matched by slug)."""
    from data import TEAMS_FILE
    from labeling.store.db import session_scope
    from labeling.store.teams import load_teams_file, sync_teams

    definitions = load_teams_file(teams_file or TEAMS_FILE)
    with open_database(settings) as sessions, session_scope(sessions) as session:
        summary = sync_teams(session, definitions, reserved=settings.own_addresses())
    click.echo(
        f"teams: {len(summary.created)} created, {len(summary.updated)} updated, "
        f"{len(summary.unchanged)} unchanged"
    )
    if summary.not_in_specs:
        left = ", ".join(summary.not_in_specs)
        click.echo(f"in the store but not in the file (left alone): {left}")


@teams_group.command("list")
@click.pass_obj
def teams_list(settings: Settings) -> None:
    """List the teams with their hotkey, folder, forwarding address and label count."""
    from labeling.store.db import session_scope
    from labeling.store.teams import team_overview

    with open_database(settings) as sessions, session_scope(sessions) as session:
        rows = team_overview(session)
    if not rows:
        click.echo("no teams yet; run `mailroom teams sync`")
        return
    for row in rows:
        team = row.team
        archived = "  (archived)" if team.archived_at is not None else ""
        click.echo(
            f"[{team.hotkey or '-'}] {team.slug:<20} {team.name:<24} "
            f"folder {team.imap_folder or '-':<18} "
            f"-> {team.forward_address or '-'}  labels {row.by_person} by a person, "
            f"{row.from_folders} from folders{archived}"
        )


commands: list[click.Command] = [
    db_group,
    import_command,
    label_from_folders_command,
    teams_group,
]
