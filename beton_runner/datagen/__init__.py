"""The data generators: ``mock`` (the small hand-shaped seeds in ``seeds/``, committed) and
``synthetic`` (deterministic PostHog-style input tables at any size, for benchmarks)."""
