"""The worker: watch live mailboxes, route each mail, forward it, retry — losing nothing.

Modules (nothing happens at import; ``worker.app`` alone builds an app from MAILROOM_*):

- :mod:`worker.celery_app` — ``make_celery(settings)``: broker, reliability settings, beat.
- :mod:`worker.app` — the module ``celery -A worker.app worker`` loads.
- :mod:`worker.tasks` — ``route_message``, ``forward_message`` (for the review UI) and
  ``sweep``; each takes a message id.
- :mod:`worker.driver` — the state machine over ``messages.route_state``.
- :mod:`worker.routing` — the pure routing decision (thread affinity, model, review).
- :mod:`worker.watchers` — IMAP (IDLE or polling) and Maildir watchers, one per mailbox.
- :mod:`worker.outgoing` — SMTP forward, IMAP move, Maildir delivery, marking done.
- :mod:`worker.leases`, :mod:`worker.model_cache`, :mod:`worker.runtime` — support.
"""
