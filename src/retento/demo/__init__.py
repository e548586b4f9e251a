"""Demo data: a reproducible population for trying Retento (``retento demo``)."""
