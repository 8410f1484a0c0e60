"""gradsim from Python: one function per command, with the command's options as keywords
(named as RunConfig's fields; ``act`` for ``activation`` too) and the same one-line errors
(GradsimError). Each returns an object with ``to_dict()`` (the command's ``--format json``)
and ``figure()`` (what ``--plot`` draws); see gradsim.display.

>>> import gradsim
>>> gradsim.simulate(depth=152, init="he")                          # doctest: +SKIP
>>> gradsim.compare(init=["he", "xavier"], depth=[10, 50, 152])     # doctest: +SKIP
>>> gradsim.sweep(depth="10:150:8", gain="0.5:2:16", seeds=5, out="results")  # doctest: +SKIP
>>> gradsim.train(init=["he", "xavier"], depth=30, steps=500)       # doctest: +SKIP
>>> gradsim.theory(act="tanh", sigma_w=1.33, sigma_b=0.22)          # doctest: +SKIP
>>> gradsim.spectrum(act="tanh", init="orthogonal", depth=64)       # doctest: +SKIP
>>> gradsim.phase(act="tanh").figure()                              # doctest: +SKIP
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Sequence
from dataclasses import fields, replace

from gradsim.config import RunConfig
from gradsim.display import Record
from gradsim.errors import GradsimError
from gradsim.options import (
    BY_DEST,
    CONFIG_KEYS,
    CONNECT_TIMEOUT,
    LIST_HELP,
    PHASE_OPTIONS,
    SPECTRUM_OPTIONS,
    THEORY_DEFAULTS,
    THEORY_OPTIONS,
    TRAIN_DEFAULTS,
    TRAIN_OPTIONS,
    WORKER_TIMEOUT,
    check_given,
    check_sigmas,
)
from gradsim.threads import one_blas_thread

_FIELD_DEFAULTS = {f.name: f.default for f in fields(RunConfig)}


def _with_options(names: Sequence[str], lists: bool = False, defaults: dict | None = None):
    """Give a function taking ``**options`` an explicit signature and docstring section
    with these network options and their defaults, so that ``help()`` shows them all."""
    defaults = defaults or {}

    def deco(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        own = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
        extra = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY,
                                   default=defaults.get(n, _FIELD_DEFAULTS[n]))
                 for n in names]  # fmt: skip
        fn.__signature__ = sig.replace(parameters=[*own, *extra])
        how = ("a value, or a list (or a comma list, or 'start:stop:count') of values to "
               "compare" if lists else "one value each")  # fmt: skip
        lines = [f"    {p.name} = {p.default!r}: {BY_DEST[p.name].help.replace(LIST_HELP, '')}"
                 for p in extra]  # fmt: skip
        fn.__doc__ = (fn.__doc__ or "") + (f"\n\n    Network options ({how}):\n\n"
                                           + "\n".join(lines) + "\n")  # fmt: skip
        return fn

    return deco


def _path(value, name: str) -> str:
    """``value`` as a path string, or one line naming ``name`` when it is not a path."""
    if isinstance(value, (str, os.PathLike)):
        p = os.fspath(value)
        if isinstance(p, str):
            return p
    raise GradsimError(f"{name} takes a file's path (got {type(value).__name__})")


def _one_blas(fn: Callable) -> Callable:
    """Run ``fn`` with the BLAS held to one thread (gradsim.threads: the numbers then depend
    on no thread count), the caller's setting restored after."""

    @functools.wraps(fn)
    def wrapper(*args, **kw):
        with one_blas_thread():
            return fn(*args, **kw)

    return wrapper


def _options(options: dict, allowed: Sequence[str], what: str, check: bool = True) -> dict:
    """The keyword arguments as network options: ``act`` read as ``activation``; a keyword
    the function does not take is one line naming it."""
    options = dict(options)
    if "act" in options:
        if "activation" in options:
            raise GradsimError(f"{what}() got both act= and activation=: give one of them")
        options["activation"] = options.pop("act")
    unknown = [k for k in options if k not in allowed]
    if unknown:
        from gradsim.errors import unknown_name

        raise unknown_name(f"keyword of {what}()", unknown[0], allowed)
    if check:
        check_given(options)
    return options


def _config(options: dict, what: str, allowed=CONFIG_KEYS) -> RunConfig:
    options = _options(options, allowed, what)
    if isinstance(options.get("widths"), list):
        options["widths"] = tuple(options["widths"])
    return RunConfig(**options)


@_one_blas
@_with_options(CONFIG_KEYS)
def simulate(config: RunConfig | None = None, *, hist: bool = False, theory: bool = False,
             low_memory: bool | None = None, **options):  # fmt: skip
    """One network, one forward and one backward pass: per-layer statistics and a verdict
    (``gradsim run``). ``config``: a RunConfig (the keywords then replace its fields);
    ``hist``: histograms of H_l and log10|δ_l| at five layers; ``theory``: the mean-field
    prediction beside the measurement; ``low_memory``: draw the weights again for the
    backward pass instead of keeping them (the same numbers; None: where they would not fit
    otherwise). Returns a Result (``summary.verdict``, ``layers``, ``column(name)``,
    ``to_dict()``, ``figure()``)."""
    from gradsim.draws import build_stack
    from gradsim.memory import check_memory
    from gradsim.simulation import simulate_stack

    if config is None:
        config = _config(options, "simulate")
    elif not isinstance(config, RunConfig):
        raise GradsimError(f"config must be a RunConfig (got {type(config).__name__})")
    elif options:
        options = _options(options, CONFIG_KEYS, "simulate", check=False)
        check_given({"init": config.init, "bias_init": config.bias_init,
                     "residual": config.residual, **options})  # fmt: skip
        config = replace(config, **options)
    prediction = None
    if theory:
        from gradsim.meanfield import predict_run

        prediction = predict_run(config)  # before the work: it may refuse the network
    low = check_memory(config, low_memory)
    return simulate_stack(config, build_stack(config, low), hist=hist, theory=prediction)


@_one_blas
@_with_options(CONFIG_KEYS, lists=True)
def compare(*, max_configs: int = 64, progress: Callable[[int], None] | None = None,
            **options):  # fmt: skip
    """Every combination of the options' lists, run with one seed, side by side
    (``gradsim compare``); at most ``max_configs`` of them; ``progress(n)`` as n more are
    done. Returns a Comparison (``results``, ``axes``, ``ranked()``, ``to_dict()``,
    ``figure()``)."""
    from gradsim.comparison import compare as run

    return run(_options(options, CONFIG_KEYS, "compare"), max_configs, progress)


@_one_blas
@_with_options(CONFIG_KEYS, lists=True)
def sweep(grid: str | os.PathLike | None = None, *, seeds: int | None = None,
          out: str | os.PathLike = "results", jobs: int | None = None,
          scheduler: str | None = None, connect_timeout: float = CONNECT_TIMEOUT,
          force: bool = False, max_runs: int = 100_000, chunk: int | None = None,
          worker_timeout: float = WORKER_TIMEOUT,
          progress: Callable[[int], None] | None = None, **options):  # fmt: skip
    """Every combination of the options' lists, ``seeds`` runs each, into the resumable
    store ``out``/sweep.db (``gradsim sweep``): ``grid`` a TOML grid file whose axes the
    options replace; ``seed`` the master seed; ``jobs`` worker processes (default: every
    core) or ``scheduler`` a Dask scheduler's address (``connect_timeout`` seconds to reach
    it, ``worker_timeout`` to wait for a worker when every one is lost); ``progress(n)``
    after each task with the runs it added. Returns a SweepResult (``aggregate``,
    ``records``, ``to_dict()``, ``figure(x=, y=)``)."""
    from gradsim.sweeps import Session
    from gradsim.sweeps.gridfile import grid_of

    g = grid_of(None if grid is None else _path(grid, "grid"),
                _options(options, CONFIG_KEYS, "sweep", check=False), seeds)  # fmt: skip
    with Session(g, out, jobs=jobs, scheduler=scheduler, connect_timeout=connect_timeout,
                 force=force, max_runs=max_runs, chunk=chunk,
                 worker_timeout=worker_timeout) as s:  # fmt: skip
        for n in s.run():
            if progress is not None:
                progress(n)
        return s.result()


@_one_blas
@_with_options(TRAIN_OPTIONS, lists=True, defaults=TRAIN_DEFAULTS)
def train(*, task: str = "teacher", samples: int = 1024, steps: int = 500, lr=0.01,
          optimizer="sgd", momentum: float | None = None, beta1: float | None = None,
          beta2: float | None = None, eps: float | None = None,
          clip_norm: float | None = None, log_every: int | None = None,
          bn_eval: str = "running", save_run: str | os.PathLike | None = None,
          max_configs: int = 16,
          progress: Callable[[int, int, float | None], None] | None = None, **options):  # fmt: skip
    """Short training runs of every combination of the options', ``lr``'s and
    ``optimizer``'s lists on one synthetic task, from the same seed and data (``gradsim
    train``); layers 1 … L-1 are ``simulate``'s, layer L a linear read-out. ``bn_eval``:
    batch norm in the whole-set losses, "running" (eval mode, the running statistics of
    training) or "batch" (the whole set's own); ``save_run``: write what a replay needs to
    this .npz file (several configurations: FILE-1.npz, FILE-2.npz, …; docs/training.md).
    ``progress(i, step, loss)`` reports configuration i. Returns a Training (``runs``:
    curves and verdicts, ``to_dict()``, ``figure()``)."""
    from gradsim.report.export import check_writable, save_runs
    from gradsim.training.product import configs_of, train_product
    from gradsim.training.runfile import run_paths

    axes, configs = configs_of(
        _options(options, TRAIN_OPTIONS, "train"), lr, optimizer, max_configs, task=task,
        samples=samples, steps=steps, momentum=momentum, beta1=beta1, beta2=beta2, eps=eps,
        clip_norm=clip_norm, log_every=log_every, bn_eval=bn_eval,
    )  # fmt: skip
    files = run_paths(_path(save_run, "save_run"), len(configs)) if save_run is not None else []
    for f in files:
        check_writable(f)
    res = train_product(axes, configs, progress, record=bool(files))
    save_runs(files, res.runs)
    return res


@_with_options(THEORY_OPTIONS, defaults=THEORY_DEFAULTS)
def theory(*, sigma_w: float | None = None, sigma_b: float | None = None, **options):
    """The mean-field prediction (``gradsim theory``): q*, χ₁, the depth scales, the phase,
    the critical σ_w and the predicted RMS of δ and H at every layer; σ_w and σ_b given
    directly or from the initializer and the bias rule. Returns a Record (``to_dict()``,
    ``r["q_star"]``, ``figure()``)."""
    from gradsim.meanfield.commands import theory as describe

    options = _options(options, THEORY_OPTIONS, "theory")
    check_sigmas(options, sigma_w, sigma_b)
    cfg = _config({**THEORY_DEFAULTS, **options}, "theory", THEORY_OPTIONS)
    return Record(describe(cfg, sigma_w, sigma_b))


@_one_blas
@_with_options(SPECTRUM_OPTIONS)
def spectrum(*, inputs: int = 4, **options):
    """The singular values of the input–output Jacobian of the network ``simulate`` draws,
    at ``inputs`` inputs (``gradsim spectrum``). Returns a Record (``to_dict()``,
    ``figure()``)."""
    from gradsim.meanfield.commands import spectrum as measure

    return Record(measure(_config(options, "spectrum", SPECTRUM_OPTIONS), inputs))


@_with_options(PHASE_OPTIONS)
def phase(*, sigma_w2=None, sigma_b2=(0.0, 0.25), grid: int = 100, overlay=None, **options):
    """The order-to-chaos phase diagram over (σ_w², σ_b²) (``gradsim phase``): ranges as
    (low, high) or 'low:high' (σ_w² by default 0 to 4, wider if the critical line lies
    beyond); ``overlay``: a run or compare result (an object, its dict, or a JSON file)
    whose runs to mark. Returns a Record (``to_dict()``, ``figure()``)."""
    from gradsim.meanfield.commands import load_json
    from gradsim.meanfield.commands import phase as diagram

    if isinstance(overlay, (str, os.PathLike)):
        overlay = load_json(os.fspath(overlay))
    elif overlay is not None and hasattr(overlay, "to_dict"):
        overlay = overlay.to_dict()
    cfg = _config(options, "phase", PHASE_OPTIONS)
    return Record(diagram(cfg, sigma_w2, sigma_b2, grid, overlay))
