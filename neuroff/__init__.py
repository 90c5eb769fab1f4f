"""neuroff: spiking and analog Forward-Forward learning with local rules."""

__version__ = "0.1.0"
