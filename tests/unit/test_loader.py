"""``import_service``: finding the Service a user names as ``module:attr``, ``module`` or a file."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bentoml_classic.classic_service import Service
from bentoml_classic.exceptions import ImportServiceError, InvalidArgument
from bentoml_classic.loader import import_service

SERVICE_HEADER = """
import bentoml_classic as bentoml
"""


@pytest.fixture
def clean_imports() -> Iterator[None]:
    """Undo what import_service does to sys.path and sys.modules."""
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    yield
    sys.path[:] = saved_path
    for name in set(sys.modules) - saved_modules:
        del sys.modules[name]


@pytest.fixture
def write_module(tmp_path: Path, clean_imports: None) -> Callable[[str], str]:
    """Write ``source`` to a uniquely named module in tmp_path and return the module name."""

    def write(source: str, prefix: str = "svc") -> str:
        name = f"{prefix}_{uuid.uuid4().hex}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    return write


ONE_SERVICE = (
    SERVICE_HEADER
    + """
svc = bentoml.Service("one")
not_a_service = 42
"""
)

TWO_SERVICES = (
    SERVICE_HEADER
    + """
first = bentoml.Service("first")
second = bentoml.Service("second")
"""
)


def test_module_and_attribute(write_module: Callable[..., str], tmp_path: Path) -> None:
    name = write_module(ONE_SERVICE)
    svc = import_service(f"{name}:svc", tmp_path)
    assert isinstance(svc, Service)
    assert svc.name == "one"
    assert svc is sys.modules[name].svc


def test_working_dir_is_put_first_on_sys_path(
    write_module: Callable[..., str], tmp_path: Path
) -> None:
    name = write_module(ONE_SERVICE)
    import_service(f"{name}:svc", tmp_path)
    assert sys.path[0] == str(tmp_path.resolve())


def test_working_dir_as_string(write_module: Callable[..., str], tmp_path: Path) -> None:
    name = write_module(ONE_SERVICE)
    assert import_service(f"{name}:svc", str(tmp_path)).name == "one"


def test_module_with_exactly_one_service(write_module: Callable[..., str], tmp_path: Path) -> None:
    name = write_module(ONE_SERVICE)
    svc = import_service(name, tmp_path)
    assert svc.name == "one"


def test_attribute_may_be_an_alias_of_a_service(
    write_module: Callable[..., str], tmp_path: Path
) -> None:
    name = write_module(SERVICE_HEADER + "svc = bentoml.Service('one')\nalias = svc\n")
    assert import_service(f"{name}:alias", tmp_path).name == "one"


def test_module_with_two_services_lists_them(
    write_module: Callable[..., str], tmp_path: Path
) -> None:
    name = write_module(TWO_SERVICES)
    with pytest.raises(InvalidArgument) as info:
        import_service(name, tmp_path)
    message = str(info.value)
    assert "first" in message
    assert "second" in message
    assert "MODULE:ATTRIBUTE" in message


def test_module_with_two_services_and_an_attribute(
    write_module: Callable[..., str], tmp_path: Path
) -> None:
    name = write_module(TWO_SERVICES)
    assert import_service(f"{name}:second", tmp_path).name == "second"


def test_module_without_services(write_module: Callable[..., str], tmp_path: Path) -> None:
    name = write_module("x = 1\n")
    with pytest.raises(InvalidArgument, match="0 services"):
        import_service(name, tmp_path)


def test_missing_attribute_names_it_and_lists_services(
    write_module: Callable[..., str], tmp_path: Path
) -> None:
    name = write_module(TWO_SERVICES)
    with pytest.raises(InvalidArgument) as info:
        import_service(f"{name}:svc", tmp_path)
    message = str(info.value)
    assert f"'{name}:svc'" in message  # the target as given
    assert "'svc'" in message
    assert name in message
    assert "first" in message
    assert "second" in message


def test_attribute_that_is_not_a_service(write_module: Callable[..., str], tmp_path: Path) -> None:
    name = write_module(ONE_SERVICE)
    with pytest.raises(InvalidArgument, match=r"not a bentoml\.Service") as info:
        import_service(f"{name}:not_a_service", tmp_path)
    assert "int" in str(info.value)


def test_missing_module_names_module_and_working_dir(tmp_path: Path, clean_imports: None) -> None:
    name = f"missing_{uuid.uuid4().hex}"
    with pytest.raises(InvalidArgument) as info:
        import_service(f"{name}:svc", tmp_path)
    message = str(info.value)
    assert name in message
    assert str(tmp_path.resolve()) in message
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_missing_submodule_of_a_package_is_reported_as_missing(
    tmp_path: Path, clean_imports: None
) -> None:
    package = f"pkg_{uuid.uuid4().hex}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    with pytest.raises(InvalidArgument) as info:
        import_service(f"{package}.nothing:svc", tmp_path)
    assert f"{package}.nothing" in str(info.value)


def test_missing_third_party_import_is_an_import_error_naming_the_dependency(
    write_module: Callable[..., str], tmp_path: Path
) -> None:
    dependency = f"not_installed_{uuid.uuid4().hex}"
    name = write_module(f"import {dependency}\n" + ONE_SERVICE)
    with pytest.raises(ImportServiceError) as info:
        import_service(f"{name}:svc", tmp_path)
    cause = info.value.__cause__
    assert isinstance(cause, ModuleNotFoundError) and cause.name == dependency
    assert f"No module named '{dependency}'" in info.value.message
    assert f"cannot import service '{name}:svc'" in info.value.message


# Regression: `import_service` took a ModuleNotFoundError for "the service module is missing"
# on a plain string prefix, so `torch_service.py` importing a missing `torch` was reported as
# "cannot import module 'torch_service'"; only the module itself or a parent package counts now.
def test_missing_dependency_named_like_a_prefix_of_the_module_is_not_the_module(
    tmp_path: Path, clean_imports: None
) -> None:
    dependency = f"dep_{uuid.uuid4().hex}"
    name = f"{dependency}_service"
    (tmp_path / f"{name}.py").write_text(f"import {dependency}\n" + ONE_SERVICE)
    with pytest.raises(ImportServiceError) as info:
        import_service(f"{name}:svc", tmp_path)
    cause = info.value.__cause__
    assert isinstance(cause, ModuleNotFoundError) and cause.name == dependency


def test_an_exception_at_import_shows_the_users_frames_only(
    write_module: Callable[..., str], tmp_path: Path
) -> None:
    helper = write_module("def boom():\n    raise RuntimeError('broken at import')\n", "helper")
    name = write_module(f"import {helper}\nx = 1\n{helper}.boom()\n")
    with pytest.raises(ImportServiceError) as info:
        import_service(f"{name}:svc", tmp_path)
    message = info.value.message
    assert isinstance(info.value.__cause__, RuntimeError)
    assert message.startswith(f"cannot import service '{name}:svc'")
    # the user's two frames, innermost last, then the exception
    assert f'{name}.py", line 3, in <module>' in message
    assert f'{helper}.py", line 2, in boom' in message
    assert message.endswith("RuntimeError: broken at import")
    # not the loader's, nor importlib's
    assert "loader.py" not in message
    assert "importlib" not in message


def test_a_syntax_error_points_at_the_line(
    write_module: Callable[..., str], tmp_path: Path
) -> None:
    name = write_module("def f(:\n    pass\n")
    with pytest.raises(ImportServiceError) as info:
        import_service(name, tmp_path)
    message = info.value.message
    assert f'{name}.py", line 1' in message
    assert "SyntaxError" in message
    assert "importlib" not in message


def test_file_form_with_attribute(write_module: Callable[..., str], tmp_path: Path) -> None:
    name = write_module(TWO_SERVICES)
    assert import_service(f"{name}.py:first", tmp_path).name == "first"


def test_file_form_without_attribute(write_module: Callable[..., str], tmp_path: Path) -> None:
    name = write_module(ONE_SERVICE)
    assert import_service(f"{name}.py", tmp_path).name == "one"


def test_file_in_a_package_directory(tmp_path: Path, clean_imports: None) -> None:
    package = f"pkg_{uuid.uuid4().hex}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "service.py").write_text(ONE_SERVICE)
    assert import_service(f"{package}/service.py:svc", tmp_path).name == "one"
    assert import_service(f"{package}.service:svc", tmp_path).name == "one"


@pytest.mark.parametrize("target", ["", ":svc", ".py", "/"])
def test_empty_module_part_is_refused(target: str, tmp_path: Path, clean_imports: None) -> None:
    with pytest.raises(InvalidArgument, match="MODULE:ATTRIBUTE"):
        import_service(target, tmp_path)


def test_a_class_service_is_found_and_an_undecorated_class_is_an_error_that_says_why(
    write_module: Callable[[str], str], tmp_path: Path
) -> None:
    name = write_module(
        SERVICE_HEADER
        + """
@bentoml.service
class Decorated:
    @bentoml.api
    def echo(self, text: str) -> str:
        return text


class Undecorated:
    pass
"""
    )
    found = import_service(f"{name}:Decorated", tmp_path)
    assert isinstance(found, Service) and found.name == "decorated"
    with pytest.raises(InvalidArgument, match=r"is a class.*decorate it with @bentoml\.service"):
        import_service(f"{name}:Undecorated", tmp_path)
