"""The `ferbench` command line (application shell): one module per group of subcommands."""
