"""Configurations for tests, and markers for what a test needs of the platform."""

from __future__ import annotations

import os

import pytest

from bentoml_classic.config import BentoMLConfig, config_from_options


def config_of(options: str = "") -> BentoMLConfig:
    """The configuration that ``BENTOML_CONFIG_OPTIONS=options`` gives, to pass to ``build_app``
    or a watcher as the entry points do."""
    return config_from_options(options)


#: for tests of worker scheduling policies (serving/scheduling.py): they need Linux, and a test
#: process under the default policy, which the workers it starts inherit
needs_default_scheduling_policy = pytest.mark.skipif(
    not hasattr(os, "SCHED_BATCH") or os.sched_getscheduler(0) != os.SCHED_OTHER,
    reason="Linux scheduling policies, in a process started under the default one",
)
