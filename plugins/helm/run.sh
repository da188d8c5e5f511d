#!/bin/sh
# Helm 4 post-renderer plugin entry point: the rendered manifests on stdin go through the
# installed k8s-harden CLI to stdout; --post-renderer-args arrive as "$@".
#
# The CLI is `$K8S_HARDEN_COMMAND` if set (a path or a command name), else `k8s-harden`
# from PATH.
#
# Helm 4 (measured: 4.1.4; the source of 4.0.0, 4.2.4 and main does the same) collects a
# post-renderer's stderr in a buffer it never prints, so a failure would only say
# 'plugin "k8s-harden" exited with error'. On failure this script therefore also writes the message to Helm's own stderr
# (Linux: /proc/$PPID/fd/2; $PPID is helm, which execs this script directly) when that is
#   - a terminal, a pipe (other than ours) or another non-regular file, or
#   - a regular file that Helm holds open for appending (`2>>log`): every write of Helm
#     then goes to the end of the file, after our message.
# A regular file opened without O_APPEND (`2>log`) is skipped: opening /proc/PID/fd/2
# gives us an open file description of our own, and Helm later writes its error at its own
# offset, over our bytes (measured with helm 4.1.4: the file then holds Helm's message,
# plus the tail of ours when ours is the longer). See docs/integrations.md.
cmd=${K8S_HARDEN_COMMAND:-k8s-harden}
errfile=$(mktemp "${TMPDIR:-/tmp}/k8s-harden-helm.XXXXXX") || exit 70
trap 'rm -f "$errfile"' EXIT

# Helm's stderr can take a second writer: not a regular file, or one opened with O_APPEND
# (02000 in /proc/PID/fdinfo/FD's octal flags on Linux).
parent_stderr_shared() {
  [ -f "/proc/$PPID/fd/2" ] || return 0
  flags=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$PPID/fdinfo/2" 2>/dev/null)
  case $flags in
    0*) case $flags in *[!0-7]*) return 1 ;; esac ;;
    *) return 1 ;;
  esac
  [ $(( flags & 02000 )) -ne 0 ]
}

show_error() {
  parent=/proc/$PPID/fd/2
  [ -w "$parent" ] || return 0
  [ "$(readlink "$parent" 2>/dev/null)" != "$(readlink /proc/$$/fd/2 2>/dev/null)" ] || return 0
  if parent_stderr_shared; then
    cat "$errfile" >>"$parent" 2>/dev/null || :
  fi
}

if ! command -v "$cmd" >/dev/null 2>&1; then
  echo "k8s-harden helm plugin: error: command '$cmd' not found; install k8s-harden" \
       "from its repository (pipx install PATH-OR-GIT-URL-OF-THE-CHECKOUT; it is not on PyPI) so that it is on PATH, or set K8S_HARDEN_COMMAND to its path" >"$errfile"
  cat "$errfile" >&2
  show_error
  exit 127
fi

outfile=$(mktemp "${TMPDIR:-/tmp}/k8s-harden-helm.XXXXXX") || exit 70
trap 'rm -f "$errfile" "$outfile"' EXIT
"$cmd" "$@" >"$outfile" 2>"$errfile"
rc=$?
cat "$errfile" >&2
if [ "$rc" -ne 0 ]; then
  show_error
  exit "$rc"
fi
# A release that renders nothing (every template behind a false `if`): Helm 4 refuses a
# post-renderer's empty output ("post-renderer ... produced empty output"; measured with
# 4.1.4), where Helm 3 and `helm template` without one succeed. A comment is a valid, empty
# YAML stream Helm 4 accepts and installs as nothing.
if grep -q '[^[:space:]]' "$outfile"; then
  cat "$outfile"
else
  echo "# k8s-harden: no manifests rendered"
fi
