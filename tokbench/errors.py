"""The one exception type that means "the user gave us something we cannot use".

Every face turns a `TokbenchError` into a single line on stderr and exit status 2; anything else is a bug.
"""

from __future__ import annotations


class TokbenchError(Exception):
    """A problem with the user's input or environment, explained in one line."""
