"""What if? A state, gate or head changed at step t, the edited run compared step by step with the baseline.

``compare`` (module ``compare``) compares two runs already made; the edits engine (``Edit``, ``what_if``) joins
here and extends this module.
"""
from .compare import Comparison, compare

__all__ = ["Comparison", "compare"]
