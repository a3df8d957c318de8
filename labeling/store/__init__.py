"""The mail store: tables (:mod:`.tables`), database sessions and migrations (:mod:`.db`),
putting mail in (:mod:`.ingest`), and the teams (:mod:`.teams`) and people
(:mod:`.people`) admins manage."""
