# export-service: API (`serve`) or worker (`worker`) from the same image.
#   docker build -t export-service .
#   docker run --env-file prod.env export-service serve --host 0.0.0.0
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md bootstrap.py ./
COPY domain ./domain
COPY application ./application
COPY infrastructure ./infrastructure
COPY interfaces ./interfaces
# A wheel of the project and of everything it needs (with s3fs for shared storage on S3).
RUN pip wheel --wheel-dir /wheels '.[s3]'

FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 \
    EXPORT_SERVICE_DATA_DIR=/var/lib/export-service LOG_FORMAT=json
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels 'export-service[s3]' && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /var/lib/export-service --create-home exportsvc \
    && install -d -o exportsvc -g exportsvc /var/lib/export-service/files
USER exportsvc
WORKDIR /var/lib/export-service
EXPOSE 8000
# Ready means: the database answers and every migration is applied (a worker-only container
# overrides this check in compose.yaml).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
ENTRYPOINT ["export-service"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--no-demo"]
