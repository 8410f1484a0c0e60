"""The one exception type that reaches users as a single line and exit code 2."""

from __future__ import annotations

import difflib


class GradsimError(ValueError):
    """A problem with the user's input, worded for the user: one line, no traceback."""


# how alike (difflib's ratio) an unknown name and a known one must be for "did you mean":
# 'relu6' and 'reluu' → relu (0.89), 'sigmod' → sigmoid (0.92); 'mish' and 'swish' (0.67)
# are different functions, so 'mish' lists the choices instead
CLOSE_ENOUGH = 0.75


def unknown_name(kind: str, name: str, choices) -> GradsimError:
    """An error for an unknown registry name that suggests the closest known one if it is
    close (``CLOSE_ENOUGH``), else lists the choices."""
    choices = sorted(choices)
    key = str(name).strip().lower().replace("-", "_")
    close = difflib.get_close_matches(key, choices, n=1, cutoff=CLOSE_ENOUGH)
    hint = f"; did you mean '{close[0]}'?" if close else f" (choose from {', '.join(choices)})"
    return GradsimError(f"unknown {kind} '{name}'{hint}")
