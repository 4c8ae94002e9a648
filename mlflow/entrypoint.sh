#!/bin/sh
# Starts the tracking server from environment settings; no credential is baked into the image.
# Every secret may come from the environment or, as VAR_FILE, from a file (a Docker secret).
#   MLFLOW_BACKEND_STORE_URI        full SQLAlchemy URL, or built from the POSTGRES_* variables below
#   POSTGRES_USER / POSTGRES_DB / POSTGRES_HOST / POSTGRES_PORT
#   POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE
#   MLFLOW_ARTIFACTS_DESTINATION    where served artifacts live (default /mlartifacts, a named volume)
#   MLFLOW_ALLOWED_HOSTS            Host headers accepted (compose: the api and worker service names)
#   MLFLOW_CORS_ALLOWED_ORIGINS     browser origins allowed to call the REST API
#   MLFLOW_AUTH=basic-auth          turn on MLflow's basic-auth app, which then needs:
#     MLFLOW_AUTH_ADMIN_PASSWORD(_FILE)      the admin's password (created on the first start)
#     MLFLOW_FLASK_SERVER_SECRET_KEY(_FILE)  signs the UI's sessions and CSRF tokens
#     MLFLOW_AUTH_ADMIN_USERNAME             default admin
#     MLFLOW_AUTH_DATABASE_URI               the user store (default: database mlflow_auth on POSTGRES_HOST)
#     MLFLOW_AUTH_DEFAULT_PERMISSION         what a logged-in user may do by default (default READ)
#     MLFLOW_AUTH_CONFIG_PATH                your own basic_auth.ini instead of all of the above
set -eu

# VAR_FILE -> VAR (the Docker secrets convention); both set is a configuration error.
from_file() {
  eval "file=\${${1}_FILE:-}"
  if [ -n "$file" ]; then
    eval "already=\${${1}:-}"
    if [ -n "$already" ]; then
      echo "mlflow-entrypoint: set $1 or ${1}_FILE, not both" >&2
      exit 1
    fi
    [ -r "$file" ] || { echo "mlflow-entrypoint: ${1}_FILE=$file is not a readable file" >&2; exit 1; }
    eval "$1=\$(cat \"\$file\")"
    export "$1"
  fi
}

# Compose passes unset secrets as empty strings; MLflow treats a set-but-empty variable as a value.
for name in MLFLOW_AUTH_ADMIN_USERNAME MLFLOW_AUTH_ADMIN_PASSWORD MLFLOW_FLASK_SERVER_SECRET_KEY; do
  eval "value=\${$name:-}"
  [ -n "$value" ] || unset "$name"
done

from_file POSTGRES_PASSWORD
if [ -z "${MLFLOW_BACKEND_STORE_URI:-}" ]; then
  : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (or MLFLOW_BACKEND_STORE_URI)}"
  MLFLOW_BACKEND_STORE_URI="postgresql+psycopg://${POSTGRES_USER:-ferbench}:${POSTGRES_PASSWORD}@${POSTGRES_HOST:-postgres}:${POSTGRES_PORT:-5432}/${MLFLOW_DB:-mlflow}"
fi

set -- mlflow server \
  --host "${MLFLOW_HOST:-0.0.0.0}" \
  --port "${MLFLOW_PORT:-5000}" \
  --backend-store-uri "$MLFLOW_BACKEND_STORE_URI" \
  --serve-artifacts \
  --artifacts-destination "${MLFLOW_ARTIFACTS_DESTINATION:-/mlartifacts}" \
  --allowed-hosts "${MLFLOW_ALLOWED_HOSTS:-localhost,127.0.0.1,mlflow,mlflow:5000,localhost:5000,127.0.0.1:5000}" \
  --cors-allowed-origins "${MLFLOW_CORS_ALLOWED_ORIGINS:-http://localhost:5000,http://127.0.0.1:5000}" \
  "$@"

if [ "${MLFLOW_AUTH:-}" = "basic-auth" ]; then
  from_file MLFLOW_AUTH_ADMIN_PASSWORD
  from_file MLFLOW_FLASK_SERVER_SECRET_KEY
  if [ -z "${MLFLOW_AUTH_CONFIG_PATH:-}" ]; then
    : "${MLFLOW_AUTH_ADMIN_PASSWORD:?MLFLOW_AUTH=basic-auth needs MLFLOW_AUTH_ADMIN_PASSWORD or MLFLOW_AUTH_ADMIN_PASSWORD_FILE}"
    if [ -z "${MLFLOW_AUTH_DATABASE_URI:-}" ]; then
      : "${POSTGRES_PASSWORD:?MLFLOW_AUTH=basic-auth needs MLFLOW_AUTH_DATABASE_URI or the POSTGRES_* variables}"
      MLFLOW_AUTH_DATABASE_URI="postgresql+psycopg://${POSTGRES_USER:-ferbench}:${POSTGRES_PASSWORD}@${POSTGRES_HOST:-postgres}:${POSTGRES_PORT:-5432}/${MLFLOW_AUTH_DB:-mlflow_auth}"
    fi
    # The ini holds no password (MLflow reads MLFLOW_AUTH_ADMIN_* from the environment) but does
    # hold the user-store URL: private to this user, outside the served artifacts folder.
    config_dir="$(mktemp -d)"
    chmod 700 "$config_dir"
    MLFLOW_AUTH_CONFIG_PATH="$config_dir/basic_auth.ini"
    umask 077
    cat > "$MLFLOW_AUTH_CONFIG_PATH" <<INI
[mlflow]
default_permission = ${MLFLOW_AUTH_DEFAULT_PERMISSION:-READ}
database_uri = ${MLFLOW_AUTH_DATABASE_URI}
admin_username = ${MLFLOW_AUTH_ADMIN_USERNAME:-admin}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
    export MLFLOW_AUTH_CONFIG_PATH
  fi
  : "${MLFLOW_FLASK_SERVER_SECRET_KEY:?MLFLOW_AUTH=basic-auth needs MLFLOW_FLASK_SERVER_SECRET_KEY or MLFLOW_FLASK_SERVER_SECRET_KEY_FILE}"
  set -- "$@" --app-name basic-auth
fi

exec "$@"
