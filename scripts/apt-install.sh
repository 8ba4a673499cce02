#!/bin/sh
# Install the named Debian packages that are missing (apt-get update only then).
set -e
missing=""
for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "hull: missing Debian packages:$missing (run as root, or apt-get install them)" >&2
    exit 1
fi
echo "hull: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq $missing >/dev/null
