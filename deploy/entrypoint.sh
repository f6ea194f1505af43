#!/bin/sh
# Start one project of the image under its server (common/serve.py: the gateway
# under granian unless GATEWAY_SERVER=gunicorn, the services under gunicorn):
#   entrypoint.sh gateway|orders|customers [gunicorn options...]
# The project is the first argument, else $PROJECT; the rest goes to gunicorn
# (granian takes its settings from the environment only).
# manage.py commands (migrations) override the container's command instead.
set -eu

case "${1:-}" in
  gateway | orders | customers) project="$1" && shift ;;
  *) project="${PROJECT:-}" ;;
esac
case "$project" in
  gateway) module=gateway_project ;;
  orders) module=orders_service ;;
  customers) module=customers_service ;;
  *)
    echo "usage: entrypoint.sh gateway|orders|customers [gunicorn options]" >&2
    exit 64
    ;;
esac
if [ "$project" = gateway ] && [ "${GATEWAY_SERVER:-granian}" != gunicorn ]; then
  if [ $# -gt 0 ]; then
    echo "granian takes its settings from the environment (GATEWAY_SERVER=gunicorn for gunicorn options)" >&2
    exit 64
  fi
  exec python -m common.serve "$module"
fi
exec gunicorn -c "$module/gunicorn.conf.py" "$@"
