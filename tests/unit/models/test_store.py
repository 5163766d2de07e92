"""ModelStore: layout, version generation, tag resolution, deletion, atomicity and validation."""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from bentoml_classic import models
from bentoml_classic.exceptions import BentoMLException, InvalidArgument, ModelNotFound
from bentoml_classic.models.store import ModelStore, new_version, version_time
from bentoml_classic.tag import Tag, validate_name

MODULE = "bentoml_classic.frameworks.picklable_model"


@pytest.fixture
def store(bentoml_home: Path) -> ModelStore:
    return models.get_default_store()


def save(store: ModelStore, name: str = "iris", **kwargs: object) -> models.Model:
    with store.create(name, module=MODULE, **kwargs) as model:  # type: ignore[arg-type]
        Path(model.path_of("weights.bin")).write_bytes(b"w")
    return model


def entries(path: Path) -> list[str]:
    return sorted(os.listdir(path)) if path.exists() else []


def test_default_store_follows_bentoml_home_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "a"))
    assert models.get_default_store().root == str(tmp_path / "a" / "models")
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "b"))
    assert models.get_default_store().root == str(tmp_path / "b" / "models")
    monkeypatch.delenv("BENTOML_HOME")
    assert models.get_default_store().root == os.path.expanduser("~/bentoml/models")


def test_save_writes_the_documented_layout(store: ModelStore) -> None:
    model = save(store, labels={"team": "ml"}, metadata={"acc": 0.9})
    root = Path(store.root)
    version_dir = root / "iris" / model.tag.version
    assert model.path == str(version_dir)
    assert entries(version_dir) == ["model.yaml", "weights.bin"]
    assert (root / "iris" / "latest").read_text().strip() == model.tag.version
    assert entries(root / ".tmp") == []  # the temporary directory was renamed, not copied
    # Readable by other users, e.g. once copied into an image that runs as a non-root user.
    assert version_dir.stat().st_mode & 0o777 == 0o755
    assert (root / "iris" / "latest").stat().st_mode & 0o777 == 0o644
    data = yaml.safe_load((version_dir / "model.yaml").read_text())
    assert data["name"] == "iris" and data["version"] == model.tag.version
    assert data["module"] == MODULE
    assert data["labels"] == {"team": "ml"} and data["metadata"] == {"acc": 0.9}


def test_versions_are_valid_names_sorted_by_creation_time() -> None:
    versions = [new_version() for _ in range(200)]
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)
    for version in versions:
        assert len(version) == 16
        assert validate_name(version) == version
    then = datetime(2031, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
    assert version_time(new_version(then)) == then
    earlier = new_version(datetime(2001, 1, 1, tzinfo=UTC))
    later = new_version(datetime(2001, 1, 2, tzinfo=UTC))
    assert earlier[:11] < later[:11]


def test_version_time_round_trips() -> None:
    when = datetime.now(UTC) + timedelta(days=3650)
    assert version_time(new_version(when)) == when
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    made = version_time(new_version())
    assert before <= made <= datetime.now(UTC) + timedelta(milliseconds=1)


def test_get_by_name_latest_full_version_prefix_and_tag(store: ModelStore) -> None:
    first = save(store)
    second = save(store)
    assert first.tag.version < second.tag.version
    assert store.get("iris").tag == second.tag
    assert store.get("iris:latest").tag == second.tag
    assert store.get(str(first.tag)).tag == first.tag
    assert store.get(Tag("iris", first.tag.version)).tag == first.tag
    # The random suffix differs, so the full version minus its last character is unique.
    assert store.get(f"iris:{first.tag.version[:-1]}").tag == first.tag
    assert store.get("iris").info.module == MODULE


def test_ambiguous_prefix_lists_the_candidates(store: ModelStore) -> None:
    first, second = save(store), save(store)
    a, b = first.tag.version, second.tag.version
    prefix = a[: next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)]
    assert prefix  # created a moment apart: the leading time characters agree
    with pytest.raises(InvalidArgument, match="ambiguous") as info:
        store.get(f"iris:{prefix}")
    assert first.tag.version in info.value.message
    assert second.tag.version in info.value.message
    assert sorted(info.value.detail["candidates"]) == sorted(
        [first.tag.version, second.tag.version]
    )


def test_missing_name_names_the_tag(store: ModelStore) -> None:
    save(store, "other")
    with pytest.raises(ModelNotFound) as info:
        store.get("iris:latest")
    assert "iris:latest" in info.value.message
    assert "other" in info.value.message  # what the store does hold
    assert info.value.status_code == 404


def test_missing_version_lists_a_few_existing_versions(store: ModelStore) -> None:
    saved = [save(store) for _ in range(7)]
    with pytest.raises(ModelNotFound) as info:
        store.get("iris:zzzz")
    message = info.value.message
    assert "iris:zzzz" in message
    newest = [m.tag.version for m in reversed(saved)]
    assert all(v in message for v in newest[:5])
    assert not any(v in message for v in newest[5:])
    assert "2 more" in message


def test_invalid_tags_and_names_are_refused(store: ModelStore) -> None:
    with pytest.raises(InvalidArgument, match="Bad Name!"):
        store.get("Bad Name!")
    with pytest.raises(InvalidArgument, match="more than one"):
        store.get("a:b:c")
    with pytest.raises(InvalidArgument, match="bad/name"), store.create("bad/name", module=MODULE):
        pytest.fail("create must validate the name before yielding")
    assert entries(Path(store.root)) in ([], [".tmp"])


def test_upper_case_name_is_folded(store: ModelStore) -> None:
    model = save(store, "IrisClf")
    assert model.tag.name == "irisclf"
    assert store.get("irisclf").tag == model.tag


def test_list_is_grouped_by_name_newest_first_and_ignores_dot_dirs(store: ModelStore) -> None:
    a1, b1, a2 = save(store, "a"), save(store, "b"), save(store, "a")
    (Path(store.root) / "a" / ".half-written").mkdir()
    (Path(store.root) / ".tmp" / "leftover").mkdir(parents=True)
    assert [m.tag for m in store.list()] == [a2.tag, a1.tag, b1.tag]
    assert [m.tag for m in store.list("a")] == [a2.tag, a1.tag]
    assert store.list("nothing") == []
    assert [m.tag for m in models.list()] == [a2.tag, a1.tag, b1.tag]
    assert [m.tag for m in models.list("b")] == [b1.tag]
    assert [m.tag for m in models.list(str(a1.tag))] == [a1.tag]


def test_delete_older_version_keeps_latest(store: ModelStore) -> None:
    first, second = save(store), save(store)
    deleted = store.delete(first.tag)
    assert deleted.tag == first.tag
    assert not os.path.exists(first.path)
    assert store.get("iris").tag == second.tag
    assert (Path(store.root) / "iris" / "latest").read_text().strip() == second.tag.version


def test_delete_latest_repoints_to_newest_remaining(store: ModelStore) -> None:
    first, second, third = save(store), save(store), save(store)
    store.delete("iris:latest")
    assert (Path(store.root) / "iris" / "latest").read_text().strip() == second.tag.version
    store.delete(second.tag)
    assert store.get("iris").tag == first.tag
    assert not os.path.exists(third.path)


def test_delete_last_version_removes_the_name(store: ModelStore) -> None:
    model = save(store)
    models.delete(model.tag)
    assert not (Path(store.root) / "iris").exists()
    with pytest.raises(ModelNotFound):
        store.get("iris")
    with pytest.raises(ModelNotFound, match="iris"):
        store.delete("iris")
    assert entries(Path(store.root) / ".tmp") == []


def test_missing_or_stale_latest_file_falls_back_to_newest(store: ModelStore) -> None:
    first, second = save(store), save(store)
    latest = Path(store.root) / "iris" / "latest"
    latest.write_text(first.tag.version)  # latest is the file, not the newest: the file wins
    assert store.get("iris").tag == first.tag
    latest.write_text("0000000000000000")
    assert store.get("iris").tag == second.tag
    latest.unlink()
    assert store.get("iris:latest").tag == second.tag


def test_exception_inside_create_leaves_no_trace(store: ModelStore) -> None:
    kept = save(store)
    root = Path(store.root)
    before = entries(root / "iris")
    with (
        pytest.raises(RuntimeError, match="disk on fire"),
        store.create("iris", module=MODULE) as m,
    ):
        Path(m.path_of("weights.bin")).write_bytes(b"partial")
        assert Path(m.path).parent == root / ".tmp"  # written inside the store: same filesystem
        raise RuntimeError("disk on fire")
    assert entries(root / "iris") == before
    assert entries(root / ".tmp") == []
    assert store.get("iris:latest").tag == kept.tag
    with pytest.raises(RuntimeError), store.create("fresh", module=MODULE):
        raise RuntimeError("boom")
    assert not (root / "fresh").exists()


def test_keyboard_interrupt_inside_create_leaves_no_trace(store: ModelStore) -> None:
    with pytest.raises(KeyboardInterrupt), store.create("iris", module=MODULE) as model:
        Path(model.path_of("weights.bin")).write_bytes(b"partial")
        raise KeyboardInterrupt
    assert not (Path(store.root) / "iris").exists()
    assert entries(Path(store.root) / ".tmp") == []


def test_labels_are_validated_at_save_time(store: ModelStore) -> None:
    with (
        pytest.raises(InvalidArgument, match="'owner'"),
        store.create("iris", module=MODULE, labels={"owner": 42}),
    ):
        pytest.fail("unreachable")
    with pytest.raises(InvalidArgument, match="label keys"):
        save(store, labels={1: "x"})
    assert not (Path(store.root) / "iris").exists()


def test_metadata_must_be_plain_data_and_names_the_key(store: ModelStore) -> None:
    with pytest.raises(InvalidArgument, match=r"metadata\['nested'\]\['when'\]"):
        save(store, metadata={"ok": 1, "nested": {"when": object()}})
    with pytest.raises(InvalidArgument, match="keys must be strings"):
        save(store, metadata={1: "one"})
    assert not (Path(store.root) / "iris").exists()
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    metadata = {"acc": np.float64(0.5), "n": np.int64(3), "xs": (1, 2), "trained": when}
    model = save(store, metadata=metadata)
    loaded = store.get(model.tag)
    assert loaded.info.metadata == {"acc": 0.5, "n": 3, "xs": [1, 2], "trained": when}
    assert type(loaded.info.metadata["n"]) is int


def test_custom_objects_round_trip_and_load_lazily(store: ModelStore) -> None:
    model = save(store, custom_objects={"classes": ["a", "b"], "scale": 2.5})
    assert model.custom_objects == {"classes": ["a", "b"], "scale": 2.5}
    assert os.path.exists(model.path_of("custom_objects.pkl"))
    loaded = store.get(model.tag)
    assert loaded._custom_objects is None  # nothing read until asked
    assert loaded.custom_objects == {"classes": ["a", "b"], "scale": 2.5}
    assert save(store, "plain").custom_objects == {}
    assert store.get("plain").custom_objects == {}


def test_unpicklable_custom_object_fails_before_anything_is_written(store: ModelStore) -> None:
    with pytest.raises(InvalidArgument, match=r"custom_objects\['lock'\]"):
        save(store, custom_objects={"fine": 1, "lock": threading.Lock()})
    assert not (Path(store.root) / "iris").exists()
    assert entries(Path(store.root) / ".tmp") == []


def test_corrupt_model_yaml_names_the_path(
    store: ModelStore, caplog: pytest.LogCaptureFixture
) -> None:
    good, bad = save(store, "good"), save(store, "bad")
    yaml_path = Path(bad.path_of("model.yaml"))
    yaml_path.write_text("name: [unclosed\n  - : :")
    with pytest.raises(BentoMLException) as info:
        store.get("bad")
    assert str(yaml_path) in info.value.message
    assert type(info.value) is BentoMLException
    with caplog.at_level(logging.WARNING):
        assert [m.tag for m in store.list()] == [good.tag]
    assert "bad" in caplog.text
    yaml_path.write_text("just a string\n")
    with pytest.raises(BentoMLException, match="expected a mapping"):
        store.get("bad")
    yaml_path.unlink()
    with pytest.raises(BentoMLException, match=str(yaml_path)):
        store.get("bad")


def test_model_yaml_that_describes_another_model_is_refused(store: ModelStore) -> None:
    a, b = save(store, "a"), save(store, "b")
    Path(b.path_of("model.yaml")).write_text(Path(a.path_of("model.yaml")).read_text())
    with pytest.raises(BentoMLException, match="describes a:"):
        store.get("b")


def test_concurrent_saves_all_land_and_latest_is_one_of_them(store: ModelStore) -> None:
    saved: list[models.Model] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                saved.append(save(store))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({m.tag for m in saved}) == 20
    assert {m.tag for m in store.list("iris")} == {m.tag for m in saved}
    assert store.get("iris").tag in {m.tag for m in saved}
    assert entries(Path(store.root) / ".tmp") == []
    assert (Path(store.root) / ".lock").exists()


def test_models_create_passthrough_uses_default_store(bentoml_home: Path) -> None:
    with models.create("passthrough", module=MODULE, metadata={"k": "v"}) as model:
        assert str(bentoml_home) in model.path
    assert models.get("passthrough").info.metadata == {"k": "v"}
    assert model.path == str(bentoml_home / "models" / "passthrough" / model.tag.version)
    assert "passthrough" in models.get_default_store()
    assert "absent" not in models.get_default_store()
