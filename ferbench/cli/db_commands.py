"""`ferbench db ...`: schema migrations (the prestart step)."""

COMMANDS: list = []
