"""The demo corpus the project generates itself, and default settings.

* :mod:`data.teams` -- the teams (``teams.toml``) as :class:`data.teams.TeamSpec` values;
* :mod:`data.demo_corpus` -- :func:`data.demo_corpus.generate`, the seeded generator of a
  synthetic Dutch insurer's mailbox (Maildir + ``truth.jsonl``);
* :mod:`data.corpus_reader` -- reading a generated corpus back for evaluation;
* :mod:`data.compose`, :mod:`data.mime_build`, :mod:`data.slots` and the handwritten
  phrasebooks :mod:`data.phrasebook_nl` / :mod:`data.phrasebook_en` -- the generator's parts.
"""
