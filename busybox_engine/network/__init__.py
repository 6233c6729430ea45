"""Container networking: netlink, addresses, bridges and veths, packet filtering."""
