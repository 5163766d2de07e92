"""Helpers shared by the tests, one module per kind: ``servers`` (real servers and processes),
``waiting`` (polling and a hand-moved clock), ``configs`` (configurations from option text,
platform markers), ``models`` (a tiny trained classifier)."""
