"""containerd's services, each registered as `service.verb` RPC methods."""
