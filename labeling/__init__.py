"""The mail store and everything recorded in it: mail, people's labels, a live mail's life.

Subpackages, each with one concern:

- :mod:`labeling.store` — the tables, database sessions and migrations, putting mail in
  (deduplication, quarantine, threads), and the people and teams admins manage.
- :mod:`labeling.mail` — reading mail: MIME parsing and normalising, quote splitting, the
  text the model reads (pure functions, no I/O).
- :mod:`labeling.importers` — sources of archived mail (mbox, .eml, Maildir, IMAP) and the
  import run that puts them into the store, with weak labels from their folders.
- :mod:`labeling.annotation` — what people say about archive mail: the labelling queue,
  agreement and adjudication, near-duplicate groups, and the training set built from labels.
- :mod:`labeling.live` — a live mail's life: its route states and what each transition
  records, people's review decisions, and the figures of live mail.

:mod:`labeling.settings` and :mod:`labeling.errors` are the foundation every package uses.
This package imports nothing else of Mailroom's; every other package may import it.
"""
