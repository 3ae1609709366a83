#!/usr/bin/env bash
# The README's "run" command: installs what is missing, builds dipwire
# (Release), starts dipwired on the embedded SQLite store under ./data,
# publishes the seed demo (deploy/demo/seed-article.jsonl) and shows the
# alerts it yields arriving at a subscriber. The server keeps running.
#
#   deploy/run.sh          # build, start (if not running), run the demo
#   deploy/run.sh stop     # stop the server this script started
set -euo pipefail
cd "$(dirname "$0")/.."

listen="${DIPWIRE_LISTEN:-127.0.0.1:50051}"
data_dir="./data"
pid_file="$data_dir/dipwired.pid"
build_dir="build/release"
bin="$build_dir"

running_pid() {
  [[ -f "$pid_file" ]] || return 1
  local pid
  pid=$(cat "$pid_file")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

if [[ "${1:-}" == "stop" ]]; then
  if pid=$(running_pid); then
    kill -TERM "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pid_file"
    echo "dipwired (pid $pid) stopped"
  else
    echo "dipwired is not running (no live pid in $pid_file)"
  fi
  exit 0
fi

deploy/install-deps.sh build

echo "building (Release) in $build_dir ..."
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DDIPWIRE_BUILD_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j2 -- -k0 | tail -n 1

mkdir -p "$data_dir"
if pid=$(running_pid); then
  echo "dipwired already running (pid $pid) on $listen"
else
  "$bin/server/dipwired" --listen "$listen" --data-dir "$data_dir" \
    >"$data_dir/dipwired.out" 2>>"$data_dir/dipwired.log" &
  echo $! >"$pid_file"
  for _ in $(seq 1 300); do
    grep -q '^listening on ' "$data_dir/dipwired.out" 2>/dev/null && break
    if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
      echo "dipwired failed to start; its log ($data_dir/dipwired.log):" >&2
      tail -n 20 "$data_dir/dipwired.log" >&2
      rm -f "$pid_file"
      exit 1
    fi
    sleep 0.1
  done
  echo "dipwired (pid $(cat "$pid_file")): $(cat "$data_dir/dipwired.out")"
fi

demo=deploy/demo/seed-article.jsonl
alerts=$(grep -c . deploy/demo/seed-article.expected)
echo
echo "A subscriber from the start of the log (dipwire subscribe --from earliest):"
"$bin/client/dipwire" subscribe --server "$listen" --from earliest \
  --limit "$alerts" &
subscriber=$!

"$bin/client/dipwire" publish --server "$listen" "$demo" \
  >"$data_dir/demo-publish.out" 2>&1 || {
  echo "publishing the demo failed:" >&2
  cat "$data_dir/demo-publish.out" >&2
  kill "$subscriber" 2>/dev/null || true
  exit 1
}
# Bounded: the subscriber ends after the demo's alerts, or is stopped.
for _ in $(seq 1 300); do kill -0 "$subscriber" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$subscriber" 2>/dev/null; then
  kill -INT "$subscriber"
  echo "(the subscriber did not receive all $alerts alerts within 30 s)" >&2
fi
wait "$subscriber" || true

echo
echo "Published $demo: $(tail -n 1 "$data_dir/demo-publish.out")"
echo "(per-event outcomes in $data_dir/demo-publish.out; running the demo again"
echo " publishes the same events, which come back as DUPLICATE)"
cat <<EOT

dipwired keeps running on $listen (data in $data_dir, log in $data_dir/dipwired.log).
Talk to it with the CLI:
  $bin/client/dipwire subscribe --from latest                 # live alerts, Ctrl-C to end
  $bin/client/dipwire subscribe --filter 'severity >= HIGH' --from earliest
  $bin/client/dipwire alerts --filter 'countries:CHN AND countries:RUS'
  $bin/client/dipwire events --filter 'kind = trade'
  $bin/client/dipwire publish my-events.jsonl                 # JSON lines of DiplomaticEvent
Stop it with:
  deploy/run.sh stop
EOT
