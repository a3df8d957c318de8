"""The demo corpus the project generates itself, and default settings."""
