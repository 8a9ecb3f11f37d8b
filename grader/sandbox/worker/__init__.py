"""Code that runs inside the sandbox; imports nothing from the harness."""
