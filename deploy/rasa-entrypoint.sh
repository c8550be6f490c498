#!/bin/sh
# Renders this container's endpoints.yml and credentials.yml from the environment
# (bot/endpoints_config.py, bot/credentials_config.py: RASA_TRACKER_URL, REDIS_URL,
# ACTION_SERVER_URL, ACTION_SERVER_TOKEN, ...) and starts Rasa. Extra arguments go to rasa run.
set -eu
umask 077
python -m bot.endpoints_config > /tmp/endpoints.yml
python -m bot.credentials_config > /tmp/credentials.yml
set -- run --model models/area-clienti.tar.gz --endpoints /tmp/endpoints.yml \
  --credentials /tmp/credentials.yml -i 0.0.0.0 --port "${RASA_PORT:-5005}" \
  --cors ${CHAT_ALLOWED_ORIGINS:-} "$@"
if [ "${LOG_FORMAT:-}" = json ]; then
  set -- "$@" --logging-config-file scripts/configs/logging_json.yml
fi
exec rasa "$@"
