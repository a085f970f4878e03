#!/usr/bin/env python3
# SageMaker idle auto-stop (Python 3.7+, boto3), run every few minutes: stops this notebook instance (or with
# --target studio deletes this Studio app) when Jupyter is idle: no kernel busy or, unless --ignore-connections,
# connected (kernels stuck 'starting' are ignored), the latest activity or start (UTC) --idle-minutes ago and no
# start within --grace-minutes. Exit: 0 checked, 1 environment, 2 usage, 3 AWS call failed, 4 unexpected.
from __future__ import annotations

import argparse
import json
import random
import re
import ssl
import sys
import time
import traceback
import urllib.request
from collections import namedtuple
from datetime import datetime, timedelta, timezone

UTC = timezone.utc  # noqa: UP017 (3.7)
MINUTE = timedelta(minutes=1)
Decision = namedtuple("Decision", "stop reason idle_for last_activity notes")


class Exit(Exception):  # ends the run: (exit status, message to log)
    pass


def parse_timestamp(v):
    if v in (None, ""):
        return None
    if isinstance(v, datetime):
        return v.replace(tzinfo=UTC) if v.utcoffset() is None else v.astimezone(UTC)  # naive is UTC, not local
    if isinstance(v, (int, float)):
        return datetime.fromtimestamp(v, UTC)
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):?(\d*)[.,]?(\d*) *(Z|[+-]\d\d:?\d\d|[+-]\d\d)?$", v, re.I)
    if not m:
        raise ValueError(f"not a time: {v!r}")
    t = datetime(*(int(x or 0) for x in m.groups()[:6]), int(m[7].ljust(6, "0")[:6]), UTC)
    z = (m[8] or "Z").replace(":", "")
    return t - int(z[0] + "1") * timedelta(hours=int(z[1:3]), minutes=int(z[3:] or 0)) if z[1:] else t


def fmt(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else "?"


# Pure: the Decision for the answers of /api/status, /api/sessions, /api/kernels and /api/terminals.
def decide(answers, instance_started, now, idle, grace, ignore_connections=False):
    status, sessions, kernels, terminals = answers
    if not all(isinstance(x, list) for x in answers[1:]):
        raise TypeError("sessions, kernels or terminals not a list")
    now, notes, times = parse_timestamp(now), [], []
    by_id = {s["kernel"]["id"]: s for s in sessions if (s.get("kernel") or {}).get("id")}
    ids = [k["id"] for k in kernels]
    for k in kernels + [s["kernel"] for i, s in by_id.items() if i not in ids]:  # + kernels only in a session
        last, state, session = parse_timestamp(k.get("last_activity")), k.get("execution_state"), by_id.get(k["id"], {})
        name = f"kernel {k['id'][:8]}" + (f" ({session['path']})" if session.get("path") else "")
        if state == "starting" and (not last or now - last >= idle):  # stuck: would keep it up forever
            notes.append(f"{name} stuck in 'starting' since {fmt(last)}: ignored")
        elif state == "busy" or (k.get("connections") and not ignore_connections):
            why = "busy" if state == "busy" else f"has {k['connections']} open connection(s)"
            return Decision(False, f"not idle: {name} {why}", None, None, notes)
        elif last:
            times.append((last, name))
    times += [
        (parse_timestamp(t["last_activity"]), f"terminal {t['name']}") for t in terminals if t.get("last_activity")
    ]
    # Jupyter's own last_activity moves with any API call (a browser tab polling): only when nothing is open
    if not by_id and not kernels + terminals and status.get("last_activity"):
        times.append((parse_timestamp(status["last_activity"]), "jupyter server activity"))
    starts = ((status.get("started"), "jupyter server start"), (instance_started, "instance start"))
    starts = [(parse_timestamp(t), what) for t, what in starts if t]
    if not times + starts:
        return Decision(False, "not stopping: no activity time known", None, None, notes)
    last, what = max(times + starts)
    start = max(starts)[0] if starts else now - grace  # no start known: no grace period
    text = f"idle for {(now - last) / MINUTE:.1f} min >= {idle / MINUTE:g}"
    reason = f"{text} (last activity: {what} at {fmt(last)})"
    if now - last < idle:
        reason = "not idle: " + reason.replace(">=", "<")
    elif now - start < grace:
        reason = f"not stopping: {text} but within the {grace / MINUTE:g} min grace period after start at {fmt(start)}"
    return Decision(now - last >= idle and now - start >= grace, reason, now - last, last, notes)


def jupyter_answers(url, token=None):
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no CA store loaded: localhost, self-signed
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    get = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=tls)).open
    answers = []
    for what in "status", "sessions", "kernels", "terminals":
        # no_track_activity: the check is no user activity
        headers = {"Authorization": "token " + token} if token else {}
        request = urllib.request.Request(f"{url.rstrip('/')}/api/{what}?no_track_activity=1", headers=headers)  # noqa: S310
        try:
            with get(request, timeout=10) as r:
                answers.append(json.loads(r.read()))
        except Exception as e:
            code = getattr(e, "code", 0)
            if code != 404 or what != "terminals":  # 404: terminals disabled
                hint = " (token missing or wrong?)" * (code in (401, 403))
                error = f"HTTP {code}{hint}" if code else repr(e)
                raise Exit(0, f"not stopping: jupyter not usable: GET /api/{what}: {error}") from e
            answers.append([])
    return answers


# (code or HTTP status, message, throttled, access denied) of a botocore error; XML (moto) reduced.
def aws_error(e):
    r = getattr(e, "response", None) or {}
    code, message = r.get("Error", {}).get("Code"), r.get("Error", {}).get("Message") or str(e)
    status = r.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = " ".join(re.sub(r"(?s).*<Message>(.*?)</Message>.*", r"\1", message).split())
    throttled = "Throttl" in str(code) or status == 429  # 429: TooManyRequestsException
    denied = str(code).startswith("AccessDenied") or (status == 403 and "not authorized" in message)
    return code or status, message, throttled, denied


def call_with_backoff(
    call, what, log, max_attempts=5, base_delay=1.0, max_delay=30.0, sleep=time.sleep, rand=random.random
):
    for attempt in range(1, max_attempts + 1):
        try:
            return call()
        except Exception as e:
            if not aws_error(e)[2] or attempt == max_attempts:
                raise
            delay = min(max_delay, base_delay * 2 ** (attempt - 1)) * (1 + rand()) / 2  # jitter
            log(f"{what} throttled ({aws_error(e)[0]}), attempt {attempt}/{max_attempts}: retrying in {delay:.2f} s")
            sleep(delay)


def log(message):
    print(time.strftime("%Y-%m-%dT%H:%M:%SZ autostop: ", time.gmtime()) + message, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser("autostop.py")
    add = p.add_argument
    add("--target", choices=("notebook", "studio"), default="notebook", help="studio: delete this Studio app")
    add("--idle-minutes", type=float, default=60)
    add("--grace-minutes", type=float, default=15)
    add("--jupyter-url", default="https://localhost:8443")
    token = p.add_mutually_exclusive_group()
    token.add_argument("--token")
    token.add_argument("--token-file")
    add("--ignore-connections", action="store_true")  # open kernel connections are no activity
    add("--dry-run", action="store_true")
    add("--metadata-file", default="/opt/ml/metadata/resource-metadata.json")
    add("--now", type=parse_timestamp, help=argparse.SUPPRESS)  # test hooks
    add("--retry-base-seconds", type=float, default=1, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if not (0 < a.idle_minutes < 1e9 and 0 <= a.grace_minutes < 1e9 and re.match("https?://[^/]", a.jupyter_url)):
        p.error("need --idle-minutes > 0, --grace-minutes >= 0, an http(s) --jupyter-url")
    return a


def run(args):
    try:
        import boto3
    except ImportError as e:
        raise Exit(1, f"boto3 not importable by {sys.executable}: {e!r}") from e
    try:
        with open(args.metadata_file) as f:
            md = json.load(f)
        arn = md["ResourceArn"]
        name = md.get("ResourceName") or arn.rsplit("/", 1)[1]
        owner = "SpaceName" if md.get("SpaceName") else "UserProfileName"
        app = args.target == "studio" and {"AppName": name, **{k: md[k] for k in ("DomainId", "AppType", owner)}}
        token = args.token
        if args.token_file:
            with open(args.token_file) as f:
                token = f.read().strip()
    except (OSError, ValueError, LookupError) as e:
        raise Exit(1, f"cannot read {getattr(e, 'filename', 0) or args.metadata_file}: {e!r}") from e
    answers = jupyter_answers(args.jupyter_url, token)
    # no botocore retries: call_with_backoff's are bounded and logged
    config = boto3.session.Config(retries={"max_attempts": 0})
    sm = boto3.client("sagemaker", region_name=arn.split(":")[3], config=config)
    kind, verb, doing = ("Studio app", "delete", "deleting") if app else ("notebook instance", "stop", "stopping")

    def aws(method):
        what = "sagemaker:" + method.__name__.title().replace("_", "")
        try:
            call = lambda: method(**(app or {"NotebookInstanceName": name}))  # noqa: E731
            return call_with_backoff(call, what, log, base_delay=args.retry_base_seconds)
        except Exception as e:
            code, message, _, denied = aws_error(e)
            if not denied:
                raise Exit(3, f"{what} failed: {code or type(e).__name__}: {message}") from e
            case = f" (IAM may evaluate the lower-case ARN {arn.lower()}: grant both)" * (arn != arn.lower())
            raise Exit(
                3, f"access denied: the {kind}'s role lacks permission {what} on {arn}{case} [{code}: {message}]"
            ) from e

    described = aws(sm.describe_app if app else sm.describe_notebook_instance)
    status = described.get("Status") or described.get("NotebookInstanceStatus")
    started = parse_timestamp(described.get("LastModifiedTime"))  # notebook instance start
    if status != "InService":
        raise Exit(0, f"not stopping: {kind} {name} is {status}, not InService")
    now, idle, grace = args.now or datetime.now(UTC), args.idle_minutes * MINUTE, args.grace_minutes * MINUTE
    try:
        stop, reason, *_, notes = decide(answers, started, now, idle, grace, args.ignore_connections)
    except (AttributeError, LookupError, TypeError, ValueError) as e:
        raise Exit(0, f"not stopping: unexpected Jupyter answer: {e!r}") from e
    counts = f"{len(answers[2])} kernel(s), {len(answers[3])} terminal(s), {len(answers[1])} session(s)"
    instance = "" if app else f", instance started {fmt(started)}"
    log(f"{counts}; jupyter started {fmt(parse_timestamp(answers[0].get('started')))}{instance}")
    for line in notes:
        log(line)
    if not stop:
        raise Exit(0, reason)
    if args.dry_run:
        raise Exit(0, f"dry-run: would {verb} {kind} {name}: {reason}")
    log(f"{reason}: {doing} {kind} {name}")
    aws(sm.delete_app if app else sm.stop_notebook_instance)
    raise Exit(0, f"{verb} requested for {kind} {name}")


def main(argv=None):
    args = parse_args(argv)
    try:
        run(args)
    except Exit as e:
        log(e.args[1])
        return e.args[0]
    except Exception as e:
        log(f"not stopping: unexpected error: {e!r}")
        traceback.print_exc()
        return 4


if __name__ == "__main__":
    sys.exit(main())
