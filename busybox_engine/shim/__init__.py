"""containerd-shim: the parent of one container (service.py), its
processes' stdio and exits (process.py), the runtime it runs (runtime.py),
the one owner of waitpid (reaper.py), json-file logs (iolog.py), and the
pre-warmed zygote containerd forks shims from (zygote.py). It imports the
OCI runtime below it, never containerd or the personalities above it."""
