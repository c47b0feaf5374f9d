"""Prometheus metrics of the server (``GET /monitoring/prometheus/metrics`` on the REST port), named as
TF Serving's: ``:tensorflow:serving:request_count`` (counter by model, API and status),
``:tensorflow:serving:request_latency`` (histogram, seconds, by model and API) and
``:tensorflow:serving:batch_size`` (histogram of the rows per model call, by model)."""
from __future__ import annotations

import prometheus_client as prom


class Metrics:
    """One server's metrics, in a registry of its own (several servers in one process do not mix)."""

    def __init__(self):
        self.registry = prom.CollectorRegistry()
        self.requests = prom.Counter(":tensorflow:serving:request_count", "Requests by model, API and status",
                                     ["model_name", "api", "status"], registry=self.registry)
        self.latency = prom.Histogram(":tensorflow:serving:request_latency", "Request latency in seconds",
                                      ["model_name", "api"], registry=self.registry,
                                      buckets=(1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1, 3, 10))
        self.batch_size = prom.Histogram(":tensorflow:serving:batch_size", "Rows per model call",
                                         ["model_name"], registry=self.registry,
                                         buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
        # the labelled children, looked up once: labels() costs ~15 us a call
        self._children = {}  # (model, api, status) -> (request counter, latency histogram)
        self._batch_children = {}  # model -> batch size histogram

    def record(self, model_name, api, status, seconds):
        key = (model_name, api, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(*key), self.latency.labels(model_name, api))
        children[0].inc()
        children[1].observe(seconds)

    def observe_batch(self, model_name, rows):
        child = self._batch_children.get(model_name)
        if child is None:
            child = self._batch_children[model_name] = self.batch_size.labels(model_name)
        child.observe(rows)

    def exposition(self):
        """(body bytes, content type) of the Prometheus text format."""
        return prom.generate_latest(self.registry), prom.CONTENT_TYPE_LATEST
