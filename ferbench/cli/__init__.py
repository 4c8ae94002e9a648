"""The `ferbench` command line: one module per group of subcommands."""
