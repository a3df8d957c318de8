"""A live mail's life: its route states and what each transition records
(:mod:`.lifecycle`), people's review decisions (:mod:`.review`), and the figures of live
mail for the dashboard and ``/metrics`` (:mod:`.stats`)."""
