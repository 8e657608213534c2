"""The one Kafka toolkit: every Kafka client in the repository is built here.

One partitioner for every writer (Kafka's murmur2, as the Java client and aiokafka place keys:
a key lands in the same partition whoever wrote it, so a compacted topic keeps one live value
per key and a tombstone deletes the only copy), one durable producer configuration
(``acks=all``, idempotence, lz4), one consumer configuration (manual commits, read-committed),
one way to produce a set of records and wait for every acknowledgement (:func:`produce_all`),
and one way to read a topic to its end (:func:`iter_to_end`), whose single termination policy
is: every partition reaches the high watermark it had when the read started, or the read
raises :class:`ReadIncomplete` — never a silently partial result.

Callers may override librdkafka settings (``linger.ms``, fetch sizes, …) but not the
durability or partitioning rules: :data:`PRODUCER_RULES` is applied last.
"""

from __future__ import annotations

import logging
import ssl
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential

from schemas.topics import MAX_MESSAGE_BYTES
from vitalstream.platform.settings import Settings

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

Headers = list[tuple[str, str | bytes | None]]

MAX_RECORD_BYTES = MAX_MESSAGE_BYTES
"""The largest record a client may send or fetch (brokers and topics are configured to match)."""

PERMANENT_PRODUCE_ERRORS = frozenset({"MSG_SIZE_TOO_LARGE", "INVALID_RECORD", "RECORD_LIST_TOO_LARGE"})
"""librdkafka error names of a produce that can never succeed however often it is retried."""


def is_permanent_produce_error(name: str | None) -> bool:
    """A refusal of the record itself (too large, invalid), not an outage: retrying cannot help."""
    return name is not None and name.lstrip("_") in PERMANENT_PRODUCE_ERRORS


PRODUCER_RULES: dict[str, Any] = {
    "acks": "all",
    "enable.idempotence": True,  # retries keep a partition's order and never duplicate
    "partitioner": "murmur2_random",  # Java's partitioner: the same key, the same partition
}
"""What no caller may change: durability and partitioning."""

PRODUCER_DEFAULTS: dict[str, Any] = {
    "compression.type": "lz4",
    "linger.ms": 5,
    "message.timeout.ms": 30_000,
    "message.max.bytes": MAX_RECORD_BYTES,
    "queue.buffering.max.kbytes": 512 * 1024,
    "reconnect.backoff.max.ms": 1000,
    "socket.keepalive.enable": True,
}

CONSUMER_DEFAULTS: dict[str, Any] = {
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "auto.offset.reset": "earliest",
    "isolation.level": "read_committed",
    "enable.partition.eof": False,
    "fetch.max.bytes": 64 * 1024 * 1024,
    "max.partition.fetch.bytes": MAX_RECORD_BYTES,
    "reconnect.backoff.max.ms": 1000,
}

_TRANSIENT = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._TRANSPORT,  # librdkafka's own names
        KafkaError._TIMED_OUT,
        KafkaError.REQUEST_TIMED_OUT,
    }
)


def quiet_logger(client_id: str) -> logging.Logger:
    """librdkafka's log lines for one client, silenced below CRITICAL (errors arrive via callbacks)."""
    logger = logging.getLogger(f"vitalstream.librdkafka.{client_id}")
    logger.setLevel(logging.CRITICAL)
    return logger


def security_config(settings: Settings) -> dict[str, Any]:
    """librdkafka's TLS and SASL settings for the configured principal (nothing extra for PLAINTEXT)."""
    protocol = settings.kafka_security_protocol
    config: dict[str, Any] = {"security.protocol": protocol}
    if protocol == "PLAINTEXT":
        return config
    config["ssl.endpoint.identification.algorithm"] = "https"  # the broker's name must match its certificate
    if settings.kafka_ca_file:
        config["ssl.ca.location"] = settings.kafka_ca_file
    if settings.kafka_cert_file and settings.kafka_key_file:
        config["ssl.certificate.location"] = settings.kafka_cert_file
        config["ssl.key.location"] = settings.kafka_key_file
    if protocol == "SASL_SSL":
        assert settings.kafka_password is not None  # Settings refuses SASL_SSL without one
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
        config["sasl.username"] = settings.kafka_username
        config["sasl.password"] = settings.kafka_password.get_secret_value()
    return config


def client_config(settings: Settings, client_id: str) -> dict[str, Any]:
    """What every client shares: where the brokers are, who it is and how it proves it, where its logs go."""
    return {
        "bootstrap.servers": settings.kafka_bootstrap,
        "client.id": f"vitalstream-{client_id}",
        "logger": quiet_logger(client_id),
        **security_config(settings),
    }


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context of an asyncio client (aiokafka): the configured CA, the client certificate if any."""
    context = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cafile=settings.kafka_ca_file)
    if settings.kafka_cert_file and settings.kafka_key_file:
        context.load_cert_chain(settings.kafka_cert_file, settings.kafka_key_file)
    return context


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """Faust's ``broker_credentials`` for the configured principal (None for PLAINTEXT).

    Faust (aiokafka) speaks SASL_SSL only when the SASL credentials carry an SSL context;
    without one it would send the password over SASL_PLAINTEXT.
    """
    import faust  # only the worker pays for importing Faust

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(ssl_context(settings))
    assert settings.kafka_password is not None  # Settings refuses SASL_SSL without one
    return faust.SASLCredentials(
        username=settings.kafka_username,
        password=settings.kafka_password.get_secret_value(),
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=ssl_context(settings),
    )


def producer_config(settings: Settings, client_id: str, **overrides: Any) -> dict[str, Any]:
    """The durable producer's configuration; ``overrides`` tune latency and buffering only."""
    return {**client_config(settings, client_id), **PRODUCER_DEFAULTS, **overrides, **PRODUCER_RULES}


def producer(settings: Settings, client_id: str, **overrides: Any) -> Producer:
    """The durable producer (``overrides`` may add callbacks such as ``error_cb``)."""
    return Producer(producer_config(settings, client_id, **overrides))


def ephemeral_group(settings: Settings, client_id: str) -> str:
    """A group id for a reader that never commits (assign-only tools).

    Under a Kafka principal it starts with the principal's name, where its group ACLs allow it
    (``<prefix>analyst.tail-…``), so no principal needs rights on every group.
    """
    owner = f"{settings.kafka_username}." if settings.kafka_username else ""
    return f"{settings.group_prefix}{owner}{client_id}-{uuid.uuid4().hex[:8]}"


REFUSALS = frozenset(
    {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError._AUTHENTICATION,
    }
)
"""Errors no retry can cure: this principal may not do that (or is not who it says)."""


def consumer_config(
    settings: Settings, client_id: str, group_id: str | None = None, **overrides: Any
) -> dict[str, Any]:
    return {
        **client_config(settings, client_id),
        "group.id": group_id or ephemeral_group(settings, client_id),
        **CONSUMER_DEFAULTS,
        **overrides,
    }


def consumer(settings: Settings, client_id: str, group_id: str | None = None, **overrides: Any) -> Consumer:
    """A consumer that commits only when told to; without ``group_id`` an ephemeral group."""
    return Consumer(consumer_config(settings, client_id, group_id, **overrides))


COMMIT_INTERVAL_S = 0.1


class CommitPacing:
    """At most one offset commit per ``interval_s`` while records keep coming.

    A commit is a write to ``__consumer_offsets`` through the group coordinator; one per batch
    at low load (a handful of records each) costs the broker more than the batches do. Callers
    commit at once whatever else happens: when they fall idle, lose partitions or stop. A crash
    in between redelivers at most one interval's records, and every effect is idempotent.
    """

    def __init__(self, interval_s: float = COMMIT_INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._issued_at = -float("inf")

    def due(self) -> bool:
        return self._clock() - self._issued_at >= self.interval_s

    def issued(self) -> None:
        self._issued_at = self._clock()


def consume_ready(client: Consumer, max_messages: int, wait_s: float, linger_s: float = 0.0) -> list[Message]:
    """Up to ``max_messages`` records as soon as nothing more is ready: the first to arrive within
    ``wait_s``, then what came with it (waiting ``linger_s`` for more).

    librdkafka's ``consume(n, timeout)`` returns only once it has ``n`` records or the timeout
    passed, so one call with a large ``n`` makes every record wait out the timeout at low load."""
    msgs: list[Message] = client.consume(num_messages=1, timeout=wait_s)
    if msgs and max_messages > 1:
        msgs += client.consume(num_messages=max_messages - 1, timeout=linger_s)
    return msgs


def admin(settings: Settings, client_id: str = "admin", socket_timeout_ms: int = 5000) -> AdminClient:
    return AdminClient({**client_config(settings, client_id), "socket.timeout.ms": socket_timeout_ms})


# --- producing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One record to produce; ``partition`` None means the key's partition."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    headers: Headers | None = None
    partition: int | None = None


class DeliveryFailed(Exception):
    """Some records of a :func:`produce_all` were not acknowledged (the broker said why, or time ran out)."""

    def __init__(self, failed: int, total: int, first_error: str) -> None:
        super().__init__(f"{failed} of {total} records not acknowledged by Kafka ({first_error})")
        self.failed = failed
        self.total = total
        self.first_error = first_error


@dataclass
class _Acks:
    pending: int = 0
    failed: int = 0
    first_error: str = ""
    on_ack: Callable[[Message], None] | None = None

    def report(self, err: KafkaError | None, msg: Message) -> None:
        self.pending -= 1
        if err is not None:
            self.failed += 1
            self.first_error = self.first_error or err.name()
        elif self.on_ack is not None:
            self.on_ack(msg)


def produce_all(
    client: Producer,
    records: Iterable[OutRecord],
    *,
    timeout_s: float = 60.0,
    on_ack: Callable[[Message], None] | None = None,
) -> int:
    """Produce every record and wait until each is acknowledged; returns how many were sent.

    A full local queue is waited out (``poll``), never dropped. Raises :class:`DeliveryFailed`
    when any record was refused or not acknowledged within ``timeout_s`` of the last produce.
    """
    acks = _Acks(on_ack=on_ack)
    total = 0
    for rec in records:
        kwargs: dict[str, Any] = {"key": rec.key, "value": rec.value, "on_delivery": acks.report}
        if rec.headers:
            kwargs["headers"] = rec.headers
        if rec.partition is not None:
            kwargs["partition"] = rec.partition
        while True:
            try:
                client.produce(rec.topic, **kwargs)
                break
            except BufferError:
                client.poll(0.05)
            except KafkaException as exc:
                acks.failed += 1
                acks.first_error = acks.first_error or exc.args[0].name()
                break
        acks.pending += 1
        total += 1
        client.poll(0)
    deadline = time.monotonic() + timeout_s
    while acks.pending > 0 and time.monotonic() < deadline:
        try:
            client.flush(min(1.0, max(0.0, deadline - time.monotonic())))
        except (KafkaException, SystemError) as exc:
            fatal = _fatal_error(exc)
            raise DeliveryFailed(max(acks.pending, 1) + acks.failed, total, fatal) from None
    if acks.pending > 0:
        raise DeliveryFailed(acks.failed + acks.pending, total, acks.first_error or "timed out")
    if acks.failed:
        raise DeliveryFailed(acks.failed, total, acks.first_error)
    return total


def _fatal_error(exc: BaseException) -> str:
    """The name of the fatal client error behind ``exc`` (re-raised when it is something else).

    A fatal error (the broker refused this principal an idempotent producer id, say) surfaces in
    ``flush`` as a KafkaException, or as a SystemError caused by it when the client reports it
    while running delivery callbacks.
    """
    cause = exc if isinstance(exc, KafkaException) else exc.__cause__
    if not isinstance(cause, KafkaException):
        raise exc
    err = cause.args[0]
    return err.name() if isinstance(err, KafkaError) else str(err)


# --- reading to the end ----------------------------------------------------------------------


class ReadIncomplete(Exception):
    """A read-to-end did not reach every partition's end in time: the result would be partial."""

    def __init__(self, topic: str, behind: dict[int, tuple[int, int]], timeout_s: float) -> None:
        where = ", ".join(f"p{p} at {pos} of {end}" for p, (pos, end) in sorted(behind.items())[:5])
        super().__init__(f"reading {topic} to its end took longer than {timeout_s:.0f}s ({where}); try again")
        self.topic = topic
        self.behind = behind


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, KafkaException) and exc.args[0].code() in _TRANSIENT


metadata_retry = retry(
    retry=retry_if_exception(_is_transient),
    wait=wait_exponential(multiplier=0.1, max=2.0),
    stop=stop_after_delay(20),
    reraise=True,
)
"""Retries a metadata or watermark query through the transient errors right after topic creation."""


@metadata_retry
def partitions_of(client: Consumer, topic: str, timeout_s: float = 10.0) -> list[int]:
    """The topic's partition ids; raises KafkaException UNKNOWN_TOPIC_OR_PART when it does not exist."""
    meta = client.list_topics(topic, timeout=timeout_s).topics.get(topic)
    if meta is None or meta.error is not None:
        raise KafkaException(meta.error if meta is not None else KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART))
    return sorted(meta.partitions)


def topic_exists(client: Consumer, topic: str, timeout_s: float = 10.0) -> bool:
    meta = client.list_topics(topic, timeout=timeout_s).topics.get(topic)
    return meta is not None and meta.error is None


@metadata_retry
def watermarks(client: Consumer, topic: str, partition: int, timeout_s: float = 10.0) -> tuple[int, int]:
    low, high = client.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
    return int(low), int(high)


def end_offsets(client: Consumer, topic: str, partitions: Sequence[int] | None = None) -> dict[int, tuple[int, int]]:
    """``{partition: (low, high)}`` now."""
    return {
        p: watermarks(client, topic, p)
        for p in (partitions if partitions is not None else partitions_of(client, topic))
    }


def group_positions(
    reader: Consumer, tps: Sequence[TopicPartition], timeout_s: float = 3.0, attempts: int = 5
) -> dict[tuple[str, int], tuple[int, int]]:
    """Per partition, ``(start, lag)``: where ``reader``'s group resumes (its committed offset, else
    the log start) and how far the high watermark is ahead of it.

    ``reader`` is a consumer of that group that never subscribes, so it neither joins the group
    nor moves its offsets. Committed offsets come from ``Consumer.committed``, not the admin
    client's ListConsumerGroupOffsets, which can crash librdkafka when the coordinator answers
    NOT_COORDINATOR (librdkafka#5040); they are retried while the coordinator is loading or moving.
    """
    for attempt in range(attempts):
        try:
            committed = {(tp.topic, tp.partition): tp.offset for tp in reader.committed(list(tps), timeout=timeout_s)}
            break
        except KafkaException:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    positions: dict[tuple[str, int], tuple[int, int]] = {}
    for tp in tps:
        low, high = reader.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=timeout_s)
        offset = committed.get((tp.topic, tp.partition), -1)
        start = offset if offset >= 0 else low
        positions[(tp.topic, tp.partition)] = (start, max(0, high - start))
    return positions


def iter_to_end(
    client: Consumer,
    topic: str,
    *,
    timeout_s: float = 60.0,
    partitions: Sequence[int] | None = None,
    start_offsets: dict[int, int] | None = None,
) -> Iterator[Message]:
    """Every record of ``topic`` from the earliest (or ``start_offsets``) to the end it had at the start.

    The end is each partition's high watermark when the read begins; a partition is done when
    the consumer's position reaches it (compaction gaps and transaction markers included). The
    consumer is assigned for the read and unassigned after. Raises :class:`ReadIncomplete` when
    ``timeout_s`` passes without progress — a caller never sees a partial topic as a whole one.
    """
    ends: dict[int, int] = {}
    assignment: list[TopicPartition] = []
    for p, (low, high) in end_offsets(client, topic, partitions).items():
        start = max(low, (start_offsets or {}).get(p, low))
        if high > start:
            ends[p] = high
            assignment.append(TopicPartition(topic, p, start))
    if not ends:
        return
    client.assign(assignment)
    deadline = time.monotonic() + timeout_s
    try:
        while ends:
            msg = client.poll(0.2)
            err = msg.error() if msg is not None else None
            if msg is not None and err is None:
                deadline = time.monotonic() + timeout_s  # progress: the timeout is for a stall
                yield msg
            elif err is not None and err.code() != KafkaError._PARTITION_EOF and not err.retriable():
                raise KafkaException(err)
            for tp in client.position([TopicPartition(topic, p) for p in ends]):
                if tp.offset >= 0 and tp.offset >= ends[tp.partition]:
                    ends.pop(tp.partition, None)
            if ends and time.monotonic() > deadline:
                positions = {
                    tp.partition: tp.offset for tp in client.position([TopicPartition(topic, p) for p in ends])
                }
                raise ReadIncomplete(topic, {p: (positions.get(p, -1), end) for p, end in ends.items()}, timeout_s)
    finally:
        client.unassign()


def read_to_end(settings: Settings, topic: str, client_id: str, *, timeout_s: float = 60.0) -> list[Message]:
    """:func:`iter_to_end` with a consumer of its own, as a list (for topics that fit in memory)."""
    reader = consumer(settings, client_id)
    try:
        return list(iter_to_end(reader, topic, timeout_s=timeout_s))
    finally:
        reader.close()


def read_compacted(settings: Settings, topic: str, client_id: str, *, timeout_s: float = 60.0) -> dict[bytes, bytes]:
    """The live value per key of a compacted topic (tombstones remove a key)."""
    state: dict[bytes, bytes] = {}
    reader = consumer(settings, client_id)
    try:
        for msg in iter_to_end(reader, topic, timeout_s=timeout_s):
            key, value = msg.key(), msg.value()
            if key is None:
                continue
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
    finally:
        reader.close()
    return state
