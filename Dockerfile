# Image for the app (gunicorn) and the ETL scheduler; the database is the official postgis image.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/safegrid
COPY pyproject.toml README.md ./
COPY safegrid safegrid
COPY domain domain
COPY geo geo
COPY layers layers
COPY etl etl
COPY dashboard dashboard
COPY assets assets
RUN pip install --no-cache-dir .
RUN useradd --system --home /srv/safegrid safegrid
USER safegrid
EXPOSE 8050
CMD ["gunicorn", "--bind", "0.0.0.0:8050", "dashboard.app:server"]
