"""A local webhook receiver for tests: verifies Beton's signature, dedupes by Idempotency-Key."""
