"""``build_bento`` in this process: what a bento holds, and failed builds leaving nothing."""

from __future__ import annotations

import itertools
import json
import textwrap
from pathlib import Path

import pytest
import yaml

import bentoml_classic as bentoml
from bentoml_classic import bentos
from bentoml_classic.bentos.build import build_bento
from bentoml_classic.exceptions import ImportServiceError, InvalidArgument
from tests.support.models import tiny_classifier

_numbers = itertools.count()

SERVICE = """
import bentoml_classic as bentoml
from bentoml_classic.io import JSON

runner = bentoml.sklearn.get("tiny_clf:latest").to_runner()
svc = bentoml.Service("tiny_service", runners=[runner])

@svc.api(input=JSON(), output=JSON())
def predict(rows):
    return runner.predict.run(rows).tolist()
"""


def project(tmp_path: Path, bentofile: str, service: str = SERVICE) -> tuple[Path, str]:
    """A build directory with a uniquely named service module (imported in this process)."""
    module = f"tiny_service_{next(_numbers)}"
    root = tmp_path / "project"
    root.mkdir()
    (root / f"{module}.py").write_text(textwrap.dedent(service))
    (root / "bentofile.yaml").write_text(bentofile.format(module=module))
    (root / "README.md").write_text("# Tiny\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("secret")
    return root, module


def store_files(home: Path) -> list[str]:
    root = home / "bentos"
    if not root.exists():
        return []
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.name not in {".lock", ".tmp"}
    )


def test_a_bento_holds_its_service_models_and_environment(
    tmp_path: Path, bentoml_home: Path
) -> None:
    first = bentoml.sklearn.save_model("tiny_clf", tiny_classifier())
    root, module = project(
        tmp_path,
        'service: "{module}:svc"\ndescription: "file:./README.md"\nlabels: {{team: a}}\n'
        "python: {{packages: [scikit-learn]}}\n"
        "docker: {{system_packages: [libgomp1], env: {{MODE: prod}}}}\n",
    )
    bento = build_bento(root, version="v1")
    later = bentoml.sklearn.save_model("tiny_clf", tiny_classifier(seed=1))  # after the build
    assert str(bento.tag) == "tiny_service:v1"
    path = Path(bento.path)
    assert sorted(p.name for p in path.iterdir()) == [
        "README.md",
        "apis",
        "bento.yaml",
        "env",
        "models",
        "src",
    ]
    assert sorted(p.name for p in (path / "src").iterdir()) == [
        "README.md",
        "bentofile.yaml",
        f"{module}.py",
    ]
    assert (path / "README.md").read_text() == "# Tiny\n"
    info = yaml.safe_load((path / "bento.yaml").read_text())
    assert info["service"] == f"{module}:svc" and info["labels"] == {"team": "a"}
    assert [m["tag"] for m in info["models"]] == [str(first.tag)]
    assert info["runners"] == [
        {
            "name": "tiny_clf",
            "runnable_type": "SklearnRunnable",
            "embedded": False,
            "models": [str(first.tag)],
            "resources": None,
        }
    ]
    assert info["apis"] == [
        {"name": "predict", "route": "predict", "input_type": "JSON", "output_type": "JSON"}
    ]
    # the bento's own model store pins the version it was built with
    assert (path / "models" / "tiny_clf" / "latest").read_text().strip() == first.tag.version
    assert not (path / "models" / "tiny_clf" / (later.tag.version or "")).exists()
    openapi = yaml.safe_load((path / "apis" / "openapi.yaml").read_text())
    assert "/predict" in openapi["paths"]
    requirements = (path / "env" / "python" / "requirements.txt").read_text().split()
    assert requirements == [f"bentoml_classic=={bentoml.__version__}", "scikit-learn"]
    dockerfile = (path / "env" / "docker" / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile and "libgomp1" in dockerfile
    assert 'ENV MODE="prod"' in dockerfile and "EXPOSE 3000" in dockerfile
    assert "USER 1034:1034" in dockerfile
    assert [str(b.tag) for b in bentos.list()] == ["tiny_service:v1"]
    assert str(bentos.get("tiny_service").tag) == "tiny_service:v1"


@pytest.mark.parametrize(
    ("bentofile", "service", "error", "named"),
    [
        (
            'service: "{module}:svc"\nflavour: x\n',
            SERVICE,
            InvalidArgument,
            "unknown key 'flavour'",
        ),
        ("labels: {{a: b}}\n", SERVICE, InvalidArgument, "missing required key 'service'"),
        ('service: "{module}:svc"\n', "raise RuntimeError('boom')\n", ImportServiceError, "boom"),
        (
            'service: "{module}:svc"\nmodels: [absent_model:v9]\n',
            SERVICE,
            InvalidArgument,
            "'absent_model:v9'",
        ),
        ('service: "{module}:svc"\ninclude: ["../up"]\n', SERVICE, InvalidArgument, "'../'"),
    ],
)
def test_a_failed_build_names_the_problem_and_leaves_nothing(
    tmp_path: Path,
    bentoml_home: Path,
    bentofile: str,
    service: str,
    error: type[Exception],
    named: str,
) -> None:
    bentoml.sklearn.save_model("tiny_clf", tiny_classifier())
    root, _ = project(tmp_path, bentofile, service)
    with pytest.raises(error, match=named):
        build_bento(root)
    assert store_files(bentoml_home) == []


def test_an_existing_version_is_refused(tmp_path: Path, bentoml_home: Path) -> None:
    bentoml.sklearn.save_model("tiny_clf", tiny_classifier())
    root, _ = project(tmp_path, 'service: "{module}:svc"\n')
    build_bento(root, version="same")
    with pytest.raises(InvalidArgument, match="tiny_service:same already exists"):
        build_bento(root, version="same")


COMPOSED = """
import bentoml_classic as bentoml
from bentoml_classic.io import JSON

pre = bentoml.Service("pre")

@pre.api(input=JSON(), output=JSON())
def double(values):
    return [v * 2 for v in values]

doubler = bentoml.depends(pre)
svc = bentoml.Service("composed")

@svc.api(input=JSON(), output=JSON())
def predict(values):
    return doubler.double.run(values)
"""


def test_a_composed_service_records_its_graph_and_deploys_each_service(
    tmp_path: Path, bentoml_home: Path
) -> None:
    from bentoml_classic.bentos.kubernetes import kubernetes_manifests

    root, _ = project(tmp_path, 'service: "{module}:svc"\n', service=COMPOSED)
    bento = build_bento(root, version="v1")
    info = yaml.safe_load((Path(bento.path) / "bento.yaml").read_text())
    assert info["services"] == [
        {"name": "composed", "depends_on": ["pre"], "runners": [], "apis": ["predict"]},
        {"name": "pre", "depends_on": [], "runners": [], "apis": ["double"]},
    ]
    deployments = {
        m["metadata"]["name"]: m["spec"]["template"]["spec"]["containers"][0]
        for m in kubernetes_manifests(bento, token="t")
        if m["kind"] == "Deployment"
    }
    assert sorted(deployments) == ["composed-api", "composed-service-pre"]
    pre = deployments["composed-service-pre"]
    assert pre["command"][:2] == ["bentoml", "start-service-server"]
    assert pre["command"][pre["command"].index("--service-name") + 1] == "pre"
    api_env = {e["name"]: e.get("value") for e in deployments["composed-api"]["env"]}
    assert json.loads(api_env["BENTOML_RUNNER_MAP"]) == {"pre": "tcp://composed-service-pre:3001"}


def test_a_dockerfile_template_is_kept_and_the_build_says_it_is_not_rendered(
    tmp_path: Path, bentoml_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root, _ = project(
        tmp_path,
        'service: "{module}:svc"\ndocker: {{dockerfile_template: ./Dockerfile.template}}\n',
        service=COMPOSED,
    )
    (root / "Dockerfile.template").write_text("{% extends bento_base_template %}\n")
    with caplog.at_level("WARNING"):
        bento = build_bento(root, version="v1")
    docker = Path(bento.path) / "env" / "docker"
    assert (docker / "Dockerfile.template").read_text() == "{% extends bento_base_template %}\n"
    assert "{%" not in (docker / "Dockerfile").read_text()
    assert "not rendered" in caplog.text
