"""Every table at 60, 80 and 120 columns (rich reads COLUMNS): no number cut short, no
line wider than the terminal, no name broken across lines, whole columns dropped (and
said so) where they do not fit, and the run's summary box as wide as its table."""

import io
import re

import pytest
from click.testing import CliRunner

from gradsim.cli import cli

WIDTHS = (60, 80, 120)
CUT = re.compile(r"[\d.e+\-]…(\s|$)")  # '1.0e+…': a number rich cut short


def show(width: int, *args) -> str:
    r = CliRunner(env={"COLUMNS": str(width)}).invoke(cli, [str(a) for a in args],
                                                      catch_exceptions=False)  # fmt: skip
    assert r.exit_code == 0, r.stderr
    return r.stdout


def check_fits(text: str, width: int, names=()) -> None:
    lines = text.splitlines()
    assert max(len(ln) for ln in lines) <= width, max(lines, key=len)
    cut = [ln for ln in lines if CUT.search(ln)]
    assert not cut, cut
    for name in names:  # each name whole on one line, never folded into two
        assert name in text, (name, text)
        broken = [ln for ln in lines for k in range(3, len(name))
                  if ln.rstrip().endswith(name[:k])]  # fmt: skip
        assert not broken, (name, broken)


RUN = ("run", "--init", "normal", "--depth", 152, "--width", 64, "--batch", 16)


@pytest.mark.parametrize("width", WIDTHS)
def test_run_fits(width):
    text = show(width, *RUN)
    check_fits(text, width)
    lines = text.splitlines()
    header = next(ln for ln in lines if "layer" in ln and "δ rms" in ln)
    top = next(ln for ln in lines if ln.startswith("╭"))
    assert len(top.rstrip()) == len(header), (top, header)  # box and table: one width
    assert "e+224" in text  # the numbers are there in full
    if width == 60:
        assert "not shown at 60 columns: ‖∂W‖/‖W‖" in text and "‖∂W‖/‖W‖ " not in header
    else:
        assert "‖∂W‖/‖W‖" in header and "not shown" not in text


@pytest.mark.parametrize("width", WIDTHS)
def test_run_with_theory_fits(width):
    text = show(width, *RUN[:-4], "--depth", 30, "--act", "tanh", "--init", "xavier",
                "--width", 64, "--batch", 16, "--theory")  # fmt: skip
    check_fits(text, width)


COMPARE = ("compare", "--init", "truncated_normal,he,xavier,normal", "--gain", "0.5,1",
           "--act", "relu,tanh", "--depth", 20, "--width", 16, "--batch", 8)  # fmt: skip
NAMES = ("truncated_normal", "xavier_uniform", "he_normal")


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_fits_with_a_column_per_axis(width):
    text = show(width, *COMPARE)
    check_fits(text, width, NAMES)
    header = next(ln for ln in text.splitlines() if ln.startswith("act"))
    assert header.split()[:4] == ["act", "init", "gain", "verdict"]
    rows = [ln.split() for ln in text.splitlines() if ln.startswith(("relu ", "tanh "))]
    assert len(rows) == 16 and all(r[1] in {"normal", *NAMES} for r in rows)
    assert all(r[2] in {"0.5", "1"} for r in rows)
    if width < 120:
        assert f"not shown at {width} columns" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_sweep_fits(width, tmp_path):
    text = show(width, "sweep", "--depth", "5,20", "--gain", "0.5,2", "--act", "relu,tanh",
                "--init", "xavier,truncated_normal", "--width", 8, "--batch", 4, "--seeds", 2,
                "--out", tmp_path / "s", "--jobs", 1)  # fmt: skip
    check_fits(text, width, ("truncated_normal", "xavier_uniform"))
    assert "median" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_train_fits(width):
    text = show(width, "train", "--depth", 4, "--width", 8, "--steps", 5, "--init",
                "he,xavier_uniform,truncated_normal", "--act", "relu,tanh")  # fmt: skip
    check_fits(text, width, ("truncated_normal", "xavier_uniform"))


@pytest.mark.parametrize("width", WIDTHS)
def test_theory_fits(width):
    check_fits(show(width, "theory", "--act", "tanh", "--depth", 40), width)
    check_fits(show(width, "theory", "--act", "relu", "--widths", "16,32,8"), width)


def test_the_cut_pattern_sees_rich_cutting_a_number():
    from rich.console import Console
    from rich.table import Table

    t = Table()
    t.add_column("x")
    t.add_row("1.0e+224")
    c = Console(width=8, record=True, file=io.StringIO())
    c.print(t)
    assert CUT.search(c.export_text())


def check_parts_whole(text: str, parts: list[str]) -> None:
    """Every " · " part of a title on one line: a narrow terminal folds between parts."""
    lines = [ln.rstrip() for ln in text.splitlines()]
    split = [p for p in parts if not any(p in ln for ln in lines)]
    assert not split, (split, lines[:4])


@pytest.mark.parametrize("width", (38, 40, 58, 59))  # (rich alone broke a part at these)
def test_titles_fold_between_their_parts(width):
    wide = show(200, "run", "--depth", 6, "--width", 8, "--batch", 4, "--loss", "sum",
                "--seed", 3, "--dtype", "float64")  # fmt: skip
    title = wide.splitlines()[0].rstrip()
    parts = title.split(" · ")
    assert "sum loss" in parts and "seed 3" in parts, parts
    narrow = show(width, "run", "--depth", 6, "--width", 8, "--batch", 4, "--loss", "sum",
                  "--seed", 3, "--dtype", "float64")  # fmt: skip
    check_parts_whole(narrow, parts)
    wide = show(200, *COMPARE[:-2], "--batch", 8, "--loss", "sum", "--seed", 3)
    base = next(ln for ln in wide.splitlines() if ln.startswith("base: ")).rstrip()
    narrow = show(width, *COMPARE[:-2], "--batch", 8, "--loss", "sum", "--seed", 3)
    check_parts_whole(narrow, base.split(" · "))


def test_parts_fold_at_the_separator_only():
    from gradsim.report.tables.common import Parts

    p = Parts("L=20 n=256 B=128 · relu · mse loss · float32 · seed 0")
    assert p.lines(200) == ["L=20 n=256 B=128 · relu · mse loss · float32 · seed 0"]
    assert p.lines(30) == ["L=20 n=256 B=128 · relu", "mse loss · float32 · seed 0"]
    assert p.lines(10) == ["L=20 n=256 B=128", "relu", "mse loss", "float32", "seed 0"]
    assert all(len(ln) <= 27 for ln in p.lines(27))
