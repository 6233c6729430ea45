"""The Kubernetes Container Runtime Interface (CRI v1) on our containerd.

kubelet and crictl speak gRPC to `--cri-address`. The gRPC stack (grpclib,
h2, protobuf) loads with the first connection, so a containerd that only
serves dockerd never carries it; nothing here is imported by runc, the shim
or the docker client."""

NAMESPACE = "k8s.io"   # the image and container namespace, as containerd's CRI plugin
