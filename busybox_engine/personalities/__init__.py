"""One thin module a personality: argument parsing and wiring only."""
