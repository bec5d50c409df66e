"""Pydantic models and Arrow schemas: the data contracts of rolemill."""
