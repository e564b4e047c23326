"""A plain (non-editable) install ships every problem file and the migrations."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_carries_every_problem_and_migration_and_finds_them_installed(tmp_path):
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr.decode()[-2000:]
    wheel = next(tmp_path.glob("interview_bot-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {Path(n).name for n in names if n.startswith("problems/") and n.endswith(".toml")}
    assert shipped == {p.name for p in (ROOT / "problems").glob("*.toml")}
    assert any(n.startswith("bot/migrations/versions/0001") for n in names)
    assert "bot/migrations/env.py" in names

    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr.decode()[-2000:]
    env = {**os.environ, "PYTHONPATH": str(target)}
    check = subprocess.run(
        [sys.executable, "-c", "import problems, flows; print(len(problems.load_bank()), problems.__file__)"],
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    count, where = check.stdout.decode().split()
    assert int(count) == len(shipped) and where.startswith(str(target))
