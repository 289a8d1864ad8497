# Sourced by the first line of bin/'s executables (the line is sh and JavaScript at once), with r set to
# the executable's own path with its symlink resolved; $0 and "$@" are the command as the user typed it.
# Starts Node from the startup snapshot when one was built for the `node` on PATH (scripts/build-snapshot.js
# gives .startup/node that binary's mtime), else the normal way (the executable's JavaScript requires dist/).
# Shell builtins only: this runs at every start.
case $r in /*) ;; *) r=$PWD/$r ;; esac
startup=${r%/bin/*}/.startup
node=
if [ -f "$startup/startup.blob" ] && [ -f "$startup/node" ]; then
  IFS=:
  for dir in $PATH; do
    if [ -f "$dir/node" ] && [ -x "$dir/node" ]; then node=$dir/node; break; fi
  done
  unset IFS
fi
# Node reads NODE_EXTRA_CA_CERTS before any JavaScript runs, and Node 20 parses the whole bundle then
# (Debian's ca-certificates.crt: ~50-90 ms, more than the rest of a start) though node-kvm never opens a
# TLS connection. So it is moved aside here and put back into process.env when the executable starts
# (restoreLaunchEnvironment in lib/util/process-start.ts): what the process passes on to children is unchanged.
if [ -n "${NODE_EXTRA_CA_CERTS+set}" ]; then
  NODE_KVM_LAUNCH_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS
  export NODE_KVM_LAUNCH_EXTRA_CA_CERTS
  unset NODE_EXTRA_CA_CERTS
fi
# the same mtime as the stamp, to the nanosecond: the Node the blob was built for
if [ -n "$node" ] && ! [ "$node" -nt "$startup/node" ] && ! [ "$node" -ot "$startup/node" ]; then
  exec "$node" --snapshot-blob "$startup/startup.blob" "$0" "$@"
fi
exec node "$0" "$@"
