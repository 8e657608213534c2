"""Kafka header names of the retry/DLQ contract (design §7)."""

ERROR_STAGE = "vs.error.stage"
ERROR_CLASS = "vs.error.class"
ERROR_MESSAGE = "vs.error.message"
ERROR_STACKTRACE = "vs.error.stacktrace"
ORIGINAL_TOPIC = "vs.original.topic"
ORIGINAL_PARTITION = "vs.original.partition"
ORIGINAL_OFFSET = "vs.original.offset"
ORIGINAL_TIMESTAMP = "vs.original.timestamp"
ATTEMPTS = "vs.attempts"
FIRST_FAILURE_AT = "vs.first_failure_at"
EVENT_ID = "vs.event_id"
REPLAY_OF = "vs.replay.of"

ALL_FAILURE_HEADERS = (
    ERROR_STAGE,
    ERROR_CLASS,
    ERROR_MESSAGE,
    ERROR_STACKTRACE,
    ORIGINAL_TOPIC,
    ORIGINAL_PARTITION,
    ORIGINAL_OFFSET,
    ORIGINAL_TIMESTAMP,
    ATTEMPTS,
    FIRST_FAILURE_AT,
    EVENT_ID,
)
