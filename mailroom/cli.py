"""``mailroom``: one console entry point with a subcommand per task.

Settings are loaded once here and handed to each command through the click context
(``ctx.obj``); a bad setting ends the run with the message from :class:`ConfigError`.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from labeling.errors import MailroomError
from labeling.settings import Settings, load_settings

# Modules under mailroom.commands, each exposing ``commands: list[click.Command]``.
# Imported only when the CLI runs, so no command's heavy imports happen at import time.
COMMAND_MODULES = (
    "store",
    "corpus",
    "web",
    "labels",
    "models",
    "demo",
    "worker",
    "privacy",
    "rules",
)


class MailroomGroup(click.Group):
    """A group that turns our errors into a clean one-line message and exit code 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except MailroomError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(1)


@click.group(cls=MailroomGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Mailroom routes incoming mail to the right team.

    Settings come from MAILROOM_* environment variables (see `mailroom settings`).
    """
    if ctx.obj is None:
        ctx.obj = load_settings()
    settings: Settings = ctx.obj
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")


@cli.command("settings")
@click.pass_obj
def show_settings(settings: Settings) -> None:
    """Show every setting, its current value and what it does."""
    from labeling.settings import SECRET_FIELDS, masked, settings_table

    for variable, default, description in settings_table():
        name = variable.removeprefix("MAILROOM_").lower()
        current = masked(name, getattr(settings, name))
        also = f" (or {variable}_FILE)" if name in SECRET_FIELDS else ""
        click.echo(f"{variable}{also} = {current}  (default {default})\n    {description}")


def register_commands() -> None:
    """Add every command module's commands to the group (idempotent; tests call it too)."""
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"mailroom.commands.{name}")
        for command in module.commands:
            cli.add_command(command)


def main() -> None:
    register_commands()
    try:
        cli.main(prog_name="mailroom")
    except MailroomError as exc:  # raised while loading settings, before a command runs
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
