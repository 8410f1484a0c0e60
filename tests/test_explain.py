"""explain.pow10, the one formatter of log10 values: it writes what each formatter it replaced
wrote (kept below as references), and its styles read as documented."""

import math

import numpy as np
import pytest

from gradsim.explain import EVERY, pow10

# ---------------------------------------------------------------- the replaced formatters


def old_sentence(x):  # stats._fmt_pow, theory._pow
    if x is None:
        return "—"
    if not math.isfinite(x):
        return "0" if x < 0 else "∞"
    return f"{10**x:.3g}" if -2 <= x <= 3 else f"10^{x:.0f}"


def old_sci(x):  # report/table.sci
    if x is None or math.isnan(x):
        return "—"
    if x == -math.inf:
        return "0"
    if x == math.inf:
        return "inf"
    e = math.floor(x)
    m = 10 ** (x - e)
    if m >= 9.95:
        m, e = 1.0, e + 1
    return f"{m:.1f}e{e:+03d}"


def old_sci_tex(x):  # report/plots._sci_tex
    e = math.floor(x)
    m = 10 ** (x - e)
    if round(m, 1) >= 10:
        m, e = 1.0, e + 1
    return f"${m:.1f}{{\\cdot}}10^{{{e}}}$"


def old_e(x):  # report/table_train._e
    if x is None or not math.isfinite(x):
        return "—"
    e = math.floor(x)
    m = round(10 ** (x - e))
    if m >= 10:
        m, e = 1, e + 1
    return f"{m}e{e}"


def values():
    rng = np.random.default_rng(0)
    xs = np.concatenate([rng.uniform(-400, 400, 3000), rng.uniform(-4, 5, 3000),
                         np.arange(-40, 41) / 4, [math.log10(9.99), math.log10(2.5)]])  # fmt: skip
    return [float(x) for x in xs]


def test_sentences_and_theory_write_what_they_wrote():
    for x in [*values(), None, math.inf, -math.inf]:
        assert pow10(x) == old_sentence(x), x


def test_tables_and_figures_write_what_they_wrote():
    for x in values():
        # (the old rules carried a mantissa of 9.95 differently within a few ulps)
        if abs(10 ** (x - math.floor(x)) - 9.95) < 1e-9:
            continue
        assert pow10(x, style="e", digits=2, plain=None) == old_sci(x), x
        assert pow10(x, style="tex", digits=2, plain=None) == old_sci_tex(x), x
        assert pow10(x, style="short", digits=1, plain=None) == old_e(x), x
    for x in (None, math.nan, math.inf, -math.inf):
        assert pow10(x, style="e", digits=2, plain=None) == old_sci(x)
    assert pow10(None, style="short", digits=1, plain=None) == old_e(None)


@pytest.mark.parametrize(
    "x, kw, text",
    [(-23.09, {}, "10^-23"), (-1.5, {}, "0.0316"), (2.65, {}, "447"),
     (-23.09, {"digits": 2}, "8.1·10^-24"),
     (-23.09, {"style": "tex"}, "$10^{-23}$"), (38.53, {"style": "tex", "digits": 2},
                                                  "$3.4{\\cdot}10^{38}$"),
     (-23.09, {"style": "e", "digits": 2, "plain": None}, "8.1e-24"),
     (400.3, {"style": "e", "digits": 2, "plain": None}, "2.0e+400"),
     (0.0, {"style": "e", "digits": 2, "plain": None}, "1.0e+00"),
     (-1.52, {"style": "short", "digits": 1, "plain": None}, "3e-2"),
     (0.0, {"style": "short", "digits": 1, "plain": None}, "1e0"),
     (math.log10(9.96), {"style": "e", "digits": 2, "plain": None}, "1.0e+01"),
     (12.5, {"plain": EVERY}, "3.16e+12"),
     (math.inf, {"style": "tex"}, "$\\infty$"), (math.nan, {}, "—")],
)  # fmt: skip
def test_styles(x, kw, text):
    assert pow10(x, **kw) == text


def test_axis_ticks_between_powers_read_as_numbers():
    from gradsim.report.figures.common import pow10_formatter

    label = pow10_formatter()
    assert [label(v, 0) for v in (-2.0, 0.0, 0.5, 1.5)] == ["$10^{-2}$", "$10^{0}$", "3.16", "31.6"]


@pytest.mark.parametrize(
    ("kw", "verbs"),
    [
        ({"activation": "sigmoid", "depth": 8, "width": 32, "batch": 8},
         ("δ at layer 2 falls", "and is lost", "its true size")),
        ({"activation": "relu", "depth": 120, "width": 24, "batch": 8, "gain": 0.5},
         ("δ at layer 109 fall", "and are lost", "their true size")),
        ({"activation": "sigmoid", "depth": 8, "width": 32, "batch": 8, "loss_scale": "none"},
         ("falls", "and is lost", "it is computed as float16 gives it")),
        # tanh's forward is not rescaled: only δ's true size is tracked
        ({"activation": "tanh", "depth": 20, "width": 24, "batch": 8, "gain": 0.3},
         ("the signal at layer 12 and δ", "gradsim tracks δ's true size; the signal is "
          "computed as float16 gives it")),
    ],
)  # fmt: skip
def test_the_underflow_sentence_agrees_in_number(kw, verbs):
    import gradsim

    said = [s for s in gradsim.simulate(dtype="float16", **kw).summary.sentences
            if s.startswith("Underflow")]  # fmt: skip
    assert len(said) == 1 and all(v in said[0] for v in verbs), said
