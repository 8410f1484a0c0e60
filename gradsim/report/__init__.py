"""Presentation: rich tables, JSON/CSV/NPZ export, matplotlib plots. The numerical core
never imports from here."""
