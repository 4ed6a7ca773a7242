"""Coverage-guided fuzzing of the protocol core (see README.md in this folder)."""
