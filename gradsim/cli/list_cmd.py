"""gradsim list: every initializer and activation with its formula, aliases and gain; the
losses, and the tasks and optimizers of gradsim train."""

from __future__ import annotations

from gradsim.cli._console import console
from gradsim.cli.group import cli


@cli.command("list")
def list_cmd():
    """List the initializers, activations, losses, training tasks and optimizers."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from gradsim.activations import ACTIVATION_ALIASES, ACTIVATIONS
    from gradsim.initializers import INITIALIZERS, aliases_of
    from gradsim.losses import LOSSES

    out = console()
    t = Table(title="initializers (W: fan_in × fan_out; γ = --gain)", title_justify="left",
              box=box.SIMPLE_HEAD, header_style="bold")  # fmt: skip
    t.add_column("name", style="cyan", no_wrap=True)
    t.add_column("formula")
    t.add_column("aliases", style="dim")
    for name, rec in INITIALIZERS.items():
        t.add_row(name, rec.formula, ", ".join(aliases_of(name)))
    out.print(t)
    a = Table(title="activations (gain: the --gain to use with xavier, lecun or orthogonal)",
              title_justify="left", box=box.SIMPLE_HEAD, header_style="bold")  # fmt: skip
    a.add_column("name", style="cyan", no_wrap=True)
    a.add_column("φ(z)")
    a.add_column("φ'(z)")
    a.add_column("gain", justify="right")
    for name, rec in ACTIVATIONS.items():
        alias = [k for k, v in ACTIVATION_ALIASES.items() if v == name]
        label = name + (f" ({', '.join(alias)})" if alias else "")
        formula = Text(rec.formula)
        if rec.note:  # which of the frameworks' forms (GELU's exact or tanh)
            formula.append(f"\n{rec.note}", style="dim")
        a.add_row(label, formula, rec.derivative, f"{rec.gain:.4g}")
    out.print(a)
    lo = Table(
        title="losses (--loss)", title_justify="left", box=box.SIMPLE_HEAD, header_style="bold"
    )
    lo.add_column("name", style="cyan")
    lo.add_column("definition")
    for name, rec in LOSSES.items():
        lo.add_row(name, rec.formula)
    out.print(lo)
    from gradsim.training.optimizers import OPTIMIZERS
    from gradsim.training.tasks import TASKS

    tk = Table(title="training tasks (gradsim train --task)", title_justify="left",
               box=box.SIMPLE_HEAD, header_style="bold")  # fmt: skip
    tk.add_column("name", style="cyan")
    tk.add_column("kind")
    tk.add_column("data")
    for name, rec in TASKS.items():
        tk.add_row(name, rec.kind, rec.summary)
    out.print(tk)
    op = Table(title="optimizers (gradsim train --optimizer)", title_justify="left",
               box=box.SIMPLE_HEAD, header_style="bold")  # fmt: skip
    op.add_column("name", style="cyan")
    op.add_column("update")
    for name, rec in OPTIMIZERS.items():
        op.add_row(name, rec.formula)
    out.print(op)
