"""containerd's services and the shim."""
