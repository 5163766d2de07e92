"""Run one guide page: every block in order, in a fresh working directory and model store.

- a block with ``title="NAME"`` is written to NAME (a service module, a configuration file);
- ``python`` blocks run in one namespace per page, in this process, as a script would;
- ``pycon`` blocks are doctest sessions in that namespace: what they show is checked;
- ``console`` blocks are terminal transcripts (``console.py``);
- a block marked ``untested`` is shown only (the index page uses it to show the block format);
  any other block is an error, so nothing on a page escapes the test.

The page's environment has its own ``BENTOML_HOME`` and none of the caller's ``BENTOML_*``
settings; it is restored, with the working directory and ``sys.path``, when the page ends.
"""

from __future__ import annotations

import doctest
import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bentoml_classic.config import load_config
from tests.docs.console import ConsoleSession, GuideError, PortMap
from tests.docs.markdown_blocks import Block, parse_blocks

#: settings of the environment the test runs in that must not leak into a page
_ISOLATED_VARIABLES = (
    "BENTOML_CONFIG",
    "BENTOML_CONFIG_OPTIONS",
    "BENTOML_RUNNER_TOKEN",
    "BENTOML_RUNNER_MAP",
)


@contextmanager
def _isolated(workdir: Path) -> Iterator[dict[str, str]]:
    """This process as a reader's fresh shell in ``workdir``; yields the page's environment."""
    saved_env, saved_cwd, saved_path = dict(os.environ), os.getcwd(), list(sys.path)
    for name in _ISOLATED_VARIABLES:
        os.environ.pop(name, None)
    os.environ["BENTOML_HOME"] = str(workdir / "bentoml_home")
    os.chdir(workdir)
    sys.path.insert(0, str(workdir))
    load_config.cache_clear()
    try:
        yield dict(os.environ)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path
        load_config.cache_clear()
        _forget_modules_under(workdir)


def _forget_modules_under(directory: Path) -> None:
    """The next page may have its own ``service.py``: modules imported from here must go."""
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).is_relative_to(directory):
            del sys.modules[name]


class GuidePage:
    """One page of docs/guide, run in ``workdir`` (empty, and the page's own)."""

    def __init__(self, path: Path, workdir: Path) -> None:
        self.path = path
        self.workdir = workdir
        self.ports = PortMap()
        self.namespace: dict[str, Any] = {"__name__": "__guide__"}

    def run(self) -> None:
        blocks = parse_blocks(self.path)
        with _isolated(self.workdir) as env:
            session = ConsoleSession(self.workdir, env, self.ports)
            try:
                for block in blocks:
                    self._run_block(block, session)
            finally:
                session.close()

    def _run_block(self, block: Block, session: ConsoleSession) -> None:
        if block.untested:
            return
        if block.title is not None:
            target = self.workdir / block.title
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(self.ports.apply(block.text), encoding="utf-8")
        elif block.language == "python":
            # Padded so that a traceback's line numbers are the page's.
            source = "\n" * (block.line - 1) + self.ports.apply(block.text)
            exec(compile(source, str(self.path), "exec"), self.namespace)
        elif block.language == "pycon":
            self._run_doctest(block)
        elif block.language == "console":
            session.run_block(block)
        else:
            raise GuideError(
                f"{block.where}: a {block.language or 'plain'} block is neither run nor written: "
                'give it a title="FILE" or mark it untested'
            )

    def _run_doctest(self, block: Block) -> None:
        test = doctest.DocTestParser().get_doctest(
            self.ports.apply(block.text),
            self.namespace,
            block.where,
            str(self.path),
            block.line - 1,
        )
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS, verbose=False)
        report = io.StringIO()
        runner.run(test, out=report.write, clear_globs=False)
        self.namespace.update(test.globs)
        if runner.failures:
            raise GuideError(
                f"{block.where}: the session does not go as shown\n{report.getvalue()}"
            )
