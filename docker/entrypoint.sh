#!/bin/sh
# Migrate, then load the data (idempotent loaders) and train a first model if the data folder is mounted.
# The Celery worker and beat set RUN_MIGRATIONS=false: the web service migrates, once.
set -e
if [ "${RUN_MIGRATIONS:-true}" = "true" ]; then
  python manage.py migrate --noinput
fi
if [ -d "${LEITMOTIF_DATA_DIR:-/data}/lastfm-kgcn" ] && [ "${LOAD_DATA_ON_START:-true}" = "true" ]; then
  python manage.py load_lastfm --no-progress
  python manage.py load_courses --no-progress
  # Train and publish a serving model once; later ones come from the Celery beat schedule (recommender.retrain).
  if [ ! -f "${LEITMOTIF_ARTIFACTS_DIR:-/app/artifacts}/recommender/PUBLISHED" ]; then
    python manage.py retrain_recommender --no-progress
  fi
fi
exec "$@"
