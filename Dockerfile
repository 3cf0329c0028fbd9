# closeloop: one image for the web app and the Celery workers (see docs/scaling.md).
#   docker build -t closeloop .
# Everything the analysis needs ships inside the Python packages: nothing is downloaded at run time.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && useradd --system --create-home closeloop
USER closeloop
WORKDIR /home/closeloop
EXPOSE 8000
CMD ["closeloop", "serve", "--host", "0.0.0.0", "--port", "8000"]
