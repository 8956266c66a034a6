"""Test-only ClickHouse HTTP server over chDB (the real engine, in-process).

`server` speaks the ClickHouse HTTP interface in front of one chdb connection;
`fixture` starts it in a subprocess for pytest. Never used by the product.
"""
