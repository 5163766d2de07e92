"""Adversarial bodies against every descriptor of a served service: bounded memory and time.

One API worker of ``bentoml serve`` (the production topology) gets bodies of 1, 5 and 15 MB
built to cost more than their size: a long string among numbers, many tiny elements, deep
nesting, huge numbers, long multipart headers, many parts. For each, the worker's peak resident
memory is reset (``/proc/PID/clear_refs``), the request is sent, and the rise of the peak
(``VmHWM``) over the resident size before it is read. The worker must answer (a 2xx, or a 4xx
naming the problem), keep serving, rise by at most ``factor`` times the body, and answer within
a time that grows with the body, not faster. docs/reliability.md has the figures.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.process_roles import workers_by_role
from tests.support.servers import E2E_SERVICES, serve_subprocess

MB = 1_000_000
SIZES = (1 * MB, 5 * MB, 15 * MB)
#: the size of the body of each case sent before measuring (see the ``worker`` fixture)
WARM_UP_SIZE = 64 * 1024
#: seconds per MB of body any case may take, on a loaded 2-core machine; linear processing
#: takes a fraction of it, the quadratic and exponential paths this guards against far more
SECONDS_PER_MB = 1.0
pytestmark = pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc/PID/clear_refs"
)


#: JSON() hands the function Python objects: a key of a few bytes is a str of about fifty. An
#: object of 940,000 keys measures 8.4-9.0x its body in the whole sweep and 9.5-9.6x run alone
#: (docs/reliability.md), within the 10x target but so near it that the allocator's state
#: decides; this bound leaves room for that one case. (Numbers sent as "+5.9" or " 5.9" and
#: records no longer become a Python object per number or a dict per record.)
OBJECTS = 18.0
#: records of two-character strings under one-character keys, ``{"a":"xy","b":"zw"}``: pandas'
#: constructor takes each value as a Python str of some fifty bytes, from eight bytes of JSON,
#: so the strings alone are about 7 times the body; measured 8.5-10.6x here (docs/reliability.md)
STRINGS = 12.0
#: ``1,2\n`` rows: the int64 frame they make is itself 8 times the body (two 8-byte numbers from
#: four bytes), so pandas' parse cannot stay under 10x; measured 9.6-10.2x depending on the
#: allocator's state, which made the 10x bound fail now and then
DENSE_CSV = 12.0


@dataclass(frozen=True)
class Case:
    name: str
    route: str
    build: Callable[[int], tuple[bytes, str]]  # size -> (body, content type)
    #: the most the worker's peak may rise, in multiples of the body
    factor: float = 10.0


def _json(value: object) -> tuple[bytes, str]:
    return json.dumps(value, separators=(",", ":")).encode(), "application/json"


def _repeated(item: object, size: int) -> tuple[bytes, str]:
    """A JSON array of ``item`` as many times as fits in ``size`` (built faster than
    ``json.dumps`` of the list)."""
    one = json.dumps(item, separators=(",", ":")).encode()
    return b"[" + b",".join([one] * (size // (len(one) + 1))) + b"]", "application/json"


def long_string_row(size: int) -> tuple[bytes, str]:
    return _json([["a" * (size - 20), 1, 1, 1]])


def long_string_pair(size: int) -> tuple[bytes, str]:
    return _json([["a" * (size - 20), 1]])


def numbers_as_strings(size: int) -> tuple[bytes, str]:
    return _json([["5.9", "3.0", "5.1"]] * (size // 22))


def spaced_number_strings(size: int) -> tuple[bytes, str]:
    # numbers quoted with spaces around them: numpy's cast strips the spaces, json.loads does not
    return _repeated([" 5.9", "3.0 ", " 5.1"], size)


def signed_number_strings(size: int) -> tuple[bytes, str]:
    # numbers JSON would not write ("+5.9"): numpy reads them, json.loads makes a str of each
    return _json(["+5.9"] * (size // 7))


def many_numbers(size: int) -> tuple[bytes, str]:
    return _json([1] * (size // 2))


def many_rows(size: int) -> tuple[bytes, str]:
    return _json([[1.5, 2.5]] * (size // 10))


def deep_nesting(size: int) -> tuple[bytes, str]:
    depth = size // 2
    return b"[" * depth + b"]" * depth, "application/json"


def huge_integer(size: int) -> tuple[bytes, str]:
    return b"[" + b"9" * (size - 2) + b"]", "application/json"


def many_huge_floats(size: int) -> tuple[bytes, str]:
    return _json([1e308] * (size // 7))


def long_text(size: int) -> tuple[bytes, str]:
    return b"x" * size, "text/plain"


def json_many_keys(size: int) -> tuple[bytes, str]:
    return _json({f"k{i}": i for i in range(size // 16)})


def model_with_long_key(size: int) -> tuple[bytes, str]:
    return _json({"name": "n", "price": 1.0, "k" * (size - 50): 1})


def model_with_many_bad_tags(size: int) -> tuple[bytes, str]:
    return _json({"name": "n", "price": 1.0, "tags": [1] * (size // 2)})


def csv_long_cell(size: int) -> tuple[bytes, str]:
    return b"a,b\n" + b"x" * (size - 10) + b",1\n", "text/csv"


def csv_many_rows(size: int) -> tuple[bytes, str]:
    return b"a,b\n" + b"1,2\n" * (size // 4), "text/csv"


def json_columns(size: int) -> tuple[bytes, str]:
    # a columns-orient body to a records API: pandas reads it, as classic did
    return _json({"a": [1] * (size // 4), "b": [2] * (size // 4)})


def json_records(size: int) -> tuple[bytes, str]:
    return _json([{"a": 1, "b": 2}] * (size // 16))


def json_word_records(size: int) -> tuple[bytes, str]:
    # words and nulls: a str column, a str column with a null, a float column of NaN
    return _repeated({"name": "Jane Doe", "code": "PT-11", "city": None, "score": None}, size)


def json_short_string_records(size: int) -> tuple[bytes, str]:
    return _repeated({"a": "xy", "b": "zw"}, size)


def series_many(size: int) -> tuple[bytes, str]:
    return _json([1] * (size // 2))


def noise_image(size: int) -> tuple[bytes, str]:
    return os.urandom(size), "image/png"


def bomb_png(size: int) -> tuple[bytes, str]:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (20_000, 20_000)).save(buffer, format="PNG")  # 400 MB decoded, small on disk
    data = buffer.getvalue()
    return data + b"\0" * max(0, size - len(data)), "image/png"


def _form(parts: list[tuple[bytes, bytes]], boundary: bytes = b"hostile") -> tuple[bytes, str]:
    body = b"".join(
        b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + data + b"\r\n" for head, data in parts
    )
    return body + b"--" + boundary + b"--\r\n", f"multipart/form-data; boundary={boundary.decode()}"


def many_parts(size: int) -> tuple[bytes, str]:
    part = (b'Content-Disposition: form-data; name="x"', b"1")
    return _form([part] * (size // 60))


def long_part_header(size: int) -> tuple[bytes, str]:
    head = b'Content-Disposition: form-data; name="note"\r\nX-Long: ' + b"h" * (size - 200)
    return _form([(head, b"1")])


def long_string_part(size: int) -> tuple[bytes, str]:
    head = b'Content-Disposition: form-data; name="arr"\r\nContent-Type: application/json'
    return _form([(head, json.dumps([["a" * (size - 300), 1, 1, 1]]).encode())])


CASES = [
    Case("long string among numbers", "ndarray_any", long_string_row),
    Case("long string beside a number", "ndarray_any", long_string_pair),
    Case("long string, numeric dtype", "ndarray_strict", long_string_row),
    Case("long string, int16 dtype", "ndarray_loose", long_string_pair),
    Case("numbers as strings", "ndarray_strict", numbers_as_strings),
    Case("numbers as signed strings", "ndarray_strict", signed_number_strings),
    Case("numbers as spaced strings", "ndarray_strict", spaced_number_strings),
    Case("file of any bytes", "file", long_text),
    Case("many numbers", "ndarray_any", many_numbers),
    Case("many rows", "ndarray_loose", many_rows),
    Case("deep nesting", "ndarray_any", deep_nesting),
    Case("huge integer", "ndarray_any", huge_integer),
    Case("many huge floats", "ndarray_strict", many_huge_floats),
    Case("long text", "text", long_text),
    Case("many keys", "json_any", json_many_keys, OBJECTS),
    Case("deep nesting", "json_any", deep_nesting),
    Case("long unknown key", "json_model", model_with_long_key),
    Case("many invalid items", "json_model", model_with_many_bad_tags),
    Case("long CSV cell", "dataframe", csv_long_cell),
    Case("many CSV rows", "dataframe", csv_many_rows, DENSE_CSV),
    Case("many JSON records", "dataframe", json_records),
    Case("JSON columns to records", "dataframe", json_columns),
    Case("JSON records of words and nulls", "dataframe", json_word_records),
    Case("JSON records of 2-char strings", "dataframe", json_short_string_records, STRINGS),
    Case("many values", "series", series_many),
    Case("random bytes", "image", noise_image),
    Case("decompression bomb", "image", bomb_png),
    Case("many parts", "multipart", many_parts),
    Case("long part header", "multipart", long_part_header),
    Case("long string in a part", "multipart", long_string_part),
]


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, psutil.Process]]:
    home = tmp_path_factory.mktemp("bentoml_home")
    args = ["hostile_service:svc", "--api-workers", "1"]
    # The rise of the peak over the resident size is what a case costs only if the memory an
    # earlier case freed left the process: a worker that keeps it for the next requests
    # (serving/heap.py, the default) would reuse it uncounted. So the C library's own policy.
    env = {"BENTOML_HOME": str(home), "BENTOML_CONFIG_OPTIONS": "api_server.heap.retain_mb=0"}
    with serve_subprocess(args, cwd=E2E_SERVICES, env=env) as (url, process):
        (api_worker,) = workers_by_role(process.pid)["api"]
        # A worker forked from the library preforker (the default) has none of the libraries'
        # code pages in its page tables until it runs that code: the first CSV parsed faulted
        # in 14 MB of pandas' and pyarrow's code, pages already in memory and shared with the
        # preforker, which an unforked worker had mapped while importing them. One small body
        # per case first, so that the peak measured is what each body costs.
        with httpx.Client(timeout=60) as client:
            for case in CASES:
                body, content_type = case.build(WARM_UP_SIZE)
                client.post(
                    f"{url}/{case.route}", content=body, headers={"content-type": content_type}
                )
        # the first frame of strings a worker makes grows its allocators (Python's arenas,
        # Arrow's first segments) by some 10 MB, once per process: done here, so that each case
        # measures what a request costs, whatever order the cases run in
        body, content_type = json_short_string_records(MB)
        warm = httpx.post(
            f"{url}/dataframe", content=body, headers={"content-type": content_type}, timeout=60
        )
        assert warm.status_code == 200, warm.text
        yield url, api_worker


def _kib(process: psutil.Process, field: str) -> int:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/{process.pid}/status")


def measure(url: str, worker: psutil.Process, case: Case, size: int) -> tuple[int, int, float]:
    """(status, rise of the worker's peak RSS in bytes, seconds) for one request."""
    body, content_type = case.build(size)
    with httpx.Client(timeout=120) as client:
        before = _kib(worker, "VmRSS")
        Path(f"/proc/{worker.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        started = time.monotonic()
        response = client.post(
            f"{url}/{case.route}", content=body, headers={"content-type": content_type}
        )
        seconds = time.monotonic() - started
        rise = _kib(worker, "VmHWM") - before
    assert response.status_code < 500, f"{case.name}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        assert len(response.content) < 4096, f"{case.name}: the error echoes the input"
    return response.status_code, rise, seconds


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.route}-{case.name}")
def test_hostile_body_costs_a_bounded_multiple_of_its_size(
    worker: tuple[str, psutil.Process], case: Case
) -> None:
    url, api_worker = worker
    for size in SIZES:
        status, rise, seconds = measure(url, api_worker, case, size)
        print(
            f"{case.route:15} {case.name:28} {size // MB:3} MB: {status} "
            f"peak +{rise / MB:7.1f} MB ({rise / size:5.1f}x) {seconds:6.2f} s"
        )
        assert rise <= case.factor * size, f"{case.name}, {size // MB} MB: +{rise / MB:.0f} MB"
        assert seconds <= 2 + SECONDS_PER_MB * size / MB, f"{case.name}: {seconds:.1f} s"
    assert httpx.get(f"{url}/livez", timeout=10).status_code == 200
