"""A sweep's grid file (TOML): its axes and settings, checked.

A grid file names the same options as the command line, without the dashes (``act`` or
``activation``, ``bias-init`` or ``bias_init``), plus ``seeds`` and ``seed``:

    seeds = 5                 # runs per point
    seed = 0                  # the master seed
    depth = [10, 50, 100, 152]
    init = ["he", "xavier"]   # or "he,xavier"
    gain = "0.5:2.0:16"       # start:stop:count, or {start = 0.5, stop = 2.0, count = 16}
    width = 256

Unknown keys are errors. An option given on the command line (or to ``gradsim.sweep``)
replaces the file's.
"""

from __future__ import annotations

import difflib

from gradsim.config import check_seed
from gradsim.errors import GradsimError
from gradsim.options import OPTIONS, Option, check_given, parse_axis, parse_int_list

SWEEP_KEYS = ("seeds", "seed")


def _names() -> dict[str, Option]:
    """Every spelling of every option in a grid file → its record."""
    out = {}
    for o in OPTIONS:
        for decl in o.decls:
            if decl.startswith("--"):
                out[decl[2:]] = out[decl[2:].replace("-", "_")] = o
        out[o.dest] = o
    return out


def load_toml(path: str) -> dict:
    """The file's table, or a one-line GradsimError."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise GradsimError("reading grid files needs Python ≥ 3.11 or the tomli package "
                               "(pip install tomli)") from None  # fmt: skip
    from gradsim.files import read_input

    data = read_input(path, limit=2**20)
    try:
        return tomllib.loads(data.decode("utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise GradsimError(f"{path} is not valid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise GradsimError(f"{path} is not valid TOML: not UTF-8 text ({e.reason} at byte "
                           f"{e.start})") from None  # fmt: skip


def _whole(path: str, key: str, v, least: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < least:
        raise GradsimError(f"{path}: {key} must be a whole number ≥ {least} (got {v!r})")
    return v


def _item(path: str, key: str, o: Option, v):
    """One value of a listable option, checked against the option's type."""
    if o.type is int and isinstance(v, int) and not isinstance(v, bool):
        return v
    if o.type is float and isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if o.type is str and isinstance(v, str):
        if o.choices and v not in o.choices:
            raise GradsimError(f"{path}: {key}: '{v}' is not one of {', '.join(o.choices)}")
        return v
    kind = {int: "whole numbers", float: "numbers", str: "names"}[o.type]
    raise GradsimError(f"{path}: {key} takes {kind} (got {v!r})")


def _axis(path: str, key: str, o: Option, v) -> list:
    """A grid file's value → the list of values to sweep."""
    flag = o.decls[0]
    try:
        if isinstance(v, str):
            return parse_axis(o, v)
        if isinstance(v, dict):
            extra = set(v) - {"start", "stop", "count"}
            if extra or len(v) != 3:
                raise GradsimError(f"a range is {{start = …, stop = …, count = …}} (got {v})")
            return parse_axis(o, f"{v['start']}:{v['stop']}:{v['count']}")
    except GradsimError as e:
        raise GradsimError(f"{path}: {key}: {str(e).replace(flag + ': ', '')}") from None
    items = v if isinstance(v, list) else [v]
    if not items:
        raise GradsimError(f"{path}: {key} is empty")
    return [_item(path, key, o, x) for x in items]


def _single(path: str, key: str, o: Option, v):
    """A grid file's value of a non-listable option (widths)."""
    if isinstance(v, str):
        return parse_int_list(v, f"{path}: {key}")
    if isinstance(v, list) and v and all(isinstance(x, int) and not isinstance(x, bool)
                                         for x in v):  # fmt: skip
        return tuple(v)
    raise GradsimError(f"{path}: {key} is a list of whole numbers n_0, …, n_L (got {v!r})")


def _flag_axis(path: str, key: str, v) -> list[bool]:
    """A flag's values: true, false, or a list of both to sweep them."""
    items = v if isinstance(v, list) else [v]
    if not items or not all(isinstance(x, bool) for x in items):
        raise GradsimError(f"{path}: {key} is true, false or [false, true] (got {v!r})")
    return list(dict.fromkeys(items))


def grid_file_values(path: str) -> tuple[dict[str, list], dict[str, int]]:
    """(axes by option dest, sweep settings) from a grid file; unknown keys are errors."""
    table = load_toml(path)
    names = _names()
    axes, settings = {}, {}
    for key, v in table.items():
        if key in SWEEP_KEYS:
            settings[key] = _whole(path, key, v, 1 if key == "seeds" else 0)
            continue
        o = names.get(key)
        if o is None:
            close = difflib.get_close_matches(key, [*names, *SWEEP_KEYS], n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise GradsimError(f"{path}: unknown key '{key}'{hint}")
        if o.dest in axes:
            raise GradsimError(f"{path}: {o.dest} is given twice")
        if o.dest == "seed":
            continue  # handled above ("seed" is a sweep key)
        if o.listable:
            axes[o.dest] = _axis(path, key, o, v)
        elif o.type is None:
            axes[o.dest] = _flag_axis(path, key, v)
        else:
            axes[o.dest] = [_single(path, key, o, v)]
    return axes, settings


def master_seed(raw) -> int:
    """The sweep's master seed: one whole number ≥ 0 (from text or a number)."""
    try:
        seed = int(str(raw).strip())
    except ValueError:
        raise GradsimError(
            f"--seed is the sweep's master seed: one whole number (got '{raw}'); "
            "--seeds N runs N seeds per point"
        ) from None
    return check_seed(seed)


def grid_of(path: str | None = None, options: dict | None = None, seeds: int | None = None):
    """A sweep's Grid: the grid file's axes and settings (``path``, if given), each replaced
    by ``options`` ({option: a value, a list, a comma list or start:stop:count}) where given;
    ``seed`` in options is the master seed, ``seeds`` the runs per point."""
    from pathlib import Path

    from gradsim.options import values_of
    from gradsim.sweeps.grid import Grid

    if path is not None and Path(path).suffix != ".toml":
        raise GradsimError(f"{path}: a grid file is TOML (name it GRID.toml)")
    file_axes, settings = grid_file_values(path) if path else ({}, {})
    options = dict(options or {})
    check_given({**file_axes, **options})
    if "seed" in options:
        settings["seed"] = master_seed(options.pop("seed"))
    given = values_of(options)
    axes = {o.dest: given[o.dest] if o.dest in options or o.dest not in file_axes
            else file_axes[o.dest] for o in OPTIONS if o.dest != "seed"}  # fmt: skip
    if seeds is not None:
        settings["seeds"] = seeds
    return Grid(axes, seeds=settings.get("seeds", 1), seed=settings.get("seed", 0))
