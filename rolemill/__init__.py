"""rolemill: a data factory for role-play training data."""
