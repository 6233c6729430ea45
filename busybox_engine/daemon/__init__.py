"""What every long-running personality shares: socket claim, pidfile, run."""
