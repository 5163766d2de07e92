"""Prometheus metrics: the user's (classic's ``bentoml.metrics``) and the framework's.

    from bentoml_classic.metrics import Counter, Histogram

    predictions = Counter("predictions", "Predictions made", labelnames=["label"])
    inference = Histogram("inference_seconds", "Time the model took")

    @svc.api(input=NumpyNdarray(), output=NumpyNdarray())
    def classify(x):
        with inference.time():
            result = model.predict(x)
        predictions.labels(label=str(result[0])).inc()
        return result

``GET /metrics`` shows them next to the framework's request and batch-size metrics, summed
over every worker process of the deployment (``registry.py`` says how). Importing this
module costs nothing much: ``prometheus_client`` is imported when the first metric is made.
"""

from __future__ import annotations

from .user import Counter, Gauge, Histogram, Summary

__all__ = ["Counter", "Gauge", "Histogram", "Summary"]
