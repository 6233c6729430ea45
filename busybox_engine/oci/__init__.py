"""OCI runtime-spec defaults that the runtime, containerd, ctr and dockerd
share (a neutral layer: it imports nothing else of ours)."""
