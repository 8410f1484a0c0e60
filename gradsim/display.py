"""What the Python API returns: objects in the style of scikit-learn's Display objects.

Every result has ``to_dict()``, the JSON the command line writes with ``--format json``,
and ``figure(**kw)``, the matplotlib Figure that ``--plot`` draws (gradsim.report.figures,
imported only then). ``save(path)`` writes either, by the path's suffix.
"""

from __future__ import annotations

import os


class Display:
    """A gradsim result: ``to_dict()``, ``figure(**kw)`` and ``save(path)``."""

    def to_dict(self) -> dict:
        raise NotImplementedError

    def figure(self, **kw):
        """The figure of this result (``fig=`` draws into a given Figure), as ``--plot``
        draws it; returns the matplotlib Figure."""
        from gradsim.report.figures.registry import plot_result

        return plot_result(self.to_dict(), **kw)

    def save(self, path: str | os.PathLike, **kw) -> None:
        """Write the result to ``path``, whole or not at all: .json its JSON, .png, .svg or
        .pdf its figure (``kw`` as for ``figure``)."""
        from gradsim.report.export import to_json, write_atomic

        if os.fspath(path).lower().endswith(".json"):
            write_atomic(path, to_json(self.to_dict()))
        else:
            from gradsim.report.figures.common import check_figure_path, save_figure

            check_figure_path(path)
            save_figure(self.figure(**kw), path)


class Record(Display):
    """A result that is its JSON form (theory, spectrum, phase): ``r["q_star"]`` or
    ``r.q_star`` read its fields."""

    def __init__(self, d: dict):
        self._d = d

    def to_dict(self) -> dict:
        return self._d

    def __getitem__(self, key: str):
        return self._d[key]

    def __getattr__(self, key: str):
        try:
            return self.__dict__["_d"][key]
        except KeyError:
            raise AttributeError(key) from None

    def __repr__(self) -> str:
        fields = ", ".join(k for k in self._d if k not in ("gradsim", "kind"))
        return f"<gradsim {self._d.get('kind')} result: {fields}>"
