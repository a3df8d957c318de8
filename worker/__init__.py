"""The worker: watch live mailboxes, drive each mail through its life, forward it, retry —
losing nothing.

Modules (nothing happens at import; ``worker.celery`` builds its app on first request):

- :mod:`worker.celery` — ``make_celery(settings)``: broker, reliability settings, beat,
  the mailbox watchers; the module ``celery -A worker`` loads.
- :mod:`worker.enqueue` — queueing tasks by name (what the web app uses: no tasks, no model).
- :mod:`worker.tasks` — ``route_message``, ``forward_message`` (for the review UI),
  ``sweep`` and ``retrain_if_due``; each takes a message id.
- :mod:`worker.driver` — the I/O between a mail's transitions (classify, send, mark);
  the transitions themselves are :mod:`labeling.live.lifecycle`'s.
- :mod:`worker.routing` — the pure routing decision (thread affinity, model, review).
- :mod:`worker.watchers` — IMAP (IDLE or polling) and Maildir watchers, one per mailbox.
- :mod:`worker.outgoing` — SMTP forward, IMAP move, Maildir delivery, marking done.
- :mod:`worker.leases`, :mod:`worker.model_cache`, :mod:`worker.runtime` — support.
"""
