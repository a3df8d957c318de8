"""The names of the files a model version keeps in its folder: written by
:mod:`classifier.registry`, read by :mod:`classifier.router`. A module of its own so that
the two need not import each other."""

ACTIVE_FILE = "active.json"  # in the models folder: which version serves
MANIFEST_FILE = "manifest.json"
TFIDF_FILE = "tfidf.npz"
CENTROIDS_FILE = "centroids.npy"
CALIBRATION_FILE = "calibration.npz"
TRAINED_ON_FILE = "trained_on.npy"
# The learned urgency and churn heads (classifier.flags), one per flag that has one.
FLAG_HEAD_FILES = {"urgent": "flag_urgent.npz", "churn": "flag_churn.npz"}
# The head that tells whether a mail is about its customer's case (classifier.cases).
CASE_HEAD_FILE = "case_head.npz"
# The head that tells whether a reply is about its thread's business (classifier.cases).
THREAD_HEAD_FILE = "thread_head.npz"
