"""The shape of server log lines, in a fresh interpreter each time: configuring logging is
process-wide, and pytest's own handlers sit on this process's root logger."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time

from bentoml_classic import log_format
from bentoml_classic.log_format import LinePrefixes

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}"


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_log_records_carry_time_level_and_component_on_stderr() -> None:
    done = run_python(
        """
        import logging
        from bentoml_classic.log_format import configure_server_logging
        configure_server_logging("runner:iris_clf:2")
        configure_server_logging("runner:iris_clf:2")  # again: still one handler
        logging.getLogger("bentoml_classic.x").info("ready (%s)", "yes")
        logging.getLogger("user.code").warning("careful")
        logging.getLogger("user.code").debug("below the level")
        """
    )
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    assert re.fullmatch(rf"{STAMP} \[INFO\] \[runner:iris_clf:2\] ready \(yes\)", lines[0])
    assert re.fullmatch(rf"{STAMP} \[WARNING\] \[runner:iris_clf:2\] careful", lines[1])


def test_a_logging_configuration_of_the_users_own_is_left_alone() -> None:
    done = run_python(
        """
        import logging
        logging.basicConfig(format="mine: %(message)s")
        from bentoml_classic import log_format
        log_format.configure_server_logging("supervisor")
        logging.getLogger("x").warning("kept")
        print(log_format.component())
        """
    )
    assert done.stderr.splitlines() == ["mine: kept"]
    assert done.stdout.strip() == "supervisor"  # the access log's lines still say who wrote


def test_line_prefixes_are_formatted_once_a_second_for_the_current_component() -> None:
    prefixes = LinePrefixes("INFO")
    now = time.time()
    first = prefixes.at(now)
    assert re.fullmatch(rf"{STAMP} \[INFO\] \[{re.escape(log_format.component())}\] ", first)
    assert prefixes.at(int(now) + 0.999) is first  # same second: the same string, no work
    assert prefixes.at(now + 1) != first
    expected = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(int(now)))
    assert first.startswith(expected)
