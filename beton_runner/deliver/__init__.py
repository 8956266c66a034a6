"""Delivery of punch-list changes to the tools sales people live in (`beton deliver`)."""
