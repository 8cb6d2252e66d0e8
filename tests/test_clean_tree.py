"""`make test` leaves a clean tree: the browser tests' default screenshot folder is git-ignored.

The tracked docs/screenshots/ are refreshed only on purpose (`make screenshots`, which sets
SAFEGRID_SCREENSHOT_DIR=docs/screenshots). No browser, no database.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.browser import DEFAULT_SCREENSHOT_DIR, REPO_ROOT, screenshot_dir

DOCS_SHOTS = REPO_ROOT / "docs" / "screenshots"


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=False)


def test_default_screenshot_dir_is_under_tests_artifacts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFEGRID_SCREENSHOT_DIR", raising=False)
    folder = screenshot_dir()
    assert folder == DEFAULT_SCREENSHOT_DIR
    assert folder.resolve().is_relative_to((REPO_ROOT / "tests" / "artifacts").resolve())
    assert not folder.resolve().is_relative_to(DOCS_SHOTS.resolve())


def test_screenshot_dir_env_is_relative_to_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEGRID_SCREENSHOT_DIR", "docs/screenshots")
    assert screenshot_dir() == DOCS_SHOTS


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_default_screenshot_dir_is_git_ignored_and_untracked() -> None:
    if _git("rev-parse", "--is-inside-work-tree").stdout.strip() != "true":
        pytest.skip("not a git work tree")
    probe = DEFAULT_SCREENSHOT_DIR / "probe.png"
    rel = probe.relative_to(REPO_ROOT).as_posix()
    ignored = _git("check-ignore", "-q", "--no-index", rel)
    assert ignored.returncode == 0, f"{rel} is not git-ignored: screenshots would dirty the tree"
    folder = DEFAULT_SCREENSHOT_DIR.relative_to(REPO_ROOT).as_posix()
    tracked = _git("ls-files", "--", folder).stdout.strip()
    assert tracked == "", f"tracked files under {folder}: {tracked}"
