#!/bin/sh
# Migrate, then load the data (idempotent loaders) and train a first model if the data folder is mounted.
set -e
python manage.py migrate --noinput
if [ -d "${LEITMOTIF_DATA_DIR:-/data}/lastfm-kgcn" ] && [ "${LOAD_DATA_ON_START:-true}" = "true" ]; then
  python manage.py load_lastfm --no-progress
  python manage.py load_courses --no-progress
  # Train and publish a serving model once; later ones come from `retrain_recommender` (cron/worker).
  if [ ! -f "${LEITMOTIF_ARTIFACTS_DIR:-/app/artifacts}/recommender/PUBLISHED" ]; then
    python manage.py retrain_recommender --no-progress
  fi
fi
exec "$@"
