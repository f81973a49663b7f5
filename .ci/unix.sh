#!/usr/bin/env bash
# What tests/unix needs on a fresh Debian 12 (run as root by .ci/run): sudo and an
# sshd for the documented forced-command set-up, the sqlite3 shell the backup line
# uses, and python3-venv for the system Python's venv. setpriv/runuser/useradd are
# in the base system (util-linux, passwd).
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    echo ".ci/unix.sh: not root; tests/unix will skip" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends sudo openssh-server openssh-client sqlite3 python3-venv >/dev/null
mkdir -p /run/sshd
