#!/bin/sh
# `npm run node -- <flags>` and `npm run server`: one Raft node as one workerd
# process. launcher/node-exec.ts prepares workerd's config in a temporary
# folder and the exec line; this shell then becomes workerd (exec), so no
# Node process stays resident beside it. Flags: npm run node -- --help.
here=$(dirname "$0")
# mktemp -d makes the folder readable by this user only: the config holds the cluster secret.
plan=$(mktemp -d "${TMPDIR:-/tmp}/raft-kv-node.XXXXXX") || exit 1
trap 'rm -rf "$plan"; exit 130' INT TERM HUP
RAFT_KV_EXEC_PLAN=$plan RAFT_KV_EXEC_PID=$$ node --max-semi-space-size=1 --single-threaded --optimize-for-size "$here/run.mjs" node-exec "$@"
code=$?
if [ "$code" -ne 0 ] || [ ! -f "$plan/exec.sh" ]; then
  rm -rf "$plan"
  exit "$code"
fi
# exec.sh removes the folder once workerd's stdin is open on the config, then execs workerd.
. "$plan/exec.sh"
