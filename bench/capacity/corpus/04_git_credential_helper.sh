#!/bin/bash
# Git over HTTPS to CodeCommit / the internal GitLab without typing tokens.
#  - CodeCommit: the AWS CLI credential helper (uses the instance role)
#  - GitLab: a token read from Secrets Manager at use time, never written to disk
#
# Runs as ec2-user.

set -euo pipefail

# --- CodeCommit ---------------------------------------------------------------
git config --global credential.https://git-codecommit.eu-west-1.amazonaws.com.helper '!aws codecommit credential-helper $@'
git config --global credential.https://git-codecommit.eu-west-1.amazonaws.com.UseHttpPath true

# --- GitLab -------------------------------------------------------------------
# a tiny helper script kept on the persisted volume so that users can see it
HELPER="$HOME/SageMaker/.bin/git-credential-gitlab"
mkdir -p "$(dirname "$HELPER")"
cat >"$HELPER" <<'HELPER_EOF'
#!/bin/bash
# git credential helper: answers "get" with a token from Secrets Manager
[ "$1" = get ] || exit 0
token=$(aws secretsmanager get-secret-value --secret-id gitlab/notebook-token \
          --query SecretString --output text 2>/dev/null) || exit 0
echo "username=oauth2"
echo "password=$token"
HELPER_EOF
chmod 0700 "$HELPER"

git config --global credential.https://gitlab.example.internal.helper "$HELPER"

# sensible defaults the team agreed on
git config --global pull.rebase false
git config --global init.defaultBranch main
git config --global core.autocrlf input

echo "git credential helpers configured"
