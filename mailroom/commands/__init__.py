"""Subcommands of ``mailroom``, one module per area; each module exposes ``commands``."""
