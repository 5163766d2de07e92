"""The committed stubs are what grpcio-tools makes of the committed .proto, and the proto says
what classic BentoML's bentoml.grpc.v1 says on the wire."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

protoc = pytest.importorskip("grpc_tools.protoc")

REPO = Path(__file__).resolve().parents[3]
PROTO = Path("bentoml_classic/grpc/v1/service.proto")
STUBS = ["service_pb2.py", "service_pb2.pyi", "service_pb2_grpc.py"]


def test_stubs_are_generated_from_the_proto(tmp_path: Path) -> None:
    source = tmp_path / PROTO
    source.parent.mkdir(parents=True)
    shutil.copy(REPO / PROTO, source)
    include = str(Path(protoc.__file__).parent / "_proto")
    status = protoc.main(
        [
            "protoc",
            f"-I{tmp_path}",
            f"-I{include}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            str(source),
        ]
    )
    assert status == 0
    for name in STUBS:
        generated = (source.parent / name).read_text()
        committed = (REPO / PROTO.parent / name).read_text()
        assert generated == committed, f"{name} differs: run `make grpc-stubs` and commit"


#: protobuf 7, installed apart by `make install`: the venv holds 6, which tritonclient asks for
PROTOBUF_7 = REPO / ".venv" / "protobuf7"


def test_stubs_run_under_protobuf_7_as_well_as_the_installed_runtime() -> None:
    """Classic's stubs broke on each protobuf major; these load and round-trip a message on the
    installed runtime (6, for tritonclient) and on the current major, 7."""
    import google.protobuf

    assert google.protobuf.__version__.split(".")[0] in {"6", "7"}
    assert PROTOBUF_7.is_dir(), "run `make install`: it puts protobuf 7 in .venv/protobuf7"
    script = (
        "import google.protobuf as p\n"
        "from bentoml_classic.grpc.v1 import service_pb2 as pb, service_pb2_grpc\n"
        "r = pb.Request(api_name='classify', ndarray=pb.NDArray(shape=[1], float_values=[1.5]))\n"
        "back = pb.Request.FromString(r.SerializeToString())\n"
        "assert back.ndarray.float_values == [1.5], back\n"
        "assert service_pb2_grpc.BentoServiceStub\n"
        "print(p.__version__)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROTOBUF_7), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("7."), done.stdout


def test_wire_numbers_are_classic_ones() -> None:
    from bentoml_classic.grpc.v1 import service_pb2 as pb

    def numbers(message: type) -> dict[str, int]:
        return {f.name: f.number for f in message.DESCRIPTOR.fields}  # type: ignore[attr-defined]

    assert pb.DESCRIPTOR.package == "bentoml.grpc.v1"
    methods = pb.DESCRIPTOR.services_by_name["BentoService"].methods_by_name
    assert sorted(methods) == ["Call", "ServiceMetadata"]
    assert numbers(pb.Request) == {
        "api_name": 1, "ndarray": 3, "dataframe": 5, "series": 6, "file": 7, "text": 8,
        "json": 9, "multipart": 10, "serialized_bytes": 2,
    }  # fmt: skip
    assert numbers(pb.Response) == {
        "ndarray": 1, "dataframe": 3, "series": 5, "file": 6, "text": 7, "json": 8,
        "multipart": 9, "serialized_bytes": 2,
    }  # fmt: skip
    assert numbers(pb.Part) == {
        "ndarray": 1, "dataframe": 3, "series": 5, "file": 6, "text": 7, "json": 8,
        "serialized_bytes": 4,
    }  # fmt: skip
    assert numbers(pb.NDArray) == {
        "dtype": 1, "shape": 2, "string_values": 5, "float_values": 3, "double_values": 4,
        "bool_values": 6, "int32_values": 7, "int64_values": 8, "uint32_values": 9,
        "uint64_values": 10,
    }  # fmt: skip
    assert numbers(pb.Series) == {
        "bool_values": 1, "float_values": 2, "int32_values": 3, "int64_values": 6,
        "string_values": 5, "double_values": 4,
    }  # fmt: skip
    assert numbers(pb.DataFrame) == {"column_names": 1, "columns": 2}
    assert numbers(pb.File) == {"kind": 3, "content": 2}
    assert numbers(pb.Multipart) == {"fields": 1}
    assert numbers(pb.ServiceMetadataResponse) == {"name": 1, "apis": 2, "docs": 3}
    assert numbers(pb.ServiceMetadataResponse.InferenceAPI) == {
        "name": 1, "input": 2, "output": 3, "docs": 4,
    }  # fmt: skip
    assert numbers(pb.ServiceMetadataResponse.DescriptorMetadata) == {
        "descriptor_id": 1, "attributes": 2,
    }  # fmt: skip
    assert [v.name for v in pb.NDArray.DType.DESCRIPTOR.values] == [
        "DTYPE_UNSPECIFIED", "DTYPE_FLOAT", "DTYPE_DOUBLE", "DTYPE_BOOL", "DTYPE_INT32",
        "DTYPE_INT64", "DTYPE_UINT32", "DTYPE_UINT64", "DTYPE_STRING",
    ]  # fmt: skip
    content = pb.Request.DESCRIPTOR.oneofs_by_name["content"]
    assert {f.name for f in content.fields} == set(numbers(pb.Request)) - {"api_name"}
