# claimstream: the pipeline with its pinned dependencies and the spaCy model, as a non-root user.
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 claimstream
WORKDIR /app

COPY constraints.txt setup.py README.md ./
COPY schemas ./schemas
COPY pipelines ./pipelines
RUN pip install --no-cache-dir -c constraints.txt . \
    && cp -r pipelines/samples /app/samples

USER 10001
# `claimstream run ... --metrics-port 9464` answers /healthz while its read loop goes round.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["claimstream", "healthcheck", "--port", "9464"]
ENTRYPOINT ["claimstream"]
CMD ["--help"]
