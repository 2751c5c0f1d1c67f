"""The Dockerfile passes hadolint (every rule, style included); and hadolint does catch a bad one."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.deploy.conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def hadolint(tool: Callable[[str], Path], path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tool("hadolint")), "--no-color", "--failure-threshold", "style", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_dockerfile_passes_hadolint(tool: Callable[[str], Path]) -> None:
    result = hadolint(tool, DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_refuses_an_unpinned_root_image(tool: Callable[[str], Path], tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get update && apt-get install -y curl\nCMD python app.py\n")
    result = hadolint(tool, bad)
    assert result.returncode != 0
    assert {"DL3006", "DL3008", "DL3025"} <= set(re.findall(r"DL\d{4}", result.stdout))


def test_the_image_is_multi_stage_and_runs_as_a_user_from_the_lock_file() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM \S+ AS (\S+)$", text, flags=re.MULTILINE)
    assert {"build", "runtime"} <= set(stages)
    runtime = text.split(" AS runtime", 1)[1]
    users = re.findall(r"^USER (\S+)$", runtime, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "uv sync --frozen --no-dev" in text  # the lock file as it is, without the dev group
    assert not re.search(r"\buv\b", re.sub(r"#.*", "", runtime.split("COPY --from=build", 1)[1]))  # no uv at run time
