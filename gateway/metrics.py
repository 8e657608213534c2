"""Prometheus metrics of the gateway, in a registry of its own (one per app instance).

Route labels are the matched route's template (``/webhooks/{source}``), never the raw
path; at most ``MAX_ROUTE_LABELS`` distinct values, after which a new one becomes ``other``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from schemas import timing

MAX_ROUTE_LABELS = 1000
OTHER = "other"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BYTES_BUCKETS = (256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 10485760)
CONTENT_TYPE = CONTENT_TYPE_LATEST

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_ID_SEGMENT = re.compile(r"^(?:\d+|[0-9a-fA-F-]{16,}|[A-Za-z0-9_-]{24,})$")


def normalize_path(path: str) -> str:
    """A raw, unmatched path with id-like segments replaced: ``/x/123/y`` → ``/x/{id}/y``."""
    parts = path.split("/")
    return "/".join("{id}" if _ID_SEGMENT.match(p) else p for p in parts)[:100]


class RouteLabels:
    """Bounded set of route label values: past ``cap`` distinct values, new ones become ``other``."""

    def __init__(self, cap: int = MAX_ROUTE_LABELS) -> None:
        self.cap = cap
        self._seen: set[str] = set()

    def __call__(self, route: str) -> str:
        if route in self._seen:
            return route
        if len(self._seen) >= self.cap:
            return OTHER
        self._seen.add(route)
        return route


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.route_label = RouteLabels()
        self.requests = Counter(
            "vitalstream_gateway_requests",
            "HTTP requests answered, by route, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.accept_latency = Histogram(
            "vitalstream_gateway_accept_latency_seconds",
            "Time from request start to a 202 answer (event durable in Kafka), by source.",
            ["source"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stage_latency = Histogram(
            timing.STAGE_METRIC,
            "Latency of one pipeline hop; here stage=accept: request start to 202 (raw record acknowledged).",
            ["stage"],
            buckets=timing.LATENCY_BUCKETS,
            registry=r,
        )
        self.accepted = self.stage_latency.labels("accept")
        self.request_bytes = Histogram(
            "vitalstream_gateway_request_bytes",
            "Webhook body sizes read.",
            buckets=BYTES_BUCKETS,
            registry=r,
        )
        self.rejections = Counter(
            "vitalstream_gateway_rejections",
            "Webhooks not accepted, by reason.",
            ["reason"],
            registry=r,
        )
        self.lanes = Counter(
            "vitalstream_gateway_lane_records",
            "Accepted webhooks by lane (webhooks.raw or webhooks.backfill) and why (live, chunk, "
            "large_request, source, shed).",
            ["lane", "reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "vitalstream_gateway_duplicates",
            "Repeated deliveries answered from the idempotency cache.",
            registry=r,
        )
        self.delivery_errors = Counter(
            "vitalstream_gateway_delivery_errors",
            "Kafka delivery reports with an error, by error.",
            ["error"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "vitalstream_gateway_producer_queue_depth",
            "Records queued in the producer, not yet acknowledged.",
            registry=r,
        )
        self.idempotency_entries = Gauge(
            "vitalstream_gateway_idempotency_cache_entries",
            "Entries in the idempotency cache.",
            registry=r,
        )
        self._request_children: dict[tuple[str, str, int], Counter] = {}
        self._rejection_children: dict[str, Counter] = {}

    def observe_request(self, route: str, method: str, status: int) -> None:
        key = (route, method, status)
        child = self._request_children.get(key)
        if child is None:
            label_method = method if method in _METHODS else OTHER
            child = self.requests.labels(self.route_label(route), label_method, str(status))
            if len(self._request_children) < 4 * MAX_ROUTE_LABELS:
                self._request_children[key] = child
        child.inc()

    def reject(self, reason: str) -> None:
        child = self._rejection_children.get(reason)
        if child is None:
            child = self.rejections.labels(reason)
            self._rejection_children[reason] = child
        child.inc()

    def delivery_error(self, error: str) -> None:
        self.delivery_errors.labels(error[:64]).inc()

    def track(self, queue_depth: Callable[[], int], cache_entries: Callable[[], int]) -> None:
        self.queue_depth.set_function(queue_depth)
        self.idempotency_entries.set_function(cache_entries)

    def render(self) -> bytes:
        return generate_latest(self.registry)
