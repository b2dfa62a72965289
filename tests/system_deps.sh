#!/bin/sh
# Install the system tools the test suite drives, when missing: tmux (end-to-end test) and the
# PostgreSQL server binaries (the Redshift SQL tests run against a throwaway cluster).
set -e
missing=""
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
[ -z "$missing" ] && exit 0
echo "installing system packages for the tests:$missing"
if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
