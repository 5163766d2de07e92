"""bentoml.pytorch: save/load/get with tiny real modules, runners in this process, bad input."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch extra is not installed")

from bentoml_classic.frameworks import pytorch as bento_pytorch  # noqa: E402
from bentoml_classic.frameworks.torch_tensors import worker_device  # noqa: E402

import bentoml_classic as bentoml  # noqa: E402
from bentoml_classic.exceptions import InvalidArgument  # noqa: E402
from bentoml_classic.models import ModelSignature  # noqa: E402
from bentoml_classic.protocol import codec  # noqa: E402
from bentoml_classic.protocol.frame_reader import FrameReader  # noqa: E402
from tests.support.torch_modules import Inspect, TinyMLP, TokenEmbedding  # noqa: E402

SPEC = {"dtype": "float32", "shape": [-1, 4]}


def local_runner(name: str) -> Any:
    runner = bento_pytorch.get(name).to_runner()
    runner.init_local(quiet=True)
    return runner


def test_public_name_and_round_trip(bentoml_home: Path) -> None:
    assert bentoml.pytorch is bento_pytorch
    module = TinyMLP()
    saved = bento_pytorch.save_model("mlp", module, labels={"team": "ml"})
    got = bento_pytorch.get("mlp:latest")
    assert got.tag == saved.tag
    assert got.info.module == "bentoml_classic.frameworks.pytorch"
    assert got.info.signatures == {"__call__": ModelSignature(batchable=False, batch_dim=0)}
    assert "torch" in got.info.context["framework_versions"]
    loaded = bento_pytorch.load_model(saved)
    assert isinstance(loaded, TinyMLP)
    x = torch.rand(2, 4)
    torch.testing.assert_close(loaded(x), module(x))


def test_runnable_declares_gpu_and_cpu(bentoml_home: Path) -> None:
    model = bento_pytorch.save_model("mlp", TinyMLP(), signatures={"__call__": {"batchable": True}})
    runnable = bento_pytorch.get_runnable(model)
    assert runnable.SUPPORTED_RESOURCES == ("nvidia.com/gpu", "cpu")
    assert runnable.SUPPORTS_CPU_MULTI_THREADING is True
    assert runnable.bentoml_runnable_methods__["__call__"].batchable is True


def test_integer_ids_stay_integers(bentoml_home: Path) -> None:
    # classic's torch.Tensor(x) made these float32, which nn.Embedding refuses
    bento_pytorch.save_model("emb", TokenEmbedding())
    runner = local_runner("emb")
    ids = np.array([[1, 2, 3]], dtype=np.int64)
    out = runner.run(ids)
    torch.testing.assert_close(out, TokenEmbedding()(torch.from_numpy(ids)))


@pytest.mark.parametrize("dtype", ["int64", "float64", "float32", "int32", "bool"])
def test_inputs_keep_their_dtype_under_inference_mode(bentoml_home: Path, dtype: str) -> None:
    bento_pytorch.save_model("inspect", Inspect())
    answer = local_runner("inspect").run(np.zeros((2, 3), dtype=dtype))
    assert answer["dtype"] == dtype
    assert answer["inference_mode"] is True
    assert answer["grad_enabled"] is False


def test_input_spec_converts_without_losing_the_kind(bentoml_home: Path) -> None:
    bento_pytorch.save_model(
        "inspect", Inspect(), signatures={"__call__": {"input_spec": {"dtype": "float32"}}}
    )
    runner = local_runner("inspect")
    assert runner.run(np.zeros((1, 4), dtype=np.float64))["dtype"] == "float32"
    assert runner.run(np.zeros((1, 4), dtype=np.int64))["dtype"] == "float32"


def test_no_copy_of_a_float32_input(bentoml_home: Path) -> None:
    bento_pytorch.save_model("inspect", Inspect(), signatures={"__call__": {"input_spec": SPEC}})
    x = np.ones((2, 4), dtype=np.float32)
    same = local_runner("inspect").run(x)["same"]
    assert same.data_ptr() == x.ctypes.data


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (np.ones((2, 4), dtype=np.float32), "dtype int64"),  # floats would lose their kind
        (np.ones((2, 5), dtype=np.int64), "shape (-1, 4)"),
        (np.ones((4,), dtype=np.int64), "shape (-1, 4)"),
        (np.array([["a", "b", "c", "d"]]), "must be numeric"),
    ],
)
def test_wrong_dtype_or_shape_is_a_400_naming_what_was_expected(
    bentoml_home: Path, value: np.ndarray, named: str
) -> None:
    bento_pytorch.save_model(
        "emb",
        TokenEmbedding(),
        signatures={"__call__": {"input_spec": {"dtype": "int64", "shape": [-1, 4]}}},
    )
    with pytest.raises(InvalidArgument) as caught:
        local_runner("emb").run(value)
    assert caught.value.http_status == 400
    assert named in caught.value.message
    assert "argument 0 of __call__" in caught.value.message


def test_save_refuses_what_is_not_a_module(bentoml_home: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"takes a torch\.nn\.Module, got OrderedDict"):
        bento_pytorch.save_model("weights", TinyMLP().state_dict())


def test_a_class_of_main_is_saved_by_value_and_loads_in_another_process(
    bentoml_home: Path,
) -> None:
    """A module whose class the training script defines (classic accepted it, via cloudpickle)
    loads where that script was never imported, as in a runner worker."""
    in_main = type(
        "Scripted",
        (torch.nn.Module,),
        {"__module__": "__main__", "forward": lambda self, x: x * 3},
    )
    bento_pytorch.save_model("scripted", in_main())
    script = (
        "import torch, bentoml_classic as b\n"
        "m = b.pytorch.load_model('scripted')\n"
        "print(type(m).__name__, m(torch.ones(2)).tolist())\n"
    )
    env = {**os.environ, "BENTOML_HOME": str(bentoml_home)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Scripted", "[3.0,", "3.0]"]


@pytest.mark.parametrize(
    ("input_spec", "message"),
    [
        ({"dtype": "float33"}, "not a torch dtype"),
        ({"dtype": "float32", "rank": 2}, "keys 'dtype' and/or 'shape'"),
        ({"shape": [-2, 4]}, "shape must be a list of sizes"),
    ],
)
def test_bad_input_spec_is_refused_at_save(
    bentoml_home: Path, input_spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        bento_pytorch.save_model(
            "mlp", TinyMLP(), signatures={"__call__": {"input_spec": input_spec}}
        )


def test_a_store_entry_that_is_not_a_torch_module_file(bentoml_home: Path) -> None:
    saved = bento_pytorch.save_model("mlp", TinyMLP())
    Path(saved.path_of(bento_pytorch.MODEL_FILENAME)).write_bytes(b"not a torch file")
    with pytest.raises(InvalidArgument, match="is not a torch module file") as caught:
        bento_pytorch.load_model("mlp")
    assert caught.value.http_status == 400


def test_a_store_entry_holding_weights_only(bentoml_home: Path) -> None:
    saved = bento_pytorch.save_model("mlp", TinyMLP())
    torch.save(TinyMLP().state_dict(), saved.path_of(bento_pytorch.MODEL_FILENAME))
    with pytest.raises(InvalidArgument, match=r"holds a OrderedDict, not a torch.nn.Module"):
        bento_pytorch.load_model("mlp")


def test_a_store_entry_saved_by_another_framework(bentoml_home: Path) -> None:
    bentoml.picklable_model.save_model("other", len)
    with pytest.raises(InvalidArgument, match=r"use bentoml\.picklable_model\.get") as caught:
        bento_pytorch.get("other")
    assert caught.value.detail["expected"] == bento_pytorch.MODULE_NAME


def test_input_specs_are_kept_beside_the_model(bentoml_home: Path) -> None:
    saved = bento_pytorch.save_model(
        "mlp", TinyMLP(), signatures={"__call__": {"batchable": True, "input_spec": SPEC}}
    )
    with open(saved.path_of(bento_pytorch.INPUT_SPECS_FILENAME)) as f:
        assert json.load(f) == {"__call__": [SPEC]}
    assert saved.info.signatures["__call__"] == ModelSignature(batchable=True)


def test_device_follows_the_resources() -> None:
    assert worker_device({}) == "cpu"
    assert worker_device({"CUDA_VISIBLE_DEVICES": ""}) == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert worker_device({"CUDA_VISIBLE_DEVICES": "0"}) == expected


def test_a_result_tensor_crosses_the_wire_as_its_own_memory() -> None:
    tensor = torch.rand(1024, 1024)
    chunks = codec.encode(7, codec.RESULT, tensor)
    raw = [c for c in chunks if isinstance(c, memoryview) and c.nbytes == tensor.nbytes]
    assert len(raw) == 1, "the tensor's bytes travel as one buffer of their own"
    assert np.frombuffer(raw[0], dtype=np.uint8).ctypes.data == tensor.data_ptr()
    ((call_id, kind, buffers),) = received(b"".join(bytes(c) for c in chunks))
    back = codec.decode(kind, buffers)
    assert call_id == 7
    assert isinstance(back, torch.Tensor)
    assert torch.equal(back, tensor)


def received(data: bytes) -> list[tuple[int, int, list[memoryview]]]:
    """The frames a FrameReader makes of ``data``, fed as a socket would."""
    reader = FrameReader()
    frames = []
    rest = memoryview(data)
    while rest:
        buffer = reader.get_buffer()
        n = min(len(buffer), len(rest))
        buffer[:n] = rest[:n]
        rest = rest[n:]
        frames += reader.buffer_updated(n)
    return frames


def test_saved_file_is_a_torch_pickle(bentoml_home: Path) -> None:
    saved = bento_pytorch.save_model("mlp", TinyMLP())
    with pytest.raises(pickle.UnpicklingError):
        torch.load(saved.path_of(bento_pytorch.MODEL_FILENAME), weights_only=True)


# Regression: torch.ops has the relative __file__ "_ops.py" and answers every attribute, so with
# torch loaded (a PyTorch runner worker) every class pickled in __main__ was ambiguous there.
def test_a_class_of_main_is_found_where_torch_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bentoml_classic.protocol.user_classes import find_user_class

    (tmp_path / "torch_user_module.py").write_text("class Reading:\n    pass\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import torch_user_module  # type: ignore[import-not-found]

    try:
        assert "torch.ops" in sys.modules
        assert find_user_class("__main__", "Reading") is torch_user_module.Reading
    finally:
        sys.modules.pop("torch_user_module", None)
