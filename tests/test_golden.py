"""The golden fixture: what main computed before the five copies of the pass became one.

Every plain ``gradsim run --format json`` case of tests/golden/cases.py must give the very
bytes that tests/golden/make.py recorded, and so must the whole command lines of the pass's
other consumers (training, the spectrum, a comparison).

Residual and normalized networks (``--residual``, ``--norm``) took a pass of their own
before; in the one pass they may differ in the last bits, for two reasons only:

* ‖∂E/∂W_l‖ comes from the Gram matrices HHᵀ and δδᵀ wherever that pays
  (B(n_in + n_out) ≤ n_in·n_out), as for plain networks, where the old pass always formed
  Hᵀδ: the same sum in another order, a few units of the dtype's last place;
* in float16, δ_L = ∂E/∂H_L ∘ φ'(Z_L) and δ_l = (∂E/∂U_{l+1} W_{l+1}ᵀ) ∘ φ'(Z_l) are rounded
  to float16 once, after the product, as for plain networks, where the old pass rounded
  the factor to float16 first: a few units of float16's last place (2^-10).

So for those cases every string, flag and verdict is equal and every number agrees to a
few units of the run's dtype's last place.

The train command lines' entries were renewed once, for what issue 15 changed and nothing
else (checked field by field when renewed): new fields (the clipped and global gradient
norms, ``clipped``, ``clipped_steps``, ``config.bn_eval``); ``log10_grad_norm`` of the
``--clip-norm`` case, now the raw gradient's (the old values are its
``log10_clipped_grad_norm``); and the whole-set losses of the batch-norm case (step 0's loss
and accuracy, the final loss and accuracy, ``half_step``, the verdict), now in evaluation
mode (with ``--bn-eval batch`` it gives the old numbers exactly).

Issue 15 also made ``gelu`` the exact erf form and named the tanh form ``gelu_tanh``: the
``gelu`` entries were recorded again, and each ``gelu_tanh`` entry is the old ``gelu`` entry
with only the name changed, so the cases below hold ``gelu_tanh`` to the numbers ``gelu``
gave before (the same bytes, or a few last places for the residual and normalized cases).

Loss scaling (issue 15, part 2) added keys and changed no number: ``config.loss_scale``
(``ideal``, the default, is the pass the fixture recorded), per layer ``delta_zero_frac``,
``log10_delta_max`` and ``underflowed``, ``summary.loss_scale`` and a train run's
``loss_scale``. They are taken out of the output (``NEW_KEYS``) before it is compared, so every
case, float16 included, is still held to the recorded bytes.

The underflow sentence was reworded once to agree in number ("δ at layer 2 falls below …
and is lost to zero soon after; gradsim tracks its true size" where it names one thing):
the six entries that name one thing had that sentence replaced in place, and nothing else.
It also no longer says that gradsim tracks the signal's true size where the forward pass is
plain (a tanh network with biases): the one such entry says "gradsim tracks δ's true size;
the signal is computed as float16 gives it", replaced in place the same way.
"""

from __future__ import annotations

import gzip
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent / "golden"
sys.path.insert(0, str(HERE))
from cases import cases, other_cases  # noqa: E402

sys.path.remove(str(HERE))

with gzip.open(HERE / "run.json.gz", "rt", encoding="utf-8") as _f:
    GOLDEN: dict[str, str] = json.load(_f)

# a few units in the last place of each dtype, relative
ULPS = {d: 8 * float(np.finfo(d).eps) for d in ("float16", "float32", "float64")}


def _architecture(args) -> bool:
    return "--residual" in args or "--norm" in args


def _close(old, new, rtol: float, path: str = "") -> list[str]:
    """Where ``new`` differs from ``old`` beyond ``rtol`` (numbers) or at all (the rest)."""
    if isinstance(old, dict) and isinstance(new, dict) and old.keys() == new.keys():
        return [p for k in old for p in _close(old[k], new[k], rtol, f"{path}.{k}")]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [p for o, n in zip(old, new, strict=True) for p in _close(o, n, rtol, path)]
    if isinstance(old, float) and isinstance(new, float):
        # a log10 field's error is absolute: rtol·log10(e) for a relative error rtol
        atol = rtol if path.rsplit(".", 1)[-1].startswith("log10") else 1e-300
        return [] if math.isclose(old, new, rel_tol=rtol, abs_tol=atol) else [path]
    return [] if old == new and type(old) is type(new) else [path]


def test_the_fixture_holds_every_case():
    keys = {" ".join(a) for a in cases()} | {" ".join(a) for a in other_cases()}
    assert keys == set(GOLDEN)


# what issue 15 (loss scaling) added to the JSON, at the default (--loss-scale ideal): new
# keys only; every number the fixture holds stays byte for byte
NEW_KEYS = {"config": ("loss_scale",), "layer": ("delta_zero_frac", "log10_delta_max",
                                                  "underflowed"),
            "summary": ("loss_scale",)}  # fmt: skip


def _without_new_keys(stdout: str) -> str:
    """stdout with the keys NEW_KEYS names removed (wherever a config, a layer or a
    summary is), re-written as the CLI writes JSON (tests/test_precision.py checks that
    they are there)."""
    d = json.loads(stdout)

    def strip(x, where=None):
        if isinstance(x, dict):
            for key in NEW_KEYS.get(where, ()):
                x.pop(key, None)
            if "half_step" in x:  # a train run's record of its loss scale
                x.pop("loss_scale", None)
            for k, v in x.items():
                if k in ("config", "summary"):
                    strip(v, k)
                elif k == "layers" and isinstance(v, list):
                    for row in v:
                        strip(row, "layer")
                else:
                    strip(v)
        elif isinstance(x, list):
            for v in x:
                strip(v)

    strip(d)
    return json.dumps(d, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def _check(stdout: str, args: tuple[str, ...], dtype: str) -> None:
    want = GOLDEN[" ".join(args)]
    stdout = _without_new_keys(stdout)
    if not _architecture(args):
        assert stdout == want
    else:
        assert _close(json.loads(want), json.loads(stdout), ULPS[dtype]) == []


def _dtype(args) -> str:
    return args[args.index("--dtype") + 1] if "--dtype" in args else "float32"


@pytest.mark.parametrize("args", cases(), ids=" ".join)
def test_run_json_is_kept(invoke, args):
    r = invoke("run", *args, "--format", "json")
    assert r.exit_code == 0, r.output
    _check(r.stdout, args, _dtype(args))


@pytest.mark.parametrize("args", other_cases(), ids=" ".join)
def test_other_commands_are_kept(invoke, args):
    r = invoke(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    _check(r.stdout, args, _dtype(args))


def test_the_tolerance_sees_a_change():
    """The comparison of architecture cases fails on a change beyond the last places."""
    args = next(a for a in cases() if _architecture(a) and "float16" not in a)
    d = json.loads(GOLDEN[" ".join(args)])
    assert _close(d, d, ULPS["float32"]) == []
    d2 = json.loads(GOLDEN[" ".join(args)])
    d2["layers"][3]["log10_delta_rms"] *= 1 + 1e-5
    assert _close(d, d2, ULPS["float32"]) == [".layers.log10_delta_rms"]
    d2 = json.loads(GOLDEN[" ".join(args)])
    d2["summary"]["verdict"] = "exploding"
    assert _close(d, d2, ULPS["float32"]) == [".summary.verdict"]
