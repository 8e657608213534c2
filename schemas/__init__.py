"""The vitalstream data contract: Avro schemas, record types, topic catalogue, codec, vocabulary.

This package imports nothing else of ours; every service depends on it.
"""
