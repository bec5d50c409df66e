"""RoleMRC: reading comprehension in character (answer, refusal, attempt)."""
