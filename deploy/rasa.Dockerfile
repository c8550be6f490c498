# The Rasa server (NLU + dialogue + our channels and stores) on Rasa's official image.
#   docker build -f deploy/rasa.Dockerfile -t area-clienti/rasa:dev .
# Build context: the repository root, after `make setup` (the trained model and the Italian
# spaCy wheel are copied in: models/area-clienti.tar.gz, deploy/wheels/*.whl; see
# deploy/README.md). Configuration comes from the environment at start
# (deploy/rasa-entrypoint.sh renders endpoints.yml and credentials.yml).
FROM rasa/rasa:3.6.21

USER root
WORKDIR /app
# What our code needs beyond Rasa's image (the same pins as requirements/rasa.lock.txt),
# and the Italian spaCy pipeline built by scripts/build_italian_pipeline.py.
COPY deploy/wheels/ /tmp/wheels/
RUN pip install --no-cache-dir "spacy==3.4.4" "python-stdnum==2.2" "phonenumbers==9.0.43" \
        "holidays==0.86" /tmp/wheels/it_area_clienti_sm-*.whl \
    && rm -rf /tmp/wheels
COPY bot/ bot/
COPY actions/ actions/
COPY identity/ identity/
COPY brand_registry/ brand_registry/
COPY handoff/ handoff/
COPY domain/ domain/
COPY endpoints.yml credentials.yml config.yml ./
COPY scripts/configs/logging_json.yml scripts/configs/logging_json.yml
COPY models/area-clienti.tar.gz models/area-clienti.tar.gz
COPY deploy/rasa-entrypoint.sh /app/rasa-entrypoint.sh
RUN chmod 0755 /app/rasa-entrypoint.sh && mkdir -p /app/var && chown -R 1001 /app/var

ENV PYTHONPATH=/app \
    RASA_TELEMETRY_ENABLED=false \
    TF_CPP_MIN_LOG_LEVEL=3 \
    TF_INTRA_OP_PARALLELISM_THREADS=1 \
    TF_INTER_OP_PARALLELISM_THREADS=1 \
    LOG_FORMAT=json \
    ASSISTANT_ENV=production
USER 1001
EXPOSE 5005
# Liveness: Rasa's own "/"; readiness for a load balancer: /webhooks/ops/ready?only=model.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5005/webhooks/ops/ready?only=model', timeout=2).status == 200 else 1)"
ENTRYPOINT ["/app/rasa-entrypoint.sh"]
