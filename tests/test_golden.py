"""The golden fixture: what main computed before the five copies of the pass became one.

Every ``gradsim run --format json`` case of tests/golden/cases.py must give the very bytes
that tests/golden/make.py recorded, and so must the whole command lines of the pass's other
consumers (training, the spectrum, a comparison).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "golden"
sys.path.insert(0, str(HERE))
from cases import cases, other_cases  # noqa: E402

sys.path.remove(str(HERE))

with gzip.open(HERE / "run.json.gz", "rt", encoding="utf-8") as _f:
    GOLDEN: dict[str, str] = json.load(_f)


def test_the_fixture_holds_every_case():
    keys = {" ".join(a) for a in cases()} | {" ".join(a) for a in other_cases()}
    assert keys == set(GOLDEN)


@pytest.mark.parametrize("args", cases(), ids=" ".join)
def test_run_json_is_byte_identical(invoke, args):
    r = invoke("run", *args, "--format", "json")
    assert r.exit_code == 0, r.output
    assert r.stdout == GOLDEN[" ".join(args)]


@pytest.mark.parametrize("args", other_cases(), ids=" ".join)
def test_other_commands_are_byte_identical(invoke, args):
    r = invoke(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    assert r.stdout == GOLDEN[" ".join(args)]
