"""The Celery app and tasks: watch mailboxes, route each mail, forward it, retry."""
