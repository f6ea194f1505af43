#!/bin/sh
# Start one project of the image under gunicorn:
#   entrypoint.sh gateway|orders|customers [gunicorn options...]
# The project is the first argument, else $PROJECT; the rest goes to gunicorn.
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
exec gunicorn -c "$module/gunicorn.conf.py" "$@"
