"""Write a ``tritonserver`` command that runs the Triton server shipped in the ``nvidia-pytriton``
wheel (0.7.0), for machines without an NVIDIA container or a Triton install.

    pip install --no-deps --target ./pytriton nvidia-pytriton==0.7.0
    python3 -m venv ./triton-models && ./triton-models/bin/pip install 'numpy<2'
    python tritonserver_from_pytriton.py ./pytriton ./triton-bin ./triton-models/bin/python
    export BENTOML_TRITONSERVER=$PWD/triton-bin/tritonserver

The wheel's server needs three things its own Python package would otherwise arrange: its
bundled libraries on ``LD_LIBRARY_PATH``, ``--backend-directory`` pointing at a backends folder,
and the python backend's stub for this Python version copied into that folder's ``python/``.
The stub embeds the system's ``libpython3.X`` and finds its packages through the ``python3`` it
finds on PATH (a virtual environment's included), not through ``PYTHONPATH``; so the command
puts the models' interpreter's folder first on PATH, and a model's ``import numpy`` finds that
environment's numpy, which must be numpy 1: the stub is built against it. ``--no-deps`` because
the wheel asks for numpy < 2, which only its own Python package needs; the server binary needs
none of its dependencies.
"""

from __future__ import annotations

import shutil
import stat
import sys
from pathlib import Path


def write_tritonserver(pytriton_dir: Path, out_dir: Path, python: str = sys.executable) -> Path:
    """Write ``out_dir/tritonserver`` (and ``out_dir/backends``); return the command's path."""
    server = pytriton_dir / "pytriton" / "tritonserver"
    libs = pytriton_dir / "nvidia_pytriton.libs"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = server / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not (server / "bin" / "tritonserver").is_file() or not stub.is_file():
        raise FileNotFoundError(
            f"no tritonserver (or no python backend stub for Python {version}) under "
            f"{pytriton_dir}: install it with `pip install --no-deps --target {pytriton_dir} "
            "nvidia-pytriton==0.7.0`"
        )
    backends = out_dir / "backends"
    if backends.exists():
        shutil.rmtree(backends)
    shutil.copytree(server / "backends", backends)
    shutil.copy2(stub, backends / "python" / "triton_python_backend_stub")
    command = out_dir / "tritonserver"
    python_bin = Path(python).parent
    command.write_text(
        "#!/bin/sh\n"
        "# tritonserver from the nvidia-pytriton wheel (written by tritonserver_from_pytriton.py)\n"
        f'export LD_LIBRARY_PATH="{libs}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"\n'
        f'export PATH="{python_bin}:$PATH"\n'
        f'exec "{server / "bin" / "tritonserver"}" --backend-directory="{backends}" "$@"\n'
    )
    command.chmod(command.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return command


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: python tritonserver_from_pytriton.py PYTRITON_DIR OUT_DIR [PYTHON]")
    out = Path(sys.argv[2]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    python = str(Path(sys.argv[3]).absolute()) if len(sys.argv) == 4 else sys.executable
    print(write_tritonserver(Path(sys.argv[1]).resolve(), out, python=python))
