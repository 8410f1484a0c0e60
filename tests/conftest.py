import os

# small matrices: one BLAS thread is faster and keeps a loaded machine from thrashing
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from gradsim.cli import cli  # noqa: E402


@pytest.fixture
def invoke():
    """Run the CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    runner = CliRunner()

    def _invoke(*args):
        return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return _invoke
