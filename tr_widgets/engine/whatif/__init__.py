"""What if? A state, gate or head changed at step t, the edited run compared step by step with the baseline.

``compare`` (module ``compare``) compares two runs already made. The edits engine: ``Edit`` (``edits``), the
one table of what each trace kind can take (``targets``: ``recurrent`` with ``forced``, ``loops``, ``heads``,
``states``), how edits are installed and removed (``apply``), and ``what_if`` (``run``), which records a run
without and with the edits.
"""
from .compare import Comparison, compare
from .edits import Edit
from .run import what_if

__all__ = ["Comparison", "Edit", "compare", "what_if"]
