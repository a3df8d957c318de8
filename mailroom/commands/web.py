"""Web commands: ``mailroom serve`` (the labelling web app) and ``mailroom create-user``."""

from __future__ import annotations

import sys

import click

from labeling.settings import Settings

ROLES = ("admin", "labeler", "reviewer")
# Both spellings of the labelling role are accepted (the UI and docs write "labeller").
SPELLINGS = {"labeller": "labeler"}


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--insecure-cookies",
    is_flag=True,
    help="Send the session cookie over plain HTTP too. Only for a trusted network without "
    "TLS; browsers already accept secure cookies from 127.0.0.1/localhost.",
)
@click.pass_obj
def serve(settings: Settings, host: str, port: int, threads: int, insecure_cookies: bool) -> None:
    """Run the web app (labelling, agreement, admin) with waitress, a production server.

    For development with reloading use `flask --app web run --debug`.
    """
    from waitress import serve as waitress_serve

    from web import create_app

    config = {"SESSION_COOKIE_SECURE": False} if insecure_cookies else None
    app = create_app(settings, config=config)
    click.echo(f"Mailroom on http://{host}:{port}/  (Ctrl+C stops it)")
    waitress_serve(app, host=host, port=port, threads=threads, ident="mailroom")


@click.command("create-user")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice((*ROLES, *SPELLINGS), case_sensitive=False),
    required=True,
    help="What the user may do (labeller or labeler: the same role).",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)
@click.pass_obj
def create_user(settings: Settings, username: str, role: str, password_stdin: bool) -> None:
    """Create a user who can log in to the web app; asks for the password."""
    role = SPELLINGS.get(role.lower(), role.lower())
    from labeling.store.db import open_database, session_scope
    from labeling.store.people import create_user as add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with open_database(settings) as sessions, session_scope(sessions) as session:
        user = add_user(session, username, password, role)
        name, role = user.username, user.role
    click.echo(f"user {name} ({role}) created")


commands: list[click.Command] = [serve, create_user]
