"""The ``mailroom`` console entry point; it wires the packages together and owns no logic."""
