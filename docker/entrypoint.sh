#!/bin/sh
# Migrate, then load the data once if the data folder is mounted (the loader is idempotent).
set -e
python manage.py migrate --noinput
if [ -d "${LEITMOTIF_DATA_DIR:-/data}/lastfm-kgcn" ] && [ "${LOAD_DATA_ON_START:-true}" = "true" ]; then
  python manage.py load_lastfm --no-progress
fi
exec "$@"
