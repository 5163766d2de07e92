"""Multipart: parts matched as classic BentoML matched them (by name, else by position) and
parsed by their own descriptors; every malformed or missing part a 4xx naming it; rendering,
docs, from_sample."""

from __future__ import annotations

import email.parser
import email.policy
from typing import Any

import numpy as np
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

import bentoml_classic as bentoml
from bentoml_classic.exceptions import InvalidArgument
from bentoml_classic.http.openapi import build_openapi
from bentoml_classic.io import JSON, File, Image, Multipart, NumpyNdarray, Text
from bentoml_classic.io._form import MAX_PARTS

BOUNDARY = "0xKhTmLbOuNdArY"
FORM = f"multipart/form-data; boundary={BOUNDARY}"


class Meta(BaseModel):
    scale: float
    label: str = "none"


def form(*parts: tuple[str | None, bytes, str | None], boundary: str = BOUNDARY) -> bytes:
    """A multipart/form-data body of (name, data, content type) parts; name None: no name."""
    out = b""
    for name, data, content_type in parts:
        out += f"--{boundary}\r\n".encode()
        if name is not None:
            out += f'Content-Disposition: form-data; name="{name}"\r\n'.encode()
        if content_type is not None:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def descriptor() -> Multipart:
    return Multipart(
        arr=NumpyNdarray(dtype="float64", shape=(-1, 2), enforce_shape=True),
        meta=JSON(pydantic_model=Meta),
        note=Text(),
    )


GOOD_PARTS = [
    ("note", "héllo".encode(), "text/plain; charset=utf-8"),
    ("meta", b'{"scale": 2}', "application/json"),
    ("arr", b"[[1, 2], [3, 4]]", None),
]


def test_parts_are_matched_by_name_not_position(parse: Any) -> None:
    value = parse(descriptor(), form(*GOOD_PARTS), FORM)
    assert list(value) == ["arr", "meta", "note"]  # the declared order, not the body's
    assert value["arr"].dtype == np.float64
    assert value["arr"].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert value["meta"] == Meta(scale=2)
    assert value["note"] == "héllo"


def test_file_part_keeps_filename_and_type(parse: Any) -> None:
    body = (
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="doc"; filename="report.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + b"%PDF-\x00\xff"
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    value = parse(Multipart(doc=File()), body, FORM)
    assert value["doc"].read() == b"%PDF-\x00\xff"


def test_chunked_delivery_parses_the_same(parse: Any) -> None:
    value = parse(descriptor(), form(*GOOD_PARTS), FORM, chunk_size=7)
    assert value["note"] == "héllo"


def test_part_errors_come_from_the_part_descriptor_and_name_it(parse_error: Any) -> None:
    bad_arr = [("arr", b"[[1, 2, 3]]", "application/json"), *GOOD_PARTS[:2]]
    exc = parse_error(descriptor(), form(*bad_arr), FORM)
    assert exc.message.startswith("part 'arr': array shape [1, 3] does not match")
    assert exc.detail["part"] == "arr"
    assert exc.detail["received_shape"] == [1, 3]

    bad_meta = [GOOD_PARTS[0], ("meta", b'{"scale": "big"}', None), GOOD_PARTS[2]]
    exc = parse_error(descriptor(), form(*bad_meta), FORM)
    assert exc.message.startswith("part 'meta': part body failed validation against Meta")
    assert exc.detail[0]["loc"] == ["scale"]

    bad_arr = [("arr", b"[[1, 2", None), *GOOD_PARTS[:2]]
    exc = parse_error(descriptor(), form(*bad_arr), FORM)
    assert exc.message.startswith("part 'arr': invalid JSON in part body")


def test_a_plain_text_field_that_is_not_utf8_is_latin1_as_classic_read_it(parse: Any) -> None:
    value = parse(descriptor(), form(("note", b"caf\xe9", "text/plain"), *GOOD_PARTS[1:]), FORM)
    assert value["note"] == "café"


def test_json_parts_are_read_whatever_their_type_as_in_classic(parse: Any) -> None:
    parts = [
        GOOD_PARTS[0],
        ("meta", b'{"scale": 3}', "image/png"),
        ("arr", b"[[1, 2]]", "text/csv"),
    ]
    value = parse(descriptor(), form(*parts), FORM)
    assert value["meta"] == Meta(scale=3) and value["arr"].tolist() == [[1.0, 2.0]]


def test_a_part_with_a_content_type_its_descriptor_refuses_is_415(parse_error: Any) -> None:
    parts = [("doc", b"%PDF", "text/plain")]
    exc = parse_error(Multipart(doc=File(mime_type="application/pdf")), form(*parts), FORM, 415)
    assert exc.message.startswith("part 'doc': unsupported Content-Type 'text/plain'")


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/json",
        "text/plain",
        "multipart/mixed; boundary=x",
        "application/x-www-form-urlencoded",
    ],
)
def test_a_body_that_is_not_form_data_is_415_naming_the_type(
    parse_error: Any, content_type: str | None
) -> None:
    exc = parse_error(descriptor(), form(*GOOD_PARTS), content_type, status=415)
    assert "multipart/form-data" in exc.message
    assert exc.detail["expected"] == "multipart/form-data"


@pytest.mark.parametrize(
    ("content_type", "body", "word"),
    [
        ("multipart/form-data", form(*GOOD_PARTS), "boundary"),
        ("multipart/form-data; boundary=", form(*GOOD_PARTS), "boundary"),
        ("multipart/form-data; boundary=a;b", form(*GOOD_PARTS), "boundary"),
        ("multipart/form-data; boundary=" + "x" * 71, form(*GOOD_PARTS), "boundary"),
        ('multipart/form-data; boundary="bad\x01"', form(*GOOD_PARTS), "boundary"),
        (FORM, b"just some garbage", "invalid multipart"),
        (FORM, b"", "closing boundary"),
        (FORM, form(*GOOD_PARTS)[:-20], "closing boundary"),
        (FORM, form(*GOOD_PARTS, boundary="other"), "invalid multipart"),
        (FORM, f"--{BOUNDARY}\r\nno-colon-header\r\n\r\nx\r\n".encode(), "invalid multipart"),
    ],
)
def test_broken_multipart_bodies_are_400(
    parse_error: Any, content_type: str, body: bytes, word: str
) -> None:
    exc = parse_error(descriptor(), body, content_type)
    assert word in exc.message


def test_too_few_parts_name_the_missing_ones(parse_error: Any) -> None:
    exc = parse_error(descriptor(), form(GOOD_PARTS[0]), FORM)
    assert "no part named 'arr', 'meta'" in exc.message
    assert exc.detail == {
        "expected": ["arr", "meta", "note"],
        "missing": ["arr", "meta"],
        "received": 1,
    }


def test_unexpected_parts_are_ignored_as_in_classic(parse: Any) -> None:
    value = parse(descriptor(), form(("extra", b"1", None), *GOOD_PARTS), FORM)
    assert list(value) == ["arr", "meta", "note"] and value["note"] == "héllo"


def test_of_a_repeated_part_the_last_counts_as_in_classic(parse: Any) -> None:
    parts = [*GOOD_PARTS, ("meta", b'{"scale": 5}', None)]
    assert parse(descriptor(), form(*parts), FORM)["meta"] == Meta(scale=5)


def test_parts_of_other_names_are_taken_by_position_as_in_classic(parse: Any) -> None:
    parts = [("a", b"[[1, 2]]", None), ("b", b'{"scale": 2}', None), ("c", b"hi", None)]
    value = parse(descriptor(), form(*parts), FORM)
    assert value["arr"].tolist() == [[1.0, 2.0]]
    assert value["meta"] == Meta(scale=2) and value["note"] == "hi"


def test_a_part_taken_by_position_is_named_in_its_errors(parse_error: Any) -> None:
    parts = [GOOD_PARTS[0], GOOD_PARTS[0], ("x", b"", None), ("y", b"", None)]
    exc = parse_error(descriptor(), form(*parts), FORM)  # arr <- note, meta <- x, note <- y
    assert exc.message.startswith("part 'note': invalid JSON")


def test_a_part_without_a_name_is_400(parse_error: Any) -> None:
    exc = parse_error(descriptor(), form(*GOOD_PARTS, (None, b"1", None)), FORM)
    assert "Content-Disposition" in exc.message


def test_too_many_parts_are_refused_early(parse: Any, parse_error: Any) -> None:
    extra = [(f"p{i}", b"", None) for i in range(MAX_PARTS - 3)]
    assert parse(descriptor(), form(*GOOD_PARTS, *extra), FORM)["note"] == "héllo"
    exc = parse_error(descriptor(), form(*GOOD_PARTS, *extra, ("one", b"", None)), FORM)
    assert exc.detail["reason"] == "too many parts"


def test_error_statuses_are_the_union_of_the_parts() -> None:
    assert Multipart(a=Text()).input_error_statuses == {400, 415}
    assert 413 in Multipart(a=Text(), b=Image()).input_error_statuses


# -- construction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({}, "at least one part"),
        ({"a-b": Text()}, "identifier"),
        ({"class": Text()}, "identifier"),
        ({"inner": Multipart(a=Text())}, "nested"),
        ({"a": Text}, "instance"),
        ({"a": "text"}, "instance"),
    ],
)
def test_invalid_declarations_are_refused(kwargs: dict[str, Any], word: str) -> None:
    with pytest.raises(InvalidArgument, match=word):
        Multipart(**kwargs)


# -- output -------------------------------------------------------------------------------------


def parse_response(response: Any) -> dict[str, tuple[str, bytes]]:
    head = f"Content-Type: {response.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + response.body)
    return {
        str(part.get_param("name", header="content-disposition")): (
            part.get_content_type(),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    }


def test_output_renders_each_part_with_its_descriptor(render: Any) -> None:
    output = Multipart(total=JSON(), arr=NumpyNdarray(), note=Text(), blob=File())
    response = render(
        output, {"note": "ok ✓", "blob": b"\x00\x01", "total": {"a": 1}, "arr": np.arange(3)}
    )
    assert response.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = parse_response(response)
    assert list(parts) == ["total", "arr", "note", "blob"]
    assert parts["total"] == ("application/json", b'{"a":1}')
    assert parts["arr"] == ("application/json", b"[0, 1, 2]")
    assert parts["note"] == ("text/plain", "ok ✓".encode())
    assert parts["blob"] == ("application/octet-stream", b"\x00\x01")


def test_rendered_output_parses_back_as_input(render: Any, parse: Any) -> None:
    output = descriptor()
    value = {"arr": np.ones((2, 2)), "meta": Meta(scale=3), "note": "round trip"}
    response = render(output, value)
    back = parse(output, response.body, response.headers["content-type"])
    assert back["arr"].tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert back["meta"] == Meta(scale=3)
    assert back["note"] == "round trip"


@pytest.mark.parametrize(
    ("value", "word"),
    [
        ([1, 2], "dict"),
        ({"arr": [1]}, "missing"),
        ({"arr": [[1, 2]], "meta": {}, "note": "", "more": 1}, "unexpected"),
    ],
)
def test_output_that_does_not_fit_the_parts_is_a_type_error(
    render: Any, value: Any, word: str
) -> None:
    with pytest.raises(TypeError, match=word):
        render(descriptor(), value)


# -- documentation ------------------------------------------------------------------------------


def test_schema_lists_every_part_as_required_and_binary_parts_as_binary() -> None:
    multipart = Multipart(arr=NumpyNdarray(), meta=JSON(pydantic_model=Meta), img=Image())
    schema = multipart.openapi_schema()
    assert schema["required"] == ["arr", "meta", "img"]
    assert "additionalProperties" not in schema  # other parts are ignored
    assert schema["properties"]["arr"] == {}
    assert schema["properties"]["meta"] == {"$ref": "#/components/schemas/Meta"}
    assert schema["properties"]["img"] == {"type": "string", "format": "binary"}
    body = multipart.openapi_request_body()
    media = body["content"]["multipart/form-data"]
    assert media["encoding"]["arr"] == {"contentType": "application/json"}
    assert media["encoding"]["img"] == {"contentType": "image/*"}
    assert "Meta" in multipart.openapi_components()


def test_document_with_multipart_in_and_out_is_valid_openapi() -> None:
    svc = bentoml.Service("mp")

    @svc.api(input=descriptor(), output=Multipart(meta=JSON(pydantic_model=Meta), blob=File()))
    def predict(arr: Any, meta: Any, note: Any) -> Any:
        return {}

    document = build_openapi(svc)
    validate(document)
    operation = document["paths"]["/predict"]["post"]
    assert set(operation["responses"]) == {"200", "400", "413", "415", "500", "504"}
    assert "Meta" in document["components"]["schemas"]


def test_two_parts_with_clashing_model_names_are_refused() -> None:
    class A(BaseModel):
        x: int

    first = A

    class A(BaseModel):  # type: ignore[no-redef]
        y: str

    with pytest.raises(InvalidArgument, match="'A'"):
        Multipart(a=JSON(pydantic_model=first), b=JSON(pydantic_model=A)).openapi_components()


def test_from_sample_picks_a_descriptor_per_sample() -> None:
    multipart = Multipart.from_sample(
        arr=np.zeros((2, 3), dtype="float32"),
        meta=Meta(scale=1),
        tags=["a"],
        note="hello",
        blob=b"\x00",
        explicit=Text(),
    )
    kinds = {name: type(d).__name__ for name, d in multipart.descriptors.items()}
    assert kinds == {
        "arr": "NumpyNdarray",
        "meta": "JSON",
        "tags": "JSON",
        "note": "Text",
        "blob": "File",
        "explicit": "Text",
    }
    arr = multipart.descriptors["arr"]
    assert isinstance(arr, NumpyNdarray) and arr.shape == (-1, 3)
    meta = multipart.descriptors["meta"]
    assert isinstance(meta, JSON) and meta.pydantic_model is Meta
    # a binary part has no JSON example, so the form as a whole has none
    assert multipart.openapi_example() is None
    example = Multipart.from_sample({"sample": "x"}, n=[1]).openapi_example()
    assert example == {"sample": "x", "n": [1]}


def test_from_sample_needs_samples_and_names_a_bad_one() -> None:
    with pytest.raises(InvalidArgument, match="at least one"):
        Multipart.from_sample()
    with pytest.raises(InvalidArgument, match="'bad'"):
        Multipart.from_sample(bad=object())


def test_a_big_body_is_split_off_the_event_loop_with_the_same_result(parse: Any) -> None:
    blob = bytes(range(256)) * 8192  # 2 MiB, over the in-thread threshold
    body = form(("doc", blob, "application/octet-stream"), ("note", b"n", None))
    value = parse(Multipart(doc=File(), note=Text()), body, FORM)
    assert value["doc"].read() == blob
    assert value["note"] == "n"
