"""Reading mail: raw bytes to a normalised mail (:mod:`.mime`), the sender's new text apart
from quotes and signature (:mod:`.quotes`), and the values that cross package boundaries
(:mod:`.values`). Pure: no sockets, no sessions."""
