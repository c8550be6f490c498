# The backend stub (FastAPI, its own pins: backend_stub/requirements.txt). It stands for the
# insurer's systems; a real deployment points BACKEND_URL at those instead.
#   docker build -f deploy/backend.Dockerfile -t area-clienti/backend-stub:dev .
FROM python:3.11-slim

WORKDIR /app
COPY backend_stub/requirements.txt backend_stub/requirements.txt
RUN pip install --no-cache-dir -r backend_stub/requirements.txt
COPY backend_stub/ backend_stub/
COPY brand_registry/ brand_registry/
RUN useradd --uid 1001 --no-create-home app && mkdir -p /app/var && chown 1001 /app/var
USER 1001
ENV BACKEND_HOST=0.0.0.0 BACKEND_PORT=8000
EXPOSE 8000
ENTRYPOINT ["python", "-m", "backend_stub"]
