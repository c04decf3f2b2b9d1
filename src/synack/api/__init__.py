"""Application-facing APIs over the sans-IO stack: the POSIX-style socket table."""
