"""Custom input channels, registered in credentials.yml by their dotted class path."""
