"""The ``gradsim`` click group, on which every command module registers its command. Bad
input reaches the user as one line and exit code 2."""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from pathlib import Path

import click

from gradsim._version import __version__
from gradsim.errors import GradsimError


def _say(text: str) -> None:
    """One line on stderr, even where stderr cannot encode it (PYTHONIOENCODING=ascii)."""
    try:
        click.echo(text, err=True)
    except UnicodeEncodeError:
        click.echo(text.encode("ascii", "replace").decode("ascii"), err=True)
    except OSError:  # stderr itself is closed or full: the exit code says it
        pass


def _quiet_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so that Python's final flush is quiet."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real descriptor (CliRunner)
        pass


def _message(e: BaseException) -> str:
    """What went wrong, in one line, for an exception that is not the user's input."""
    if isinstance(e, MemoryError):
        return "out of memory: shrink --width, --depth or --batch"
    if isinstance(e, BrokenPipeError):
        return "the output was closed before it was all written (broken pipe)"
    if isinstance(e, UnicodeEncodeError):
        return (f"the terminal's encoding ({e.encoding}) cannot show gradsim's output: set "
                "PYTHONIOENCODING=utf-8, or write it with -o FILE")  # fmt: skip
    if isinstance(e, OSError):
        return f"cannot write the output: {e.strerror or e}"
    where = traceback.extract_tb(e.__traceback__)[-1]  # a bug: still one line, and where
    return (f"internal error ({type(e).__name__}: {e} at {Path(where.filename).name}:"
            f"{where.lineno}); please report it with the command line")  # fmt: skip


def click_line(e: click.ClickException) -> str:
    """click's own message in gradsim's form: one line, lowercase, no closing full stop
    ("Invalid value for '--depth': …." → "invalid value for '--depth': …")."""
    text = "; ".join(line.strip() for line in e.format_message().splitlines() if line.strip())
    text = text.rstrip(".")
    return text[:1].lower() + text[1:]


class _Group(click.Group):
    """Turns every usage or input error into one line on stderr and exit code 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        from gradsim.files import cleanup_on_signals

        try:
            # numbers beyond a dtype's range are reported as such (null, verdicts), not warned
            # about; SIGTERM and SIGHUP stop the command as Ctrl-C does, leaving no temp file
            with warnings.catch_warnings(), cleanup_on_signals():
                warnings.simplefilter("ignore", RuntimeWarning)
                rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except (click.exceptions.Abort, KeyboardInterrupt):
            _say("gradsim: aborted")
            _failed(1)
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
        except click.exceptions.NoArgsIsHelpError as e:  # `gradsim` alone asks for the help
            click.echo(e.format_message())
            sys.exit(0)
        except click.ClickException as e:
            _say(f"gradsim: error: {click_line(e)}")
            _failed(2)
        except GradsimError as e:
            _say(f"gradsim: error: {e}")
            _failed(2)
        except Exception as e:
            if isinstance(e, BrokenPipeError):
                _quiet_stdout()
            _say(f"gradsim: error: {_message(e).splitlines()[0]}")
            _failed(2)
        sys.exit(rv if isinstance(rv, int) else 0)


def _failed(code: int):
    """Exit with ``code`` after the one line that said why: what a pool, a thread or a
    finalizer might still print while the interpreter shuts down (a worker killed under it
    leaves "Exception ignored in …" behind) is not printed after it."""
    import threading

    if Path(sys.argv[0]).name in ("gradsim", "__main__.py"):  # not when called in-process
        sys.unraisablehook = lambda _: None
        threading.excepthook = lambda _: None
    sys.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="gradsim")
def cli() -> None:
    """gradsim: will a deep network's signal and gradients survive its depth?

    Builds an L-layer MLP in NumPy from a chosen initializer, runs one forward and one
    backward pass, and reports per-layer activation and gradient statistics with a verdict:
    stable, vanishing, exploding or overflow.

    \b
    Examples:
      gradsim run --depth 152 --init he
      gradsim run --depth 152 --init xavier --act relu --plot xavier.png
      gradsim compare --init he,xavier,normal --depth 152
      gradsim sweep --depth 10,50,152 --gain 0.5:2:16 --seeds 5 --plot map.png
      gradsim train --depth 30 --init he,xavier --steps 500 --lr 0.01
      gradsim plot result.json -o figure.png
      gradsim theory --act tanh --sigma-w 1.33 --sigma-b 0.22
      gradsim phase --act tanh -o phase.png
      gradsim list
    """
    from gradsim.memory import keep_freed_memory
    from gradsim.threads import hold_blas

    keep_freed_memory()  # a command may run many passes: reuse their memory (no page faults)
    hold_blas(1)  # the numbers depend on no thread count, and no BLAS thread spins (threads)
