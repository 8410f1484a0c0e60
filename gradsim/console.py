"""The ``gradsim`` command's entry point (and ``python -m gradsim``'s): every BLAS asked for
one thread while NumPy has not loaded yet (``threads.one_thread_at_load``), then the CLI.

Here, and not in ``gradsim.cli``, so that importing the CLI (a test, a notebook) changes no
environment: only the command does, for itself and the sweep workers it forks.
"""

from __future__ import annotations


def main() -> None:
    from gradsim.threads import one_thread_at_load

    one_thread_at_load()  # (this module imports nothing that loads NumPy)
    from gradsim.cli import main as cli_main

    cli_main()
