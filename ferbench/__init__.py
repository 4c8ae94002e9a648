"""FER Bench's shared library and its application shell, two kinds of code with imports one way only.

The library, which the API (api/) and the worker (worker/) share: `settings` (the one settings
object), `db/` (tables, sessions, every query, migrations), `queue` (the Celery client), `urls`,
`reports/` (the write-up table the API makes and the CLI prints) and `promotion` (an experiment's model
into MLflow's registry). It never imports the shell.

The application shell, what a person runs: `cli/` (the `ferbench` command), `client` (the CLI's typed
HTTP client of the API), `stack` (`ferbench up`: the whole stack as child processes), `services/`
(the private Redis and MLflow server processes the stack starts), `serving/` (`ferbench serve`: the
process that keeps registered models warm and answers predictions), `kaggle_fetch` (`ferbench datasets
fetch`), `dataset_pack` (`ferbench datasets upload FOLDER` zips the folder) and `testing/` (what the
tests and benchmarks share). Neither api/ nor worker/ imports it.
"""

__version__ = "0.1.0"
