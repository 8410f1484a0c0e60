"""The ``gradsim`` command: a click group (``group.cli``) whose commands stay thin (parse →
the library's call → one renderer), one module each; importing this package registers them.
"""

from gradsim.threads import one_thread_at_load

one_thread_at_load()  # before NumPy loads (gradsim.threads)

from gradsim.cli import compare, explore, list_cmd, plot, run, sweep, theory, train  # noqa: E402
from gradsim.cli.group import cli  # noqa: E402


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
