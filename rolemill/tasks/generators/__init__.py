"""Generators: each turns seeds or profiles into rows, with its prompt templates beside it."""
