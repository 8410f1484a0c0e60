"""The one exception type that reaches users as a single line and exit code 2."""

from __future__ import annotations

import difflib


class GradsimError(ValueError):
    """A problem with the user's input, worded for the user: one line, no traceback."""


def unknown_name(kind: str, name: str, choices) -> GradsimError:
    """An error for an unknown registry name that suggests the closest known one."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else f" (choose from {', '.join(choices)})"
    return GradsimError(f"unknown {kind} '{name}'{hint}")
