# One image for the three projects; the command picks one:
#   docker build -t access-token .
#   docker run -e DJANGO_SECRET_KEY=... -p 8000:8000 access-token gateway
#   docker run ... access-token orders        (or customers)
#   docker run ... --entrypoint python access-token manage.py migrate \
#       --settings=orders_service.settings
# Configuration comes from the environment only (docs/configuration.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/tmp/var \
    DJANGO_STATIC_ROOT=/app/static \
    GUNICORN_WORKER_TMP_DIR=/dev/shm

WORKDIR /app

# The dependency layer only changes with the runtime requirements (no test tools)
# and shared_auth, which they install from its own pyproject.toml (-e ./shared_auth).
COPY requirements-runtime.txt .
COPY shared_auth/ shared_auth/
RUN pip install -r requirements-runtime.txt

COPY . .

# Collect, hash and compress the admin's and the browsable API's assets (served
# by whitenoise). The key below exists only for this command; the keys directory
# is removed in the same layer, so no key of any kind is left in the image.
RUN DJANGO_SECRET_KEY=build-only-collectstatic \
    JWT_SIGNING_KEYS_DIR=/tmp/build/keys VAR_DIR=/tmp/build \
    python manage.py collectstatic --noinput -v 0 \
    && rm -rf /tmp/build

# Run as an unprivileged user that owns nothing in /app.
RUN useradd --system --uid 10001 --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin app
USER 10001:10001

EXPOSE 8000 8001 8002
# The gateway's internal listener (GATEWAY_INTERNAL_BIND, deploy/k8s/gateway.yaml):
# for the services only, never published.
EXPOSE 8090
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["gateway"]
