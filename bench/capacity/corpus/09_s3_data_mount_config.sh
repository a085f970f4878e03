#!/bin/bash
# Point users at the team's datasets: a read-only s3fs-style config is too fragile,
# so we write an ~/.aws/config profile and a small README on the persisted volume.
# Runs as ec2-user.

set -euo pipefail

BUCKET="${DATA_BUCKET:-team-datasets-example}"

mkdir -p "$HOME/.aws"
# Keep any profiles the user added; replace only our own block.
touch "$HOME/.aws/config"
python3 - "$HOME/.aws/config" "$BUCKET" <<'PY'
import configparser, sys
path, bucket = sys.argv[1], sys.argv[2]
config = configparser.ConfigParser()
config.read(path)
section = "profile datasets"
if not config.has_section(section):
    config.add_section(section)
config[section]["region"] = "eu-west-1"
config[section]["s3"] = "\nmax_concurrent_requests = 20\nmultipart_chunksize = 64MB"
config[section]["credential_source"] = "Ec2InstanceMetadata"
with open(path, "w") as handle:
    config.write(handle)
PY

README="$HOME/SageMaker/DATASETS.md"
if [ ! -f "$README" ]; then
  cat >"$README" <<MD
# Team datasets

Bucket: s3://${BUCKET}/ (read-only for notebooks)

    aws s3 ls s3://${BUCKET}/ --profile datasets
    pd.read_parquet("s3://${BUCKET}/sales/2025/")

MD
fi

echo "datasets profile configured for s3://${BUCKET}"
