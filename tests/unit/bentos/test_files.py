"""Which files go into a bento's src/: include/exclude, .bentoignore anywhere, never .git."""

from __future__ import annotations

import os
from pathlib import Path

from bentoml_classic.bentos.files import copy_files, select_files


def tree(root: Path, files: list[str]) -> None:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)


def test_include_exclude_and_bentoignore_in_any_directory(tmp_path: Path) -> None:
    tree(
        tmp_path,
        [
            "service.py",
            "bentofile.yaml",
            "notes.txt",
            "pkg/model_code.py",
            "pkg/big.bin",
            "pkg/.bentoignore",
            "tests/test_x.py",
            ".git/config",
            "sub/.git/HEAD",
        ],
    )
    (tmp_path / "pkg" / ".bentoignore").write_text("*.bin\n")
    files = select_files(tmp_path, include=["*.py", "*.yaml", "pkg/"], exclude=["tests/"])
    assert files == ["bentofile.yaml", "pkg/.bentoignore", "pkg/model_code.py", "service.py"]


def test_everything_by_default_but_git(tmp_path: Path) -> None:
    tree(tmp_path, ["a.py", ".git/objects/x", "data/.hidden"])
    assert select_files(tmp_path, ["*"], []) == ["a.py", "data/.hidden"]


def test_a_link_pointing_outside_is_not_copied(tmp_path: Path) -> None:
    project = tmp_path / "project"
    tree(project, ["service.py", "inner.txt"])
    (tmp_path / "secret").write_text("do not ship")
    os.symlink(tmp_path / "secret", project / "outside_link")
    os.symlink(project / "inner.txt", project / "inside_link")
    files = select_files(project, ["*"], [])
    assert files == ["inner.txt", "inside_link", "service.py"]
    copy_files(project, files, str(tmp_path / "src"), show_progress=True)
    assert (tmp_path / "src" / "inside_link").read_text() == "inner.txt"
    assert not (tmp_path / "src" / "inside_link").is_symlink()
