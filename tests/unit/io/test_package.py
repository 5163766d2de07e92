from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import bentoml_classic.io as io_package


def test_public_names():
    assert set(io_package.__all__) >= {"IODescriptor", "NumpyNdarray", "JSON", "Text"}
    for name in io_package.__all__:
        assert issubclass(getattr(io_package, name), io_package.IODescriptor)
    assert "NumpyNdarray" in dir(io_package)
    with pytest.raises(AttributeError, match="Nope"):
        io_package.Nope  # noqa: B018


def test_importing_io_does_not_import_numpy_or_pydantic():
    # Measured in a fresh interpreter against what the parent package itself imports, so that
    # the test is about io/ alone.
    script = textwrap.dedent(
        """
        import sys
        import bentoml_classic
        before = set(sys.modules)
        import bentoml_classic.io as io
        io.Text, io.JSON
        heavy = {"numpy", "pydantic"}
        added = {m.split(".")[0] for m in set(sys.modules) - before}
        print(sorted(added & heavy))
        io.NumpyNdarray
        print("numpy" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.split("\n")[:2] == ["[]", "True"]
