"""Every example runs and shows what its docstring promises."""

import json
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG = b"\x89PNG\r\n\x1a\n"


def run_example(name, *args):
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *map(str, args)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(line.strip().split(":", 1) for line in out.strip().splitlines())


def test_he2015_relu30(tmp_path):
    lines = run_example("he2015_relu30.py", tmp_path)
    assert "vanishing" in lines["xavier_uniform"] and "×0.7" in lines["xavier_uniform"]
    assert "stable" in lines["he_normal"]
    assert (tmp_path / "he2015_relu30.png").read_bytes()[:8] == PNG


def test_glorot2010_tanh5(tmp_path):
    lines = run_example("glorot2010_tanh5.py", tmp_path, "--width", 300)
    # U(±1/√n) shrinks δ by at least 1/√3 per tanh layer: over 4 layers ≤ 10^-0.95;
    # Xavier only by tanh's own slope, much less
    std = float(lines["standard"].split("10^")[1].split(",")[0])
    norm = float(lines["normalized"].split("10^")[1].split(",")[0])
    assert -1.4 < std < -0.95 and -0.6 < norm < -0.1 and norm > std + 0.5
    for name in ("standard", "normalized"):
        assert (tmp_path / f"glorot2010_{name}.png").read_bytes()[:8] == PNG


def test_all_inits_152(tmp_path):
    lines = run_example("all_inits_152.py", tmp_path, "--depth", 60)
    assert "stable" in lines["he_normal"] and "stable" in lines["he_uniform"]
    assert "overflow" in lines["normal"]
    assert "nan" not in " ".join(lines.values()).lower()
    assert "δ = 0 at every layer" in lines["zeros"]  # not log10 δ_1/δ_L = +nan
    d = json.loads((tmp_path / "all_inits_152.json").read_text())
    assert d["kind"] == "compare" and len(d["runs"]) == len(lines)
    assert (tmp_path / "all_inits_152.png").read_bytes()[:8] == PNG


def test_he2015_train30(tmp_path):
    lines = run_example("he2015_train30.py", tmp_path, "--steps", 300)
    assert "stalled" in lines["xavier_uniform"] and "learned" in lines["he_normal"]
    d = json.loads((tmp_path / "he2015_train30.json").read_text())
    assert d["kind"] == "train" and [r["verdict"] for r in d["runs"]] == ["stalled", "learned"]
    assert (tmp_path / "he2015_train30.png").read_bytes()[:8] == PNG


def test_circles_inits(tmp_path):
    lines = run_example("circles_inits.py", tmp_path, "--steps", 1000)
    assert "stalled" in lines["zeros"] and "symmetry never broken" in lines["zeros"]
    assert "learned" in lines["he"] and "accuracy 100%" in lines["he"]
    assert "learned" not in lines["N(0,1)·10"]
    d = json.loads((tmp_path / "circles_inits.json").read_text())
    zeros, big = d["runs"][0], d["runs"][1]
    assert big["final_loss"] == zeros["final_loss"]  # every ReLU dead: only b_L learns
    assert (tmp_path / "circles_inits.png").read_bytes()[:8] == PNG


def test_residual_152(tmp_path):
    lines = run_example("residual_152.py", tmp_path, "--depth", 50, "--steps", 150)
    assert "learned" in lines["residual + batch norm"]
    d = json.loads((tmp_path / "residual_152.json").read_text())
    by = {r["label"]: r for r in d["runs"]}
    assert by["residual + batch norm"]["final_loss"] < 0.6 * by["plain"]["final_loss"]
    assert (tmp_path / "residual_152.png").read_bytes()[:8] == PNG
