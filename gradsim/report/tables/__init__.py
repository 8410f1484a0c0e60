"""Rich renderings for the terminal, each sized to fit 80 columns: ``run`` (a run's table and
summary panel), ``compare``, ``sweep``, ``theory`` (theory, phase, spectrum), ``train``;
``common`` holds what they share."""
