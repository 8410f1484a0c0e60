"""Write tests/golden/run.json.gz: the ``--format json`` output of every case in cases.py
(``gradsim run`` and a few whole command lines), as this checkout computes it. Run it only
to renew the fixture on purpose, saying why in the commit (tests/test_golden.py holds later
versions to these bytes)."""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
sys.path.insert(0, str(Path(__file__).parent))

from cases import cases, other_cases  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from gradsim.cli import cli  # noqa: E402


def outputs() -> dict[str, str]:
    runner = CliRunner()
    out = {}
    for args in cases():
        r = runner.invoke(cli, ["run", *args, "--format", "json"], catch_exceptions=False)
        assert r.exit_code == 0, (args, r.output)
        out[" ".join(args)] = r.stdout
    for args in other_cases():
        r = runner.invoke(cli, [*args, "--format", "json"], catch_exceptions=False)
        assert r.exit_code == 0, (args, r.output)
        out[" ".join(args)] = r.stdout
    return out


if __name__ == "__main__":
    data = outputs()
    path = Path(__file__).with_name("run.json.gz")
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(data, f, indent=0, sort_keys=True)
    print(f"{len(data)} cases → {path} ({path.stat().st_size} bytes)")
