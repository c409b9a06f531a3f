#!/usr/bin/env bash
# Installs the system packages Leitmotif needs, only where they are missing (idempotent, quiet when
# everything is present). Java 17 and Maven run the local Neo4j server (scripts/neo4j_local.py);
# PostgreSQL backs the second run of `make test` (scripts/postgres_local.py);
# Chromium runs the browser tests (tests/learning_platform/test_browser.py); FluidSynth renders audio.
set -euo pipefail

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-venv)
# Debian's Chromium runs the browser tests (Playwright drives it; Playwright's own browser downloads are not used).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# FluidSynth and the General MIDI SoundFont render the music21 score corpus to audio (load_works).
command -v fluidsynth >/dev/null 2>&1 || missing+=(fluidsynth)
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || missing+=(fluid-soundfont-gm)
[ -f /usr/share/sounds/sf2/TimGM6mb.sf2 ] || missing+=(timgm6mb-soundfont)  # a second SoundFont for varied practice performances (practice/synthesis.py)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)  # Celery broker (scripts/redis_local.py, tests/jobs)
# Debian's PostgreSQL server (initdb, pg_ctl, psql): scripts/postgres_local.py runs a private cluster from it for
# the PostgreSQL half of `make test`. Its programs live in /usr/lib/postgresql/<version>/bin, off PATH.
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && ! command -v initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "Installing system packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
