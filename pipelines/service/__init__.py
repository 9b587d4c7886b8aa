"""Running as a service: progress lines, the HTTP endpoint (metrics and health), signals.

- :mod:`.watch`: :func:`~.watch.watching` starts what watches a run and stops it when the run ends;
- :mod:`.progress`: progress lines; :mod:`.http`: ``/metrics``, ``/healthz``, ``/readyz``;
- :mod:`.signals`: Ctrl-C and SIGTERM as a clean stop.

Nothing is imported here, so that the command line can install the signal handlers
before anything heavy is loaded.
"""
