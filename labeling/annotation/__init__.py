"""What people say about archive mail: the labelling queue (:mod:`.queue`), agreement and
adjudication (:mod:`.agreement`), near-duplicate groups (:mod:`.neardup`), and the training
set built from the labels (:mod:`.export`)."""
