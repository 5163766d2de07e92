"""Which packages the distribution holds: everything under bentoml_classic/, found, not listed,
plus the top-level frameworks/ folder installed as bentoml_classic.frameworks.

pyproject.toml's ``packages.find`` cannot rename a folder into another package, so that one
mapping is made here; every other setting lives in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["bentoml_classic", "bentoml_classic.*"]),
        "bentoml_classic.frameworks",
    ],
    package_dir={"bentoml_classic.frameworks": "frameworks"},
)
