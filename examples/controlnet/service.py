"""The distributed-services guide's ControlNet example, as the guide writes it.

Only the import lines differ: ``bentoml_classic`` for ``bentoml``, and ``stand_ins`` for
diffusers' SDXL ControlNet pipeline and OpenCV (no downloads, no GPU; ``stand_ins.py``).

    bentoml serve service:ControlNet

starts ``ControlNet`` on the HTTP port with 8 workers and ``SDXLControlNetService`` behind it
in a worker of its own. Try it:

    curl -F image=@input.png -F 'params={"prompt": "a cat", "negative_prompt": null}' \\
        http://127.0.0.1:3000/generate -o output.png
"""

from __future__ import annotations

import typing as t

import numpy as np
import PIL
import PIL.Image
from PIL.Image import Image as PIL_Image
from pydantic import BaseModel

import bentoml_classic as bentoml


@bentoml.service(
    traffic={"timeout": 600},
    workers=1,
    resources={"gpu": "1", "gpu_type": "nvidia-l4"},
)
class SDXLControlNetService:
    def __init__(self) -> None:
        from stand_ins import ControlNetPipeline as StableDiffusionXLControlNetPipeline

        # the guide loads the ControlNet, the VAE and the SDXL base model here, once per worker
        self.pipe = StableDiffusionXLControlNetPipeline()

    @bentoml.api
    async def generate(self, prompt: str, arr: np.ndarray[t.Any, np.uint8], **kwargs):  # type: ignore[no-untyped-def]
        image = PIL.Image.fromarray(arr)
        return self.pipe(prompt, image=image, **kwargs).to_tuple()


class Params(BaseModel):
    prompt: str
    negative_prompt: t.Optional[str]  # noqa: UP045 - the guide's spelling
    controlnet_conditioning_scale: float = 0.5
    num_inference_steps: int = 25


@bentoml.service(traffic={"timeout": 600}, workers=8, resources={"cpu": "1"})
class ControlNet:
    controlnet_service = bentoml.depends(SDXLControlNetService)

    @bentoml.api
    async def generate(self, image: PIL_Image, params: Params) -> PIL_Image:
        from stand_ins import cv2

        arr = np.array(image)
        arr = cv2.Canny(arr, 100, 200)
        arr = np.concatenate([arr[:, :, None]] * 3, axis=2)
        params_d = params.model_dump()
        prompt = params_d.pop("prompt")
        res = await self.controlnet_service.generate(prompt, arr=arr, **params_d)
        return res[0][0]
