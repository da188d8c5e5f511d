#!/bin/sh
# Helm 4 post-renderer plugin entry point: the rendered manifests on stdin go through the
# installed k8s-harden CLI to stdout; --post-renderer-args arrive as "$@".
#
# The CLI is `$K8S_HARDEN_COMMAND` if set (a path or a command name), else `k8s-harden`
# from PATH.
#
# Helm 4.1 keeps a post-renderer's stderr in a buffer it never prints, so a failure would
# only say 'plugin "k8s-harden" exited with error'. On failure this script therefore also
# writes the message to Helm's own stderr (Linux: /proc/$PPID/fd/2) when that is a
# terminal or a pipe other than ours (a regular file is skipped: a second writer there
# would be overwritten by Helm's own message).
cmd=${K8S_HARDEN_COMMAND:-k8s-harden}
errfile=$(mktemp "${TMPDIR:-/tmp}/k8s-harden-helm.XXXXXX") || exit 70
trap 'rm -f "$errfile"' EXIT

show_error() {
  parent=/proc/$PPID/fd/2
  if [ -w "$parent" ] && [ ! -f "$parent" ] && [ "$(readlink "$parent" 2>/dev/null)" != "$(readlink /proc/$$/fd/2 2>/dev/null)" ]; then
    cat "$errfile" >>"$parent" 2>/dev/null || :
  fi
}

if ! command -v "$cmd" >/dev/null 2>&1; then
  echo "k8s-harden helm plugin: error: command '$cmd' not found; install k8s-harden" \
       "(pip install k8s-harden) so that it is on PATH, or set K8S_HARDEN_COMMAND to its path" >"$errfile"
  cat "$errfile" >&2
  show_error
  exit 127
fi

"$cmd" "$@" 2>"$errfile"
rc=$?
cat "$errfile" >&2
if [ "$rc" -ne 0 ]; then
  show_error
fi
exit "$rc"
