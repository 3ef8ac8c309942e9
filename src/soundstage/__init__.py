"""soundstage: generative AI for film and TV production, with its safeguards on by default."""

__version__ = "0.1.0"
__all__ = ["__version__"]
