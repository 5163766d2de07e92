"""``add_one``: a Triton python-backend model in numpy, for the Triton runner example.

Triton's dynamic batcher (``dynamic_batching {}`` in config.pbtxt) joins concurrent requests;
``execute`` gets them as a list and answers each with its own response, computed in one numpy
operation over the batch that Triton built.
"""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        arrays = [pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy() for r in requests]
        joined = np.concatenate(arrays) + np.float32(1)
        responses = []
        start = 0
        for array in arrays:
            rows = joined[start : start + len(array)]
            start += len(array)
            output = pb_utils.Tensor("OUTPUT0", rows.astype(np.float32))
            responses.append(pb_utils.InferenceResponse(output_tensors=[output]))
        return responses
