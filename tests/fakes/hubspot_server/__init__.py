"""A local stand-in for HubSpot's CRM v3 API (batch upsert, properties), for the delivery tests (see server.py)."""
