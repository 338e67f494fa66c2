#!/bin/bash
# The scraper's heartbeat, read once a minute by mystocktracker-heartbeat.timer (as root, outside the
# scraper's sandbox, so the daemon itself needs no AWS permission beyond Kinesis):
#  - publishes the ticks, quotes and fetch failures since the last run to CloudWatch, per shard
#    (a stalled loop publishes nothing: the "no quotes" alarm treats missing data as breaching);
#  - signals the shard's Auto Scaling group once the scraper has ticked (the group's creation policy
#    waits for it, so a rolling replacement moves to the next shard only when this one works);
#  - marks the instance unhealthy when the heartbeat is older than MST_STALE_SECONDS, so the group
#    replaces it.
# Settings come from /etc/mystocktracker/heartbeat.env (written at first boot): MST_ENVIRONMENT,
# MST_REGION, MST_STACK, MST_SHARD, MST_INSTANCE_ID, MST_STALE_SECONDS, MST_NAMESPACE;
# MST_HEARTBEAT_FILE and MST_HEARTBEAT_STATE may override where the heartbeat is read and where this
# script keeps its own state.
set -euo pipefail

heartbeat="${MST_HEARTBEAT_FILE:-/var/lib/mystocktracker/heartbeat.json}"
state="${MST_HEARTBEAT_STATE:-/var/lib/mystocktracker-heartbeat}"
mkdir -p "$state"
now=$(date +%s)
uptime_seconds=$(cut -d. -f1 /proc/uptime)

if [ -f "$heartbeat" ]; then
  # ticks quotes fetch_failures, cumulative since the scraper started.
  read -r ticks quotes failures < <(python3 -c '
import json, sys
h = json.load(open(sys.argv[1]))
print(h["ticks"], h["quotes"], h["fetch_failures"])' "$heartbeat")
  age=$(( now - $(stat -c %Y "$heartbeat") ))
else
  ticks=0 quotes=0 failures=0
  age=$uptime_seconds
fi

read -r last_ticks last_quotes last_failures < <(cat "$state/last" 2>/dev/null || echo "0 0 0")
if [ "$ticks" -lt "$last_ticks" ]; then
  # The scraper restarted: its counters did too.
  last_ticks=0 last_quotes=0 last_failures=0
fi
new_ticks=$(( ticks - last_ticks ))
if [ "$new_ticks" -gt 0 ]; then
  dims="[{Name=Environment,Value=$MST_ENVIRONMENT},{Name=Shard,Value=$MST_SHARD}]"
  aws cloudwatch put-metric-data --region "$MST_REGION" --namespace "$MST_NAMESPACE" --metric-data \
    "MetricName=Ticks,Value=$new_ticks,Unit=Count,Dimensions=$dims" \
    "MetricName=Quotes,Value=$(( quotes - last_quotes )),Unit=Count,Dimensions=$dims" \
    "MetricName=FetchFailures,Value=$(( failures - last_failures )),Unit=Count,Dimensions=$dims"
  echo "$ticks $quotes $failures" > "$state/last"
fi

if [ "$ticks" -gt 0 ] && [ ! -e "$state/signalled" ]; then
  # Outside a creation or replacement CloudFormation refuses the signal: that is fine, once.
  aws cloudformation signal-resource --region "$MST_REGION" --stack-name "$MST_STACK" \
    --logical-resource-id "ScraperShard$MST_SHARD" --unique-id "$MST_INSTANCE_ID" --status SUCCESS \
    || echo "signal-resource refused (no update waiting for this shard)" >&2
  touch "$state/signalled"
fi

if [ "$age" -gt "$MST_STALE_SECONDS" ] && [ "$uptime_seconds" -gt "$MST_STALE_SECONDS" ]; then
  echo "heartbeat is ${age}s old (limit ${MST_STALE_SECONDS}s): marking $MST_INSTANCE_ID unhealthy" >&2
  aws autoscaling set-instance-health --region "$MST_REGION" --instance-id "$MST_INSTANCE_ID" \
    --health-status Unhealthy --no-should-respect-grace-period
fi
