#!/bin/sh
# Start the MLflow server of compose.yaml: basic auth with its users in PostgreSQL (the auth
# app reads its database from a file only, so the file is written here, from the environment).
set -eu
umask 077
cat > /tmp/basic_auth.ini <<INI
[mlflow]
default_permission = READ
database_uri = postgresql+psycopg://mlflow:${POSTGRES_PASSWORD}@postgres/mlflow_auth
admin_username = admin
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = 60
INI
export MLFLOW_AUTH_CONFIG_PATH=/tmp/basic_auth.ini
exec mlflow server \
    --app-name basic-auth \
    --backend-store-uri "postgresql+psycopg://mlflow:${POSTGRES_PASSWORD}@postgres/mlflow" \
    --artifacts-destination s3://team-mlflow/artifacts \
    --host 0.0.0.0 --port 5000 --workers 2 \
    --allowed-hosts "${MLFLOW_ALLOWED_HOSTS}"
