"""The runner wire protocol, both ends: the frame codec, the asyncio and blocking clients an
API worker calls runners with, the server a runner worker answers with, and the handle that
attaches those clients to a ``Runner`` (``remote.py``).
"""
