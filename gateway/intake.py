"""What happens to one webhook between "bytes read" and "answer": verify, limit, dedup, produce.

No HTTP framework here: the routes in ``gateway.app`` read the body (size-checked) and
turn the returned ``Answer`` into a response. Answers follow design §3: 2xx only after the
Kafka delivery report, small JSON error bodies that never echo parser internals.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from gateway.bodies import ReadSlots
from gateway.config import GatewayConfig
from gateway.idempotency import IdempotencyCache, Seen, body_digest, event_id, signed_identity
from gateway.lanes import BACKFILL, announced_reference, lane_for
from gateway.metrics import GatewayMetrics
from gateway.producer import ProducerUnavailable, RecordProducer
from gateway.proxies import TrustedProxies
from gateway.ratelimit import Decision, SlidingWindowLimiter
from gateway.signatures import SignatureError, StandardVerifier, TerraVerifier, Verified
from schemas import timing
from schemas.codec import Codec
from schemas.records import RawWebhook
from vitalstream.platform import kafka

TERRA = "terra"
KEPT_HEADERS = (
    "content-type",
    "content-encoding",
    "user-agent",
    "terra-reference",
    "x-terra-trace-id",
    "x-terra-ordering-timestamp",
    "webhook-id",
    "webhook-timestamp",
    "x-request-id",
)
"""Headers copied into the raw record. Never signature, authorization or cookie headers."""
MAX_HEADER_VALUE = 256
MAX_KEY_LENGTH = 512
UNKNOWN_SOURCE = "No webhook source of that name is configured."
LARGE_REQUEST_TTL_S = 24 * 3600.0
"""How long an announced large request's reference routes its deliveries to the backfill lane."""
LARGE_REQUESTS_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    """Rejection reason (metrics/log label); None for 2xx."""
    event_id: str | None = None

    def json(self) -> bytes:
        return orjson.dumps(self.body)


def error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, {"error": code, "detail": detail}, headers or {}, reason=code)


def rate_limited(decision: Decision, scope: str) -> Answer:
    retry = max(1, math.ceil(decision.retry_after_s))
    return error(
        429,
        "rate_limited",
        f"Too many requests for this {scope}; retry later.",
        {
            "Retry-After": str(retry),
            "RateLimit-Limit": str(decision.limit),
            "RateLimit-Remaining": str(decision.remaining),
            "RateLimit-Reset": str(max(1, math.ceil(decision.reset_s))),
        },
    )


def is_json_type(content_type: str) -> bool:
    ct = content_type.lower()
    return ct == "application/json" or (ct.startswith("application/") and ct.endswith("+json"))


def provider_user_id(doc: Any) -> str | None:
    """``user.user_id`` (``new_user.user_id`` for a reauth) of a JSON object body."""
    if isinstance(doc, dict):
        for name in ("user", "new_user"):
            user = doc.get(name)
            if isinstance(user, dict):
                uid = user.get("user_id")
                if isinstance(uid, str) and uid:
                    return uid[:MAX_KEY_LENGTH]
    return None


class OrderingError(ValueError):
    """An ``X-Terra-Ordering-Timestamp`` that cannot be believed; ``code`` is the 400's error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def ordering_time(header: str | None, signed_ts: int, tolerance_s: float) -> datetime | None:
    """The ordering timestamp (Unix ms, unsigned) bounded by what the signature vouches for.

    The header is not signed, so a value later than the signed time plus the tolerance would
    let a sender make its event "newer" than every later one (a year-9999 value would make
    each later deauth look older); such values, and anything that is not plain digits, are refused.
    """
    if header is None or not header.strip():
        return None
    text = header.strip()
    if len(text) > 15 or not text.isascii() or not text.isdigit():
        raise OrderingError("malformed_ordering_timestamp", "X-Terra-Ordering-Timestamp must be Unix milliseconds.")
    millis = int(text)
    if millis > (signed_ts + tolerance_s) * 1000:
        raise OrderingError(
            "ordering_timestamp_in_future", "X-Terra-Ordering-Timestamp is later than the signed delivery time."
        )
    return datetime.fromtimestamp(millis / 1000.0, UTC)


def unsupported_encoding(content_encoding: str, accept: bool) -> bool:
    """Compressed bodies are refused unless enabled; enabled, only gzip and deflate are known."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return False
    return not accept or encoding not in ("gzip", "deflate")


def _terra_signature(headers: Mapping[str, str]) -> str | None:
    return headers.get("terra-signature") or headers.get("x-terra-signature")


class Intake:
    """Per-process intake state: verifiers, limiters, idempotency cache, in-flight deliveries."""

    def __init__(
        self, config: GatewayConfig, producer: RecordProducer, metrics: GatewayMetrics, codec: Codec | None = None
    ) -> None:
        self.config = config
        self.producer = producer
        self.metrics = metrics
        self.codec = codec or Codec()
        self.terra = TerraVerifier(config.terra_secrets, config.tolerance_s)
        self.standard = {
            source: StandardVerifier(secrets, config.tolerance_s) for source, secrets in config.webhook_secrets.items()
        }
        window = config.rate_window_s
        self.by_client = SlidingWindowLimiter(config.limit_per_ip, window)
        self.proxies = TrustedProxies(config.trusted_proxies)
        self.slots = ReadSlots(
            config.max_body_reads, config.max_large_body_reads, config.large_body_bytes, config.read_slot_wait_s
        )
        self.by_source = SlidingWindowLimiter(config.limit_per_source, window)
        self.by_user = SlidingWindowLimiter(config.limit_per_user, window)
        self.cache = IdempotencyCache(config.idempotency_ttl_s, config.idempotency_max_entries)
        # a signature is accepted for 2 × tolerance (clock skew both ways): remember signed deliveries as long
        self.signed = IdempotencyCache(2.0 * config.tolerance_s, config.idempotency_max_entries)
        self.inflight: dict[str, tuple[bytes, asyncio.Future[bool]]] = {}
        # references of large requests announced here: their deliveries take the backfill lane
        self.large_requests = IdempotencyCache(LARGE_REQUEST_TTL_S, LARGE_REQUESTS_MAX)
        self._unavailable = error(
            503,
            "kafka_unavailable",
            "The event could not be stored durably; retry later.",
            {"Retry-After": str(config.retry_after_s)},
        )

    # ------------------------------------------------------------ before the body is read

    def precheck(
        self, source: str, client: str, content_length: int | None, headers: Mapping[str, str]
    ) -> Answer | None:
        """Known source, size, content type and encoding, signature headers — all before buffering.

        The per-address limiter counts only failures to authenticate, so junk from an address
        (a shared proxy, say) exhausts the bucket of junk, never that of the verified senders
        behind the same address: a request whose signature headers are plausible is always
        read and verified.
        """
        if not self.knows(source):
            return self.unauthenticated(client, error(404, "unknown_source", UNKNOWN_SOURCE))
        if content_length is not None and content_length > self.config.max_body_bytes:
            return self.too_large()
        if not is_json_type(headers.get("content-type", "").partition(";")[0].strip()):
            return error(415, "unsupported_media_type", "Webhook bodies must be sent as application/json.")
        if unsupported_encoding(headers.get("content-encoding", ""), self.config.accept_content_encoding):
            return error(415, "unsupported_encoding", "Webhook bodies must be sent without Content-Encoding.")
        try:
            self._check_signature_headers(source, headers, time.time())
        except SignatureError as exc:
            return self.unauthenticated(client, error(401, exc.code, exc.detail))
        return None

    def _check_signature_headers(self, source: str, headers: Mapping[str, str], now: float) -> None:
        if source == TERRA:
            self.terra.check_header(_terra_signature(headers), now)
        else:
            self.standard[source].check_headers(
                headers.get("webhook-id"), headers.get("webhook-timestamp"), headers.get("webhook-signature"), now
            )

    def unauthenticated(self, client: str, answer: Answer) -> Answer:
        """Charge a failure to authenticate to the client's bucket; 429 once it is spent."""
        decision = self.by_client.hit(client)
        return answer if decision.allowed else rate_limited(decision, "client")

    def too_large(self) -> Answer:
        return error(413, "payload_too_large", f"The body exceeds the limit of {self.config.max_body_bytes} bytes.")

    def busy(self) -> Answer:
        return error(
            503,
            "busy",
            "Too many bodies are being received right now; retry later.",
            {"Retry-After": str(self.config.retry_after_s)},
        )

    def read_timeout(self) -> Answer:
        return error(408, "body_timeout", f"The body did not arrive within {self.config.body_timeout_s:g} s.")

    def knows(self, source: str) -> bool:
        return source == TERRA or source in self.standard

    # ------------------------------------------------------------ after the body is read

    async def terra_webhook(self, body: bytes, headers: Mapping[str, str], client: str) -> Answer:
        try:
            verified = self.terra.verify(_terra_signature(headers), body, time.time())
        except SignatureError as exc:
            return self.unauthenticated(client, error(401, exc.code, exc.detail))
        try:
            ordering = ordering_time(
                headers.get("x-terra-ordering-timestamp"), verified.timestamp, self.config.tolerance_s
            )
        except OrderingError as exc:
            return error(400, exc.code, exc.detail)
        trace_id = headers.get("x-terra-trace-id") or None
        if trace_id is not None:
            trace_id = trace_id[:MAX_KEY_LENGTH]
        return await self._admit(TERRA, body, headers, trace_id, trace_id, ordering, verified.timestamp)

    async def standard_webhook(self, source: str, body: bytes, headers: Mapping[str, str], client: str) -> Answer:
        verifier = self.standard.get(source)
        if verifier is None:
            return self.unauthenticated(client, error(404, "unknown_source", UNKNOWN_SOURCE))
        try:
            verified: Verified = verifier.verify(
                headers.get("webhook-id"),
                headers.get("webhook-timestamp"),
                headers.get("webhook-signature"),
                body,
                time.time(),
            )
        except SignatureError as exc:
            return self.unauthenticated(client, error(401, exc.code, exc.detail))
        assert verified.message_id is not None
        ordering = datetime.fromtimestamp(verified.timestamp, UTC)
        return await self._admit(source, body, headers, verified.message_id, None, ordering, verified.timestamp)

    async def _admit(
        self,
        source: str,
        body: bytes,
        headers: Mapping[str, str],
        key: str | None,
        trace_id: str | None,
        ordering: datetime | None,
        signed_ts: int,
    ) -> Answer:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            return error(400, "malformed_json", "The body is not well-formed JSON.")
        user_id = provider_user_id(doc)
        # verified: the limits per source and user shed to the backfill lane, never a 429 (design §14)
        over_limit = not self.by_source.hit(source).allowed
        if user_id is not None and not self.by_user.hit(f"{source}:{user_id}").allowed:
            over_limit = True
        reference = announced_reference(doc, headers) if source == TERRA else None
        if reference is not None:
            self.large_requests.put(reference, b"1")
        lane = lane_for(
            source,
            trace_id,
            headers,
            self.config.backfill_sources,
            over_limit=over_limit,
            large_request=lambda ref: self.large_requests.get(ref) is not None,
        )

        digest = body_digest(body)
        if key is None:
            key = digest.hex()
        key = self._first_key(signed_identity(source, signed_ts, digest), key)
        eid = event_id(source, key)
        ckey = f"{source}:{key}"

        seen = self.cache.check(ckey, digest)
        if seen is Seen.DUPLICATE:
            return self._duplicate(eid)
        if seen is Seen.CONFLICT:
            return self._conflict()
        pending = self.inflight.get(ckey)
        if pending is not None:
            # an identical delivery is being produced right now: share its outcome
            if pending[0] != digest:
                return self._conflict()
            ok = await asyncio.shield(pending[1])
            return self._duplicate(eid) if ok else self._unavailable

        record = RawWebhook(
            event_id=eid,
            source=source,
            received_at=datetime.now(UTC),
            idempotency_key=key,
            body=body,
            ordering_ts=ordering,
            trace_id=trace_id,
            provider_user_id=user_id,
            content_type=headers.get("content-type", "application/json")[:MAX_HEADER_VALUE],
            headers={h: v[:MAX_HEADER_VALUE] for h in KEPT_HEADERS if (v := headers.get(h))},
        )
        outcome: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.inflight[ckey] = (digest, outcome)
        failure: str | None = "not produced"
        try:
            topic = self.config.backfill_topic if lane.topic == BACKFILL else self.config.raw_topic
            failure = await self._produce(topic, record, (user_id or trace_id or key).encode())
        finally:
            del self.inflight[ckey]
            outcome.set_result(failure is None)
        if failure is not None:
            return self._refused(failure) if kafka.is_permanent_produce_error(failure) else self._unavailable
        self.cache.put(ckey, digest)
        self.metrics.lanes.labels(lane.topic, lane.reason).inc()
        return Answer(202, {"event_id": eid}, event_id=eid)

    def _first_key(self, identity: str, key: str) -> str:
        """The idempotency key this signed delivery was first seen with (a replay keeps the original's)."""
        first = self.signed.get(identity)
        if first is not None:
            return first.decode()
        self.signed.put(identity, key.encode())
        return key

    async def _produce(self, topic: str, record: RawWebhook, kafka_key: bytes) -> str | None:
        """None once Kafka acknowledged the record, else librdkafka's error name."""
        value = self.codec.encode(record)
        try:
            delivery = self.producer.produce(
                topic,
                value,
                kafka_key,
                headers=[("vs.event_id", record.event_id.encode()), timing.stamp(timing.ACCEPTED)],
            )
        except ProducerUnavailable:
            self.metrics.delivery_error("queue_unavailable")
            return "queue_unavailable"
        # always resolves: librdkafka reports every message within message.timeout.ms (= the produce
        # timeout), and the producer's deadline sweep answers any it forgot one second later
        result = await delivery
        return result.error

    @staticmethod
    def _refused(error_name: str) -> Answer:
        """Kafka refuses this record itself (too large once encoded, invalid): retrying cannot help."""
        return error(
            413,
            "record_refused",
            f"Kafka cannot store this delivery as one record ({error_name}); send it in smaller parts.",
        )

    def _duplicate(self, eid: str) -> Answer:
        self.metrics.duplicates.inc()
        return Answer(200, {"duplicate": True, "event_id": eid}, event_id=eid)

    @staticmethod
    def _conflict() -> Answer:
        return error(409, "idempotency_conflict", "This idempotency key was already used with a different body.")
