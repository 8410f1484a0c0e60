"""``gradsim explore``: the simulator live in the browser.

A local web app (Starlette on uvicorn, the optional extra ``gradsim[explore]``) whose page
reruns ``gradsim.simulate`` as the controls move and draws the per-layer curves, the verdict,
histograms, the mean-field prediction, pinned networks and short training runs. It uses only
the public Python API and the JSON contract (docs/json.md):

- ``params``: the page's controls and HTTP query parameters → the API's keywords, and the
  equivalent ``gradsim run`` / ``gradsim train`` command lines (no web library);
- ``compute``: what one request computes: a run's JSON with the dtype's bands, training with
  progress (no web library);
- ``lanes``: one computation at a time per client, stale requests skipped, training
  cancelled;
- ``app``: the Starlette application (HTTP API, static page); ``server``: uvicorn on
  127.0.0.1, the URL, the browser, Ctrl-C.

Nothing outside this package imports Starlette or uvicorn; ``gradsim.cli.explore`` imports
``server`` only when the command runs.
"""
