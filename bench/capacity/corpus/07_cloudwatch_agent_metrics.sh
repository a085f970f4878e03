#!/bin/bash
# Ship memory and disk metrics of the notebook to CloudWatch (the default EC2 metrics
# have no memory figure, and users keep running out of it without knowing).
# Needs the amazon-cloudwatch-agent package (preinstalled on our image) and
# cloudwatch:PutMetricData on the role.

set -euo pipefail

AGENT_CTL=/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl
CONFIG=/opt/aws/amazon-cloudwatch-agent/etc/notebook-metrics.json

if [ ! -x "$AGENT_CTL" ]; then
  echo "CloudWatch agent not installed; no memory metrics"
  exit 0
fi

NOTEBOOK_NAME=$(jq -r '.ResourceName' /opt/ml/metadata/resource-metadata.json)

cat >"$CONFIG" <<JSON
{
  "agent": { "metrics_collection_interval": 60, "run_as_user": "root" },
  "metrics": {
    "namespace": "Team/Notebooks",
    "append_dimensions": { "NotebookInstance": "${NOTEBOOK_NAME}" },
    "metrics_collected": {
      "mem":  { "measurement": ["mem_used_percent"] },
      "disk": { "measurement": ["used_percent"], "resources": ["/", "/home/ec2-user/SageMaker"] }
    }
  }
}
JSON

# fetch-config restarts the agent with the new file
"$AGENT_CTL" -a fetch-config -m ec2 -c "file:$CONFIG" -s

echo "CloudWatch agent started for $NOTEBOOK_NAME"
