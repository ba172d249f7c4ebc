# The MLflow server of deploy/team/compose.yaml: MLflow's own image, at the version uv.lock
# gives the project's clients, plus the drivers for PostgreSQL and S3 and the auth app's CSRF.
FROM ghcr.io/mlflow/mlflow:v3.17.2
RUN pip install --no-cache-dir "psycopg[binary]==3.3.*" "boto3==1.*" "flask-wtf==1.*"
COPY --chmod=755 mlflow-server.sh /usr/local/bin/mlflow-server.sh
USER 1000
CMD ["/usr/local/bin/mlflow-server.sh"]
