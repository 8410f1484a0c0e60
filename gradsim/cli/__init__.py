"""The ``gradsim`` command: a click group (``group.cli``) whose commands stay thin (parse →
the library's call → one renderer), one module each; importing this package registers them.
"""

from gradsim.cli import compare, explore, list_cmd, plot, run, sweep, theory, train
from gradsim.cli.group import cli


def main() -> None:
    cli()


__all__ = [
    "cli",
    "compare",
    "explore",
    "list_cmd",
    "main",
    "plot",
    "run",
    "sweep",
    "theory",
    "train",
]
