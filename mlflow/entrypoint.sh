#!/bin/sh
# Starts the tracking server from environment settings; no credential is baked into the image.
#   MLFLOW_BACKEND_STORE_URI        full SQLAlchemy URL, or built from the POSTGRES_* variables below
#   POSTGRES_USER / POSTGRES_DB / POSTGRES_HOST / POSTGRES_PORT
#   POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (a Docker secret)
#   MLFLOW_ARTIFACTS_DESTINATION    where served artifacts live (default /mlartifacts, a named volume)
#   MLFLOW_ALLOWED_HOSTS            Host headers accepted (compose: the api and worker service names)
#   MLFLOW_CORS_ALLOWED_ORIGINS     browser origins allowed to call the REST API
#   MLFLOW_AUTH=basic-auth          turn on MLflow's basic-auth app (MLFLOW_AUTH_CONFIG_PATH for its ini)
set -eu

if [ -z "${MLFLOW_BACKEND_STORE_URI:-}" ]; then
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
  fi
  : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (or MLFLOW_BACKEND_STORE_URI)}"
  MLFLOW_BACKEND_STORE_URI="postgresql+psycopg://${POSTGRES_USER:-ferbench}:${POSTGRES_PASSWORD}@${POSTGRES_HOST:-postgres}:${POSTGRES_PORT:-5432}/${MLFLOW_DB:-mlflow}"
fi

set -- mlflow server \
  --host 0.0.0.0 \
  --port "${MLFLOW_PORT:-5000}" \
  --backend-store-uri "$MLFLOW_BACKEND_STORE_URI" \
  --serve-artifacts \
  --artifacts-destination "${MLFLOW_ARTIFACTS_DESTINATION:-/mlartifacts}" \
  --allowed-hosts "${MLFLOW_ALLOWED_HOSTS:-localhost,127.0.0.1,mlflow,mlflow:5000,localhost:5000,127.0.0.1:5000}" \
  --cors-allowed-origins "${MLFLOW_CORS_ALLOWED_ORIGINS:-http://localhost:5000,http://127.0.0.1:5000}" \
  "$@"

if [ "${MLFLOW_AUTH:-}" = "basic-auth" ]; then
  set -- "$@" --app-name basic-auth
fi

exec "$@"
