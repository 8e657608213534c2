"""The local stack: a real Apache Kafka broker (KRaft) and PostgreSQL without Docker."""
