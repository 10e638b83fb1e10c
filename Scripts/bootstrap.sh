#!/usr/bin/env bash
# Installs every system package Lifeboat needs on Debian 12, then builds it.
# Idempotent, and quiet when everything is already there. Needs root (or sudo) only to install packages.
#
#   Scripts/bootstrap.sh            # debug build (what the tests use)
#   LIFEBOAT_BUILD=release Scripts/bootstrap.sh
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    pkg-config
    libpq-dev libssl-dev libzstd-dev libcurl4-openssl-dev   # the C libraries Lifeboat links
    postgresql-15                                           # server binaries for restores, drills and tests
    git                                                     # git mirroring
    tzdata                                                  # IANA time zones for schedules
    python3 python3-aiosmtpd                                # the tests' SMTP receiver
)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if ((${#missing[@]} > 0)); then
    echo "bootstrap: installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The tests' S3-compatible server (moto, from PyPI): used from any python3 that has it, else installed into a
# virtual environment under .build/ (Debian's python3 does not let pip install into the system).
if [ -z "${LIFEBOAT_SKIP_TEST_TOOLS:-}" ] && ! python3 -c 'import moto.server' 2>/dev/null \
    && ! [ -x .build/test-venv/bin/python3 ]; then
    echo "bootstrap: installing moto[server] into .build/test-venv"
    if ! /usr/bin/python3 -m venv --help >/dev/null 2>&1 || ! dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q "install ok installed"; then
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    fi
    mkdir -p .build
    /usr/bin/python3 -m venv .build/test-venv
    .build/test-venv/bin/pip install --quiet --disable-pip-version-check 'moto[server]>=5,<6'
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "bootstrap: no Swift toolchain on PATH; install Swift 6.x for Debian 12 from swift.org, then run this again" >&2
    exit 1
fi

swift build --quiet -c "${LIFEBOAT_BUILD:-debug}"
