"""Rule commands: ``mailroom rules list|add|test|import`` (admin rules tried before the model,
see docs/rules.md).

Each command parses its arguments, calls :mod:`labeling.rules.store` and prints the result;
errors are :class:`MailroomError`, which the ``mailroom`` group prints as one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from labeling.errors import RuleError
from labeling.mail.hygiene import KINDS
from labeling.settings import Settings
from labeling.store.db import open_database, session_scope
from labeling.store.tables import RULE_ACTIONS, RULE_PRIORITIES


@click.group("rules")
def rules_group() -> None:
    """Admin rules: tried in order before the model (route, review, priority, no-auto)."""


@rules_group.command("list")
@click.pass_obj
def rules_list(settings: Settings) -> None:
    """List the rules in the order they are tried."""
    from labeling.rules.store import list_rules

    with open_database(settings) as sessions, session_scope(sessions) as session:
        rules = list_rules(session)
    if not rules:
        click.echo("no rules yet; add one with `mailroom rules add` or `mailroom rules import`")
        return
    for rule in rules:
        state = "on " if rule.enabled else "off"
        what = rule.action
        if rule.team:
            what += f" -> {rule.team}"
        if rule.priority:
            what += f" {rule.priority}"
        click.echo(f"{rule.position:>3}. [{state}] {rule.name!r}: {what}")
        click.echo(f"       when {rule.conditions.describe()}")
        if rule.note:
            click.echo(f"       note: {rule.note}")


def _condition_options(function: Any) -> Any:
    options = [
        click.option("--sender", multiple=True, help="Sender address or domain (repeatable)."),
        click.option("--recipient", multiple=True, help="Recipient mailbox or domain."),
        click.option("--subject", multiple=True, help="Phrase in the subject (word*: prefix)."),
        click.option("--body", multiple=True, help="Phrase in the body."),
        click.option("--text", multiple=True, help="Phrase in the subject or the body."),
        click.option("--header", multiple=True, help='NAME=PHRASE ("*": the header is present).'),
        click.option("--attachment", multiple=True, help="Extension (pdf) or content type."),
        click.option("--language", multiple=True, help="Language code (nl, en)."),
        click.option(
            "--flag", multiple=True, type=click.Choice(["urgent", "churn"]), help="Cue flag."
        ),
        click.option(
            "--kind",
            multiple=True,
            type=click.Choice(KINDS),
            help="Mail kind of the hygiene filter (bulk: newsletters and lists).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _conditions(values: dict[str, Sequence[str]]) -> dict[str, Any]:
    when: dict[str, Any] = {k: list(v) for k, v in values.items() if k != "header" and v}
    headers = {}
    for pair in values.get("header") or ():
        name, sep, phrase = pair.partition("=")
        if not sep:
            raise RuleError(f"--header {pair!r}: write NAME=PHRASE")
        headers[name.strip()] = phrase.strip()
    if headers:
        when["header"] = headers
    return when


def _print_dry_run(dry: Any) -> None:
    click.echo(f"{dry.summary()} ({dry.seconds:.1f} s)")
    for slug, count in dry.by_label.items():
        click.echo(f"  {dry.team_names.get(slug, slug):<24} {count:>6}")
    if dry.sample:
        click.echo("  e.g. message " + ", ".join(str(i) for i in dry.sample[:10]))


@rules_group.command("add")
@click.option("--name", required=True, help="The rule's name (unique).")
@click.option("--action", type=click.Choice(RULE_ACTIONS), required=True)
@click.option("--team", help="Team slug ('route').")
@click.option("--priority", type=click.Choice(RULE_PRIORITIES), help="Priority ('priority').")
@click.option("--note", default="", help="Why the rule exists.")
@click.option("--position", type=click.IntRange(1), help="Place in the order (default: last).")
@click.option("--disabled", is_flag=True, help="Save it switched off.")
@click.option("--no-dry-run", is_flag=True, help="Save without trying it on the archive first.")
@_condition_options
@click.pass_obj
def rules_add(
    settings: Settings,
    name: str,
    action: str,
    team: str | None,
    priority: str | None,
    note: str,
    position: int | None,
    disabled: bool,
    no_dry_run: bool,
    **conditions: Sequence[str],
) -> None:
    """Add a rule. It is tried on the archive first and the result shown."""
    from labeling.rules.matching import Conditions, RuleSpec
    from labeling.rules.store import create_rule, dry_run

    spec = RuleSpec(
        name=name,
        action=action,
        team=team,
        priority=priority,
        note=note,
        enabled=not disabled,
        conditions=Conditions.from_mapping(_conditions(conditions)),
    )
    with open_database(settings) as sessions, session_scope(sessions) as session:
        if not no_dry_run:
            _print_dry_run(dry_run(session, spec))
        row = create_rule(session, spec, position=position)
        click.echo(f"rule {row.name!r} saved at position {row.position}")


@rules_group.command("test")
@click.option("--name", "saved", help="Try a saved rule by its name.")
@click.option("--limit", type=click.IntRange(1), help="Only the newest N archive mails.")
@_condition_options
@click.pass_obj
def rules_test(
    settings: Settings, saved: str | None, limit: int | None, **conditions: Sequence[str]
) -> None:
    """Try conditions (or a saved rule) on the archive without saving anything:
    "matches 212 mails; 96 % of the labelled ones are labelled Schade"."""
    from labeling.rules.matching import Conditions
    from labeling.rules.store import dry_run, list_rules

    with open_database(settings) as sessions, session_scope(sessions) as session:
        if saved:
            found = [rule for rule in list_rules(session) if rule.name == saved]
            if not found:
                raise RuleError(f"no rule named {saved!r}; see `mailroom rules list`")
            when = found[0].conditions
        else:
            when = Conditions.from_mapping(_conditions(conditions))
            if not when:
                raise RuleError("give a condition (--sender, --subject …) or --name")
        _print_dry_run(dry_run(session, when, limit=limit))


@rules_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--replace", "replace_all", is_flag=True, help="Delete the rules the file does not name."
)
@click.pass_obj
def rules_import(settings: Settings, path: Path, replace_all: bool) -> None:
    """Create or update rules from a TOML file of [[rule]] tables (matched by name)."""
    from labeling.rules.store import import_rules, parse_rules_toml

    specs = parse_rules_toml(path.read_text(encoding="utf-8"))
    with open_database(settings) as sessions, session_scope(sessions) as session:
        summary = import_rules(session, specs, replace_all=replace_all)
    click.echo(
        f"rules: {summary.created} created, {summary.updated} updated, {summary.deleted} deleted"
    )


commands: list[click.Command] = [rules_group]
