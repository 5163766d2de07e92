"""Runnables, runners and the handles through which runner methods are called."""

from .runnable import Runnable, RunnableMethodConfig
from .runner import Runner, RunnerMethod

__all__ = ["Runnable", "RunnableMethodConfig", "Runner", "RunnerMethod"]
