"""A sweep's grid: the cartesian product of option values, each point run with several seeds.

A *point* is one configuration without its seed. Replica r of a point runs with the seed
``derive_seed(master, point, r)``: a hash of the master seed, r and the point's network
shape (layer widths and batch), so that the points of one shape share each replica's random
numbers (common random numbers: they differ only in how the numbers are scaled and used).
A run's numbers therefore depend on nothing but its point, r and the master seed: not on
the order of the grid, the other points, the number of jobs or the executor, and growing a
grid (more values, more seeds) leaves every existing run as it was.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, fields

from gradsim.config import RunConfig, check_seed
from gradsim.errors import GradsimError

GRID_VERSION = 2  # how points are keyed and seeds derived; stores of another version are refused
AXES = tuple(f.name for f in fields(RunConfig) if f.name != "seed")


def grid_signature() -> str:
    """GRID_VERSION and the configuration's field names: a store keyed by another set of
    fields cannot be matched with this grid's points."""
    names = ",".join(f.name for f in fields(RunConfig))
    return f"{GRID_VERSION}/{hashlib.sha256(names.encode()).hexdigest()[:8]}"


def _canonical_json(d: dict) -> str:
    return json.dumps(d, sort_keys=True, separators=(",", ":"), allow_nan=False)


def point_key(cfg: RunConfig) -> str:
    """The point of a configuration: its canonical JSON without the seed."""
    return _canonical_json({k: v for k, v in cfg.to_dict().items() if k != "seed"})


def derive_seed(master: int, cfg: RunConfig, replica: int) -> int:
    """The seed of replica ``replica`` of ``cfg``'s point: 63 bits of SHA-256 of the master
    seed, the replica and the network's shape (its layer widths and batch). Points of one
    shape share the seed of each replica: they differ only in how the same random numbers
    are scaled and used (common random numbers)."""
    shape = {"widths": list(cfg.layer_widths), "batch": cfg.batch}
    text = f"gradsim-sweep/{GRID_VERSION}:{master}:{replica}:{_canonical_json(shape)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def _tidy(v):
    # 12 significant digits: 0.5:2:16 and 0.5:2:31 then share their common values exactly
    if isinstance(v, float) and math.isfinite(v):
        return float(f"{v:.12g}")
    return v


@dataclass(frozen=True)
class Run:
    """One run of a sweep: replica ``replica`` of ``point``, with its derived seed in
    ``config``."""

    point: str
    replica: int
    config: RunConfig


@dataclass(frozen=True)
class Grid:
    """``axes``: RunConfig field → the values to sweep (a field left out keeps its default);
    ``seeds`` replicas per point; ``seed`` the master seed.

    >>> g = Grid({"depth": (10, 50), "init": ("he", "xavier")}, seeds=3)   # doctest: +SKIP
    >>> len(g.points()), len(g.runs())                                      # doctest: +SKIP
    (4, 12)
    """

    axes: dict
    seeds: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise GradsimError(f"--seeds must be a whole number of at least 1 (got {self.seeds!r})")
        check_seed(self.seed)
        axes = {}
        for name, values in self.axes.items():
            if name == "seed":
                raise GradsimError("the seed is not an axis: --seed is the master seed, "
                                   "--seeds N runs N seeds per point")  # fmt: skip
            if name not in AXES:
                from gradsim.errors import unknown_name

                raise unknown_name("option", name, AXES)
            if not isinstance(values, (list, tuple)) or (
                name == "widths" and values and all(isinstance(v, int) for v in values)
            ):
                values = (values,)  # one value (a widths list is one value)
            values = tuple(tuple(v) if isinstance(v, list) else v for v in values)
            if not values:
                raise GradsimError(f"--{name.replace('_', '-')} is empty")
            try:
                axes[name] = tuple(dict.fromkeys(_tidy(v) for v in values))
            except TypeError:  # a dict, a set or a nested list among the values
                raise GradsimError(f"--{name.replace('_', '-')} takes numbers or names "
                                   f"(got {values!r:.60})") from None  # fmt: skip
        object.__setattr__(self, "axes", axes)

    @property
    def varying(self) -> dict[str, tuple]:
        """The axes with more than one value, in the order given."""
        return {k: v for k, v in self.axes.items() if len(v) > 1}

    @property
    def size(self) -> int:
        """Combinations of the axes' values (before merging equal points) × seeds."""
        return math.prod(len(v) for v in self.axes.values()) * self.seeds

    def points(self) -> list[tuple[str, RunConfig]]:
        """(key, config with seed 0) per distinct point, in product order: the first axis
        varies slowest. Values that resolve alike (he, kaiming) give one point. Made once for
        the axes as they are (a list of its own each call)."""
        key = repr(self.axes)  # (nested lists and arrays included)
        cached = self.__dict__.get("_points")
        if cached is None or cached[0] != key:
            cached = (key, self._make_points())
            object.__setattr__(self, "_points", cached)  # (a frozen dataclass: not a field)
        return list(cached[1])

    def _make_points(self) -> list[tuple[str, RunConfig]]:
        from gradsim import memory

        keys = list(self.axes)
        have = memory.available_bytes()  # read once, not per shape (/proc, cgroup files)
        out: dict[str, RunConfig] = {}
        sizes: set[tuple] = set()
        for combo in itertools.product(*self.axes.values()):
            cfg = RunConfig(**dict(zip(keys, combo, strict=True)))
            size = (cfg.depth, cfg.width, cfg.widths, cfg.batch, cfg.dtype, cfg.init,
                    cfg.residual, cfg.norm)  # fmt: skip
            if size not in sizes:  # refused before its key lists every width
                memory.check_memory(cfg, have=have)
                sizes.add(size)
            out.setdefault(point_key(cfg), cfg)
        return list(out.items())

    def runs(self) -> list[Run]:
        """Every point × replica with its derived seed."""
        from dataclasses import replace

        seeds: dict[tuple, int] = {}  # by (shape, replica): every point of a shape shares them
        out = []
        for key, cfg in self.points():
            shape = (cfg.layer_widths, cfg.batch)
            for r in range(self.seeds):
                if (shape, r) not in seeds:
                    seeds[shape, r] = derive_seed(self.seed, cfg, r)
                out.append(Run(key, r, replace(cfg, seed=seeds[shape, r])))
        return out
