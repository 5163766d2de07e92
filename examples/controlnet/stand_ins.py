"""Small stand-ins for what the guide's example downloads or compiles: the SDXL ControlNet
pipeline of diffusers (gigabytes of weights, a GPU) and OpenCV's Canny edge detector. Each has
the signature the example calls it with and does a cheap numpy/PIL transform instead, so the
example runs anywhere, quickly, and gives answers a test can check.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import PIL.Image


class cv2:  # named as the module it stands in for
    @staticmethod
    def Canny(image: np.ndarray, threshold1: float, threshold2: float) -> np.ndarray:
        """Edges of a grayscale or RGB uint8 image as a 2-d uint8 array of 0 and 255: where
        the brightness changes by more than ``threshold1`` between neighbouring pixels."""
        gray = image.astype(np.float32)
        if gray.ndim == 3:
            gray = gray.mean(axis=2)
        dy = np.abs(np.diff(gray, axis=0, append=gray[-1:, :]))
        dx = np.abs(np.diff(gray, axis=1, append=gray[:, -1:]))
        return np.where(np.maximum(dx, dy) > threshold1, 255, 0).astype(np.uint8)


@dataclass
class PipelineOutput:
    images: list[PIL.Image.Image]
    nsfw_content_detected: list[bool]

    def to_tuple(self) -> tuple[list[PIL.Image.Image], list[bool]]:
        return self.images, self.nsfw_content_detected


class ControlNetPipeline:
    """``pipe(prompt, image=..., **kwargs)`` as diffusers' pipeline is called: the control image
    (the edges) tinted with a colour that the prompt chooses, stronger with
    ``controlnet_conditioning_scale``."""

    def __call__(
        self,
        prompt: str,
        image: PIL.Image.Image,
        negative_prompt: str | None = None,
        controlnet_conditioning_scale: float = 0.5,
        num_inference_steps: int = 25,
        **ignored: Any,
    ) -> PipelineOutput:
        colour = np.frombuffer(hashlib.sha256(prompt.encode()).digest()[:3], dtype=np.uint8)
        edges = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
        scale = float(np.clip(controlnet_conditioning_scale, 0, 1))
        tinted = edges * colour * scale + (1 - edges) * 255 * (1 - scale)
        return PipelineOutput([PIL.Image.fromarray(tinted.astype(np.uint8))], [False])
