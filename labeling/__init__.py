"""The mail store and the human labels.

Models, MIME normalising, archive importers, the labelling queue, agreement statistics and
training-set export. This package imports nothing else of Mailroom's; every other package
may import it (settings and errors live here for that reason).
"""
