"""Test helpers shipped with rolemill: a scripted OpenAI-compatible server."""
