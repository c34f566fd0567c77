"""The one base class of the errors a user can act on; the CLI and the dashboard catch it.

Every domain error subclasses :class:`LeaktraceError` and says in one line what went
wrong and what to try. Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class LeaktraceError(Exception):
    """An error to show as one line, without a traceback."""
