"""matplotlib figures, each drawn from a result's JSON form so that a saved result is redrawn
without recomputing: ``registry`` (``FIGURES``: the JSON ``kind`` → its drawing function, and
``plot_result``), ``run``, ``compare``, ``sweep``, ``theory`` (phase, spectrum), ``train``;
``common`` (checks, colours, power-of-ten axes, saving), ``panels`` and ``placement`` (the
per-layer panels of run and compare, and where their labels go)."""
