"""The one shared rich Console, and the 80-column rendering used for files."""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

# rich is imported when something is printed, not when the CLI starts (`gradsim --help`)


def console() -> Console:
    from rich.console import Console

    # created per call so CliRunner's captured stdout is honoured
    return Console(highlight=False, soft_wrap=False)


def render_text(renderable, width: int = 80) -> str:
    """Plain text (no colour codes) of a renderable, for --output files."""
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, color_system=None, highlight=False).print(
        renderable
    )
    return buf.getvalue()


def show_progress(flag: bool | None) -> bool:
    """--progress/--no-progress, or by default: on a terminal (stderr), not in CI."""
    if flag is not None:
        return flag
    from rich.console import Console

    return Console(stderr=True).is_terminal and not os.environ.get("CI")
