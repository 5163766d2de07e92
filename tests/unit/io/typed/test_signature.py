"""Reading an API method's signature: which parameters make the body, and the start-up errors
that name the method and the parameter."""

from __future__ import annotations

import typing as t
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from bentoml_classic.context import Context
from bentoml_classic.exceptions import BentoMLException
from bentoml_classic.io.typed import SignatureError, input_for, output_for


class Opaque:
    """A class pydantic has no schema for."""


class Plain:
    def no_hint(self, prompt):  # type: ignore[no-untyped-def]
        ...

    def star_args(self, *values: int) -> None: ...

    def positional_only(self, a: int, /) -> None: ...

    def forward(self, item: NotDefinedAnywhere) -> None:  # type: ignore[name-defined]  # noqa: F821
        ...

    def list_of_paths(self, files: list[Path]) -> None: ...

    def union_of_image(self, image: PIL.Image.Image | int) -> None: ...

    def unknown_class(self, thing: Opaque) -> None: ...

    def with_context(self, text: str, ctx: Context) -> str: ...

    def unannotated_context(self, text: str, context) -> str:  # type: ignore[no-untyped-def]
        ...

    def kinds(
        self,
        image: PIL.Image.Image,
        doc: Path,
        blob: t.BinaryIO,
        maybe: t.Optional[Path] = None,  # noqa: UP045
        arr: np.ndarray = None,  # type: ignore[assignment]
        **rest: t.Any,
    ) -> None: ...

    def stream_of_dicts(self) -> t.Iterator[dict[str, int]]: ...

    def output_unknown(self) -> Opaque: ...


@pytest.mark.parametrize(
    ("method", "param", "words"),
    [
        (Plain.no_hint, "prompt", "has no type hint"),
        (Plain.star_args, "values", "*args"),
        (Plain.positional_only, "a", "positional-only"),
        (Plain.forward, "item", "NotDefinedAnywhere"),
        (Plain.list_of_paths, "files", "one multipart part"),
        (Plain.union_of_image, "image", "one multipart part"),
        (Plain.unknown_class, "thing", "cannot be validated from JSON"),
    ],
)
def test_unusable_parameters_are_signature_errors_naming_method_and_parameter(
    method: t.Any, param: str, words: str
) -> None:
    with pytest.raises(SignatureError) as info:
        input_for(method)
    message = info.value.message
    assert f"Plain.{method.__name__}" in message
    assert repr(param) in message
    assert words in message
    assert info.value.detail == {"method": f"Plain.{method.__name__}", "parameter": param}
    assert isinstance(info.value, BentoMLException)


@pytest.mark.parametrize("method", [Plain.stream_of_dicts, Plain.output_unknown])
def test_unusable_return_annotations_are_signature_errors(method: t.Any) -> None:
    with pytest.raises(SignatureError, match=f"Plain.{method.__name__}"):
        output_for(method)


def test_the_context_parameter_is_not_part_of_the_body() -> None:
    for method in (Plain.with_context, Plain.unannotated_context):
        descriptor = input_for(method)
        assert descriptor.json_params == ["text"]
        assert descriptor.context_param in ("ctx", "context")
        assert not descriptor.multipart


def test_file_kinds_make_the_body_multipart() -> None:
    descriptor = input_for(Plain.kinds)
    kinds = {p.name: p.kind for p in descriptor.signature.params}
    assert kinds == {
        "image": "image",
        "doc": "path",
        "blob": "file",
        "maybe": "path",
        "arr": "json",
    }
    assert descriptor.multipart
    assert descriptor.var_keyword == "rest"
    assert descriptor.mime_type == "multipart/form-data"
    assert descriptor.input_error_statuses >= {400, 415}


def test_a_service_without_arrays_or_images_does_not_load_numpy_pil_or_pandas() -> None:
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import sys
        import bentoml_classic
        before = set(sys.modules)
        from bentoml_classic.io.typed import input_for, output_for

        class S:
            def f(self, a: int, b: dict[str, float] | None = None) -> dict[str, int]: ...

        input_for(S.f).from_json(b'{"a": 1}')
        output_for(S.f)
        added = {m.split(".")[0] for m in set(sys.modules) - before}
        print(sorted(added & {"numpy", "PIL", "pandas"}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
