"""The read API for apps (``vitalstream api``): latest values with their confidence, history,
quality, a live Server-Sent Events stream fed by ``metrics.latest``, and FHIR Observations.

Pure modules (``keys``, ``etags``, ``cursors``, ``fhir``, ``hub``) hold the logic; ``app``,
``feed``, ``queries`` and ``keystore`` only move data between HTTP, Kafka and PostgreSQL.
"""
