"""PostgreSQL sink: migrations, batched idempotent upserts, offsets committed after the database commit."""
