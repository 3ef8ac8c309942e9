"""Voices: synthetic lines and ADR in a consented performer's voice, through the guarded path (DR018)."""
