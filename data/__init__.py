"""The demo corpus the project generates itself, and the demo insurer's teams.

* :data:`TEAMS_FILE` -- ``teams.toml``, the demo insurer's teams (read with
  ``labeling.store.teams.load_teams_file``, the one reader of teams files);
* :mod:`data.demo_corpus` -- :func:`data.demo_corpus.generate`, the seeded generator of a
  synthetic Dutch insurer's mailbox (Maildir + ``truth.jsonl``);
* :mod:`data.corpus_reader` -- reading a generated corpus back for evaluation;
* :mod:`data.compose`, :mod:`data.mime_build`, :mod:`data.slots` and the handwritten
  phrasebooks :mod:`data.phrasebook_nl` / :mod:`data.phrasebook_en` -- the generator's parts.

This package imports nothing else of Mailroom's.
"""

from pathlib import Path

TEAMS_FILE = Path(__file__).resolve().with_name("teams.toml")
