"""Admin rules, tried before the model: :mod:`.matching` (pure: conditions, actions, which
rules a mail meets) and :mod:`.store` (the ``rules`` table, TOML, the dry run)."""
