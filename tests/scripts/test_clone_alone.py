"""Issue 15 item 2: a clone alone, in an empty folder, runs its tests.

`git clone` this repository's committed HEAD into a tmp dir with no spec folder beside it (nor any
sibling), then run a smoke subset there: the guide's worked examples (tests/data/vectors.json),
the layer and purity rules. The whole suite inside the suite would take minutes; these are the
tests that stopped at collection when the vectors lived outside the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SMOKE = (
    "tests/protocol/test_digest.py",
    "tests/protocol/test_frames.py",
    "tests/protocol/tls/test_tls_vector.py",
    "tests/test_layers.py",
    "tests/protocol/test_purity.py",
)


def test_a_fresh_clone_alone_passes_its_smoke_tests(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    clone = tmp_path / "empty" / "mepd"
    clone.parent.mkdir()
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", head], check=True)
    assert sorted(path.name for path in clone.parent.iterdir()) == [
        "mepd"
    ]  # nothing beside it, not even the spec folder

    # This interpreter's packages, but mepd and its tests from the clone (`-m` puts the
    # working directory first on sys.path, ahead of the editable install).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYTHON"))}
    where = subprocess.run(
        [sys.executable, "-c", "import mepd, tests.conftest as c; print(mepd.__file__, c.REPO)"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert where == [str(clone / "mepd" / "__init__.py"), str(clone)]

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SMOKE],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
    assert "error" not in result.stdout.splitlines()[-1]
