"""The foundation every layer shares: acquisition types, settings, frame checks, files."""
