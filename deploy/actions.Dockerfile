# The action server (actions/, token-protected: actions/server.py) on Rasa SDK's official image.
#   docker build -f deploy/actions.Dockerfile -t area-clienti/actions:dev .
FROM rasa/rasa-sdk:3.6.2

USER root
WORKDIR /app
RUN pip install --no-cache-dir "python-stdnum==2.2" "phonenumbers==9.0.43" "PyJWT==2.15.1" \
        "holidays==0.86" "PyYAML==6.0.4"
COPY actions/ actions/
COPY identity/ identity/
COPY brand_registry/ brand_registry/
COPY handoff/ handoff/
ENV PYTHONPATH=/app ASSISTANT_ENV=production ACTIONS_HOST=0.0.0.0
USER 1001
EXPOSE 5055
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5055/health', timeout=2).status == 200 else 1)"
# ACTION_SERVER_TOKEN (32+ characters) and BACKEND_URL come from the environment.
ENTRYPOINT ["python", "-m", "actions.server", "--port", "5055"]
