"""``.bentomodel`` and ``.bento`` archives: round trips, and hostile, corrupt or truncated ones
refused by name with nothing left in either store."""

from __future__ import annotations

import io
import os
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bentoml_classic.bentos.archive import export_bento, import_bento
from bentoml_classic.bentos.bento import BentoInfo, BentoModelRecord
from bentoml_classic.bentos.store import BentoStore
from bentoml_classic.exceptions import BadArchive, InvalidArgument
from bentoml_classic.models.archive import export_model, import_model
from bentoml_classic.models.store import ModelStore


def save_model(store: ModelStore, name: str = "m") -> str:
    with store.create(name, module="tests.fake") as model:
        Path(model.path, "weights.bin").write_bytes(b"\x00\x01" * 100)
    return str(model.tag)


def make_bento(store: BentoStore, models: ModelStore, model_tag: str) -> str:
    """A bento folder written by hand (build_bento imports a service; not needed here)."""
    model = models.get(model_tag)
    info = BentoInfo(
        service="service:svc",
        name="hand_made",
        version="v1",
        bentoml_version="0",
        creation_time=datetime.now(UTC),
        models=[
            BentoModelRecord(
                tag=str(model.tag), module="tests.fake", creation_time=model.creation_time
            )
        ],
    )
    tmp = store.new_directory(info.tag)
    Path(tmp, "src").mkdir()
    Path(tmp, "src", "service.py").write_text("svc = None\n")
    import shutil

    shutil.copytree(model.path, Path(tmp, "models", model.tag.name, model.tag.version or ""))
    Path(tmp, "bento.yaml").write_text(info.to_yaml())
    store.commit_directory(tmp, info.tag)
    return str(info.tag)


def store_is_empty(root: Path) -> bool:
    """Nothing in a store but its lock and an empty temporary folder."""
    if not root.exists():
        return True
    leftovers = [p.name for p in root.iterdir() if p.name not in {".lock", ".tmp"}]
    tmp = root / ".tmp"
    return not leftovers and (not tmp.exists() or not any(tmp.iterdir()))


@pytest.fixture
def stores(tmp_path: Path) -> tuple[ModelStore, BentoStore]:
    return ModelStore(tmp_path / "models"), BentoStore(tmp_path / "bentos")


def test_a_model_goes_out_and_comes_back(tmp_path: Path, stores: tuple) -> None:
    models, _ = stores
    tag = save_model(models)
    archive = export_model(tag, str(tmp_path), store=models)
    assert archive.endswith(".bentomodel") and tarfile.is_tarfile(archive)
    other = ModelStore(tmp_path / "other")
    imported = import_model(archive, store=other)
    assert str(imported.tag) == tag
    assert Path(imported.path, "weights.bin").read_bytes() == b"\x00\x01" * 100
    with pytest.raises(InvalidArgument, match=f"model {tag} already exists.*--force"):
        import_model(archive, store=other)
    assert str(import_model(archive, store=other, force=True).tag) == tag
    assert [str(m.tag) for m in other.list()] == [tag]


def test_a_bento_carries_its_models(tmp_path: Path, stores: tuple) -> None:
    models, bentos = stores
    model_tag = save_model(models)
    bento_tag = make_bento(bentos, models, model_tag)
    archive = export_bento(bento_tag, str(tmp_path / "out.bento"), store=bentos)
    other_models, other_bentos = ModelStore(tmp_path / "m2"), BentoStore(tmp_path / "b2")
    bento = import_bento(archive, store=other_bentos, model_store=other_models)
    assert str(bento.tag) == bento_tag
    assert Path(bento.src_dir, "service.py").is_file()
    assert str(other_models.get(model_tag).tag) == model_tag  # into the model store too
    with pytest.raises(InvalidArgument, match=f"bento {bento_tag} already exists.*--force"):
        import_bento(archive, store=other_bentos, model_store=other_models)
    assert import_bento(archive, force=True, store=other_bentos, model_store=other_models)


def _hostile(path: Path, member: tarfile.TarInfo, data: bytes = b"x") -> str:
    with tarfile.open(path, "w:xz") as archive:
        ok = tarfile.TarInfo("model.yaml")
        archive.addfile(ok, io.BytesIO(b""))
        member.size = len(data) if member.isfile() else 0
        archive.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return str(path)


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


HOSTILE = {
    "path escape": (_member("../../escaped.txt"), "escapes"),
    "absolute path": (_member("/tmp/absolute.txt"), "absolute path"),
    "symlink out": (_member("link", tarfile.SYMTYPE, "../../outside"), "outside"),
    "absolute symlink": (_member("link", tarfile.SYMTYPE, "/etc/passwd"), "outside"),
    "hard link out": (_member("hard", tarfile.LNKTYPE, "../outside"), "hard link"),
    "device file": (_member("dev", tarfile.CHRTYPE), "device file"),
    "fifo": (_member("fifo", tarfile.FIFOTYPE), "not a regular file"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_archive_is_refused_by_member(tmp_path: Path, stores: tuple, case: str) -> None:
    models, bentos = stores
    member, reason = HOSTILE[case]
    archive = _hostile(tmp_path / "evil.tar.xz", member)
    with pytest.raises(BadArchive, match=reason) as info:
        import_model(archive, store=models)
    assert repr(member.name) in info.value.message
    with pytest.raises(BadArchive, match=reason):
        import_bento(archive, store=bentos, model_store=models)
    assert store_is_empty(Path(models.root)) and store_is_empty(Path(bentos.root))
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/absolute.txt").exists()


def test_corrupt_and_truncated_archives_are_named(tmp_path: Path, stores: tuple) -> None:
    models, bentos = stores
    model_tag = save_model(models)
    bento_tag = make_bento(bentos, models, model_tag)
    good = Path(export_bento(bento_tag, str(tmp_path / "good.bento"), store=bentos)).read_bytes()
    (tmp_path / "truncated.bento").write_bytes(good[: len(good) // 2])
    (tmp_path / "corrupt.bento").write_bytes(b"\xfd7zXZ\x00" + os.urandom(2000))
    (tmp_path / "empty.bento").write_bytes(b"")
    fresh_models, fresh_bentos = ModelStore(tmp_path / "m2"), BentoStore(tmp_path / "b2")
    for name in ("truncated", "corrupt", "empty"):
        path = str(tmp_path / f"{name}.bento")
        with pytest.raises(BadArchive, match="corrupt or truncated") as info:
            import_bento(path, store=fresh_bentos, model_store=fresh_models)
        assert path in info.value.message
    model_archive = tmp_path / "model-only.tar.xz"
    with tarfile.open(model_archive, "w:xz") as archive:
        archive.add(models.get(model_tag).path, arcname=".")
    with pytest.raises(BadArchive, match="not a bento archive"):
        import_bento(str(model_archive), store=fresh_bentos, model_store=fresh_models)
    assert store_is_empty(Path(fresh_models.root)) and store_is_empty(Path(fresh_bentos.root))
