"""Test configuration: real Kafka, PostgreSQL and schema-registry fixtures (design §12), loaded as plugins."""

pytest_plugins = [
    "tests.fix_kafka",
    "tests.fix_pg",
    "tests.fix_pipeline",
    "tests.fix_sink",
    "tests.fix_registry",
    "tests.fix_secure",
    "tests.fix_payloads",
]
