"""The private real servers for benchmarks, tests and screenshots: plain code, no pytest.

Each starts its server on 127.0.0.1 and a free port, in a folder of its own, and stops it
when the ``with`` block ends; nothing here touches a shared server or the internet.

- :mod:`~mailroom.testbed.dovecot_server`: a private Dovecot IMAP server (needs root and
  Debian's ``dovecot-imapd``).
- :mod:`~mailroom.testbed.smtp_server`: an aiosmtpd server that records what it accepted.
- :mod:`~mailroom.testbed.tcp_proxy`: a loopback proxy that cuts connections on demand.
- :mod:`~mailroom.testbed.mail_factory`: varied, deterministic mails to load into a server.
- :mod:`~mailroom.testbed.worker_stack`: the worker end to end (teams and their mail, a
  tiny trained model, worker processes and what they did).
- :mod:`~mailroom.testbed.browser`: the web app on a real HTTP server, and Debian's
  Chromium driven headless through Playwright.
- :mod:`~mailroom.testbed.seeded_archive`: a store seeded with teams, users and a small
  labelling archive.

aiosmtpd and playwright come with the ``dev`` extras (``pip install -e '.[dev]'``); the
product never imports this package (``mailroom bench-pipeline`` runs a benchmark script
that does).
"""
