"""gradsim list: every initializer and activation with its formula, aliases and gain; the
losses, the dtypes, and the tasks and optimizers of gradsim train; as tables or as JSON."""

from __future__ import annotations

from gradsim.cli._output import emit, output_options
from gradsim.cli.group import cli


def list_dict() -> dict:
    """The registries as the JSON of ``gradsim list --format json`` (docs/json.md#list)."""
    from gradsim._version import __version__
    from gradsim.activations import ACTIVATION_ALIASES, ACTIVATIONS
    from gradsim.config import DTYPES, dtype_aliases
    from gradsim.initializers import INITIALIZERS, aliases_of
    from gradsim.losses import LOSSES
    from gradsim.training.optimizers import OPTIMIZERS
    from gradsim.training.tasks import TASKS

    def aliases(table: dict, name: str) -> list[str]:
        return [k for k, v in table.items() if v == name]

    return {
        "gradsim": __version__,
        "kind": "list",
        "initializers": [
            {
                "name": n,
                "formula": r.formula,
                "aliases": aliases_of(n),
                "mode": r.default_mode,
                "bias": r.bias,
                "options": list(r.options),
            }
            for n, r in INITIALIZERS.items()
        ],
        "activations": [
            {
                "name": n,
                "formula": r.formula,
                "derivative": r.derivative,
                "gain": r.gain,
                "aliases": aliases(ACTIVATION_ALIASES, n),
                "note": r.note or None,
            }
            for n, r in ACTIVATIONS.items()
        ],
        "losses": [{"name": n, "formula": r.formula} for n, r in LOSSES.items()],
        "dtypes": [{"name": n, "aliases": aliases(dtype_aliases(), n)} for n in DTYPES],
        "tasks": [{"name": n, "kind": r.kind, "data": r.summary} for n, r in TASKS.items()],
        "optimizers": [{"name": n, "update": r.formula} for n, r in OPTIMIZERS.items()],
    }


def _table(title: str, columns, rows):
    from rich import box
    from rich.table import Table

    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, header_style="bold")
    for i, (name, kw) in enumerate(columns):
        t.add_column(name, **({"style": "cyan", "no_wrap": True} if i == 0 else {}), **kw)
    for row in rows:
        t.add_row(*row)
    return t


def _formula(r: dict):
    """φ(z), with which of the frameworks' forms it is where that needs saying (GELU)."""
    from rich.text import Text

    t = Text(r["formula"])
    if r.get("note"):
        t.append(f"\n{r['note']}", style="dim")
    return t


def list_tables(d: dict):
    """The tables of ``gradsim list``, from ``list_dict()``."""
    from rich.console import Group

    def named(r):
        return r["name"] + (f" ({', '.join(r['aliases'])})" if r["aliases"] else "")

    dim = {"style": "dim"}
    return Group(
        _table("initializers (W: fan_in × fan_out; γ = --gain)",
               [("name", {}), ("formula", {}), ("aliases", dim)],
               [(r["name"], r["formula"], ", ".join(r["aliases"])) for r in d["initializers"]]),
        _table("activations (gain: the --gain to use with xavier, lecun or orthogonal)",
               [("name", {}), ("φ(z)", {}), ("φ'(z)", {}), ("gain", {"justify": "right"})],
               [(named(r), _formula(r), r["derivative"], f"{r['gain']:.4g}")
                for r in d["activations"]]),
        _table("losses (--loss)", [("name", {}), ("definition", {})],
               [(r["name"], r["formula"]) for r in d["losses"]]),
        _table("dtypes (--dtype)", [("name", {}), ("aliases", dim)],
               [(r["name"], ", ".join(r["aliases"])) for r in d["dtypes"]]),
        _table("training tasks (gradsim train --task)", [("name", {}), ("kind", {}), ("data", {})],
               [(r["name"], r["kind"], r["data"]) for r in d["tasks"]]),
        _table("optimizers (gradsim train --optimizer)", [("name", {}), ("update", {})],
               [(r["name"], r["update"]) for r in d["optimizers"]]),
    )  # fmt: skip


@cli.command("list")
@output_options(formats=("table", "json"))
def list_cmd(fmt, output):
    """List the initializers, activations, losses, dtypes, training tasks and optimizers.

    \b
    gradsim list
    gradsim list --format json     # the same, for programs (docs/json.md#list)
    """
    from gradsim.cli._output import check_outputs

    check_outputs(output, None)
    d = list_dict()
    emit(fmt, output, None, d, None, lambda: list_tables(d))
