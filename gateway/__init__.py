"""The vitalstream gateway: verifies, limits and deduplicates webhooks and makes them durable in Kafka."""
