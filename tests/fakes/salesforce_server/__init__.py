"""A local stand-in for Salesforce's REST API (sObject Collections upsert, describe), for the delivery tests (see server.py)."""
