"""Messages for people: every problem is reported on one line."""

from __future__ import annotations


def one_line(text: str) -> str:
    """Return ``text`` with its line breaks and runs of white space folded to single spaces.

    Libraries raise multi-line messages (onnxruntime lists every bad dimension on its own
    line); the journal, the dashboard and the log want one line per problem.
    """
    return " ".join(text.split())
