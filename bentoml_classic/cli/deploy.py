"""``bentoml containerize`` and ``bentoml generate kubernetes``: shipping a built bento."""

from __future__ import annotations

import os
import subprocess
import sys

import click


@click.command(name="containerize")
@click.argument("tag")
@click.option(
    "-t", "--image-tag", default=None, help="NAME:TAG of the image [default: the bento's tag]."
)
@click.option(
    "--backend",
    type=click.Choice(["docker", "buildx", "podman"]),
    default="docker",
    show_default=True,
)
@click.option(
    "--output-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Write the build context here (a new folder) [default: a temporary folder].",
)
@click.option(
    "--build/--no-build",
    default=None,
    help="--build: fail unless the image is built; --no-build: write the context only "
    "[default: build if the engine's daemon answers, else print how to].",
)
@click.option(
    "--framework-wheel/--no-framework-wheel",
    default=True,
    show_default=True,
    help="Put a wheel of this bentoml_classic into the context when it runs from a source "
    "checkout (no public index serves it).",
)
def containerize(
    tag: str,
    image_tag: str | None,
    backend: str,
    output_dir: str | None,
    build: bool | None,
    framework_wheel: bool,
) -> None:
    """Write a complete image build context for bento TAG, and build it when the container
    engine can."""
    from .. import bentos
    from ..bentos.containerize import (
        add_framework_wheel,
        build_command,
        check_engine,
        framework_source,
        write_build_context,
    )

    bento = bentos.get(tag)
    context = write_build_context(bento, output_dir)
    source = framework_source() if framework_wheel else None
    if source is not None:
        click.echo(f"Added {os.path.relpath(add_framework_wheel(context, source), context)}")
    command = build_command(backend, context, image_tag or str(bento.tag))
    shown = subprocess.list2cmdline(command)
    click.echo(f"Build context for {bento.tag}: {context}")
    if build is False:
        click.echo(f"Build it with:\n  {shown}")
        return
    engine = check_engine(backend)
    if not engine.available:
        click.echo(f"Not building: {engine.reason}. Build it with:\n  {shown}", err=True)
        if build:
            sys.exit(1)
        return
    click.echo(f"Running: {shown}")
    status = subprocess.run(command, check=False).returncode
    if status != 0:
        click.echo(f"the build failed (exit status {status})", err=True)
        sys.exit(status)
    click.echo(f"Successfully built image {image_tag or bento.tag}")


@click.group(name="generate")
def generate() -> None:
    """Generate deployment files from a built bento."""


@generate.command(name="kubernetes")
@click.argument("tag")
@click.option(
    "-o",
    "--output-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Write one file per manifest here [default: ./<bento name>-kubernetes].",
)
@click.option("--image", default=None, help="The bento's image [default: the bento's tag].")
@click.option(
    "--autoscale",
    default=None,
    metavar="MIN:MAX",
    help="Add a HorizontalPodAutoscaler per tier, MIN to MAX replicas on CPU.",
)
@click.option(
    "--cpu-percent",
    default=80,
    show_default=True,
    type=click.IntRange(1, 100),
    help="The CPU utilisation the autoscalers aim at.",
)
def generate_kubernetes(
    tag: str, output_dir: str | None, image: str | None, autoscale: str | None, cpu_percent: int
) -> None:
    """Kubernetes manifests for bento TAG: a Deployment and Service per runner and for the API
    tier, the Secret with their shared token, and optional autoscalers."""
    from .. import bentos
    from ..bentos.kubernetes import Autoscaling, kubernetes_manifests, write_manifests

    bento = bentos.get(tag)
    scaling = None
    if autoscale is not None:
        low, sep, high = autoscale.partition(":")
        if not (sep and low.isdigit() and high.isdigit() and 1 <= int(low) <= int(high)):
            raise click.BadParameter(f"{autoscale!r} is not MIN:MAX", param_hint="--autoscale")
        scaling = Autoscaling(int(low), int(high), cpu_percent)
    paths = write_manifests(
        kubernetes_manifests(bento, image, scaling),
        output_dir or f"{bento.tag.name}-kubernetes",
    )
    for path in paths:
        click.echo(path)
    click.echo(
        "The Secret holds a new random runner token: keep its file private "
        "(kubectl apply -f on the folder).",
        err=True,
    )
