"""gradsim train: short training runs that show what initialization does to learning."""

from __future__ import annotations

import click

from gradsim.cli._console import show_progress
from gradsim.cli._output import check_outputs, emit, output_options
from gradsim.cli.group import cli
from gradsim.cli.options import given_options, network_options
from gradsim.options import TRAIN_DEFAULTS, TRAIN_OPTIONS
from gradsim.training.config import BN_EVAL
from gradsim.training.optimizers import OPTIMIZERS
from gradsim.training.tasks import TASKS


@cli.command("train")
@click.pass_context
@network_options(
    listable=True,
    only=TRAIN_OPTIONS,
    defaults={k: str(v) for k, v in TRAIN_DEFAULTS.items()},
    helps={"depth": "Number of layers L (the last a linear read-out).",
           "width": "Width of the hidden layers (the task sets the input and output).",
           "batch": "Mini-batch size (LSUV rescales on the first mini-batch)."},
)  # fmt: skip
@click.option(
    "--task",
    type=click.Choice(list(TASKS)),
    default="teacher",
    show_default=True,
    help="; ".join(f"{k}: {t.summary}" for k, t in TASKS.items()) + ".",
)
@click.option(
    "--samples", type=int, default=1024, show_default=True, help="Size of the training set."
)
@click.option("--steps", type=int, default=500, show_default=True, help="Parameter updates.")
@click.option(
    "--lr",
    default="0.01",
    show_default=True,
    metavar="LIST",
    help="Learning rate (a comma list compares several).",
)
@click.option(
    "--optimizer",
    default="sgd",
    show_default=True,
    metavar="LIST",
    help=f"{', '.join(OPTIMIZERS)} (a comma list compares several).",
)
@click.option("--momentum", type=float, default=None, help="momentum: μ [default: 0.9].")
@click.option("--beta1", type=float, default=None, help="adam: β1 [default: 0.9].")
@click.option("--beta2", type=float, default=None, help="adam: β2 [default: 0.999].")
@click.option("--eps", type=float, default=None, help="adam: ε [default: 1e-8].")
@click.option(
    "--clip-norm",
    type=float,
    default=None,
    help="Clip the global gradient norm to this [default: no clipping].",
)
@click.option(
    "--log-every",
    type=int,
    default=None,
    help="Steps between points of the curves [default: steps/100].",
)
@click.option(
    "--bn-eval",
    type=click.Choice(list(BN_EVAL)),
    default="running",
    show_default=True,
    help="Batch norm in the whole-set losses: "
    + "; ".join(f"{k}: {v}" for k, v in BN_EVAL.items())
    + ".",
)
@click.option(
    "--save-run",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE.npz",
    help="Save what a replay needs (initial weights, data, every step's mini-batch, loss and "
    "gradient norms) to FILE.npz; several configurations go to FILE-1.npz, FILE-2.npz, ….",
)
@output_options("Draw the loss curves and the layer × step gradient heatmaps to FILE.")
@click.option(
    "--max-configs",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Refuse lists whose product is larger.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bars [default: on a terminal, not in CI].",
)
def train_cmd(ctx, task, samples, steps, lr, optimizer, momentum, beta1, beta2, eps, clip_norm,
              log_every, bn_eval, save_run, fmt, output, plot_path, max_configs, progress,
              **kwargs):  # fmt: skip
    """Train each configuration on the same synthetic task, from the same seed and data.

    Any network option, --lr and --optimizer take a comma list; every combination trains
    on the same data in the same order. Layers 1 … L-1 are those of `gradsim run`; layer
    L is a linear read-out. Verdicts: learned, slow, stalled, diverged (with the step and
    layer of the first non-finite number). --save-run writes a file that
    examples/replay_training.py replays in plain NumPy.

    \b
    gradsim train --depth 30 --act relu --init he,xavier --steps 500 --lr 0.01
    gradsim train --task circles --depth 3 --width 10 --init zeros,he --steps 2000
    gradsim train --task blobs --init he --residual --norm batch --optimizer adam --lr 0.001
    """
    from gradsim.report.export import save_runs
    from gradsim.report.tables.train import render_train, train_csv
    from gradsim.training.product import configs_of, run_label
    from gradsim.training.runfile import run_paths

    axes, configs = configs_of(
        given_options(ctx, kwargs), lr, optimizer, max_configs, task=task, samples=samples,
        steps=steps, momentum=momentum, beta1=beta1, beta2=beta2, eps=eps, clip_norm=clip_norm,
        log_every=log_every, bn_eval=bn_eval,
    )  # fmt: skip
    files = run_paths(save_run, len(configs)) if save_run else []
    extra = {f"--save-run {f.name}" if len(files) > 1 else "--save-run": str(f) for f in files}
    check_outputs(output, plot_path, extra)
    labels = [run_label(c, axes) for c in configs]
    res = _train(axes, configs, labels, show_progress(progress), bool(files))
    save_runs(files, res.runs)
    if len(files) > 1:  # (one file is the name given)
        click.echo(f"gradsim: saved {len(files)} runs for replay: {files[0].name} … "
                   f"{files[-1].name} (in the order of the runs)", err=True)  # fmt: skip
    d = res.to_dict()
    emit(fmt, output, plot_path, d, train_csv, lambda: render_train(d))


def _train(axes, configs, labels, show: bool, record: bool):
    from gradsim.training.product import train_product

    if not show:
        return train_product(axes, configs, record=record)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(),
                  console=Console(stderr=True)) as bar:  # fmt: skip
        ids = [bar.add_task(name[:28], total=c.steps, loss="…") for c, name in
               zip(configs, labels, strict=True)]  # fmt: skip

        def on_step(i, step, loss):
            fields = {"loss": f"{loss:.4g}"} if loss is not None else {}
            bar.update(ids[i], completed=step, **fields)

        res = train_product(axes, configs, on_step, record)
        for i, r in zip(ids, res.runs, strict=True):
            bar.update(i, loss=f"{r.final_loss:.4g} · {r.verdict}")
    return res


__all__ = ["train_cmd"]
