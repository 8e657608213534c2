"""Stream workers: pure normalization and confidence, Faust wiring, retry/DLQ, replay."""
