#!/usr/bin/env python3
# SageMaker idle auto-stop (Python 3.7+, stdlib; AWS through botocore or a root-owned AWS CLI), run every few
# minutes: stops this notebook instance (or with --target studio deletes this Studio app) when nothing is active:
# no Jupyter kernel busy or (unless --ignore-connections) connected, no CPU load of the watched users' processes
# over the last interval, no GPU load, no newer time in the activity file; the latest activity or start (UTC)
# --idle-minutes ago (per instance type: --idle-for), no start within --grace-minutes, and a warning given
# --warn-minutes before (wall + a notice file) with no activity since. One deadline for the whole check, one
# check at a time (a lock), bounded reads; anything unexpected fails closed (no stop, one log line).
# Exit: 0 checked, 1 environment, 2 usage, 3 AWS call failed, 4 unexpected, 5 another check runs,
# 6 deadline exceeded, 7 Jupyter unusable or its answer unreadable.
from __future__ import annotations

import argparse
import contextlib
import fcntl
import fnmatch
import json
import os
import random
import re
import select
import signal
import ssl
import subprocess
import sys
import time
import traceback
import urllib.request
from collections import namedtuple
from datetime import datetime, timedelta, timezone

UTC = timezone.utc  # noqa: UP017 (3.7)
MINUTE = timedelta(minutes=1)
MAX_ANSWER = 4 << 20  # bytes of one Jupyter answer (a kernel model is ~300 bytes)
MAX_FILE = 1 << 20  # bytes of a file we read (metadata, token, state, activity file) or a command's output
FAR_FUTURE = timedelta(days=1)  # a time further ahead is garbage, not skew: ignored
Decision = namedtuple("Decision", "stop reason idle_for last_activity notes")
LOOPBACK = re.compile(r"https?://(localhost|127(\.[0-9]{1,3}){3}|\[::1\])(:[0-9]{1,5})?(/.*)?", re.I)
KEBAB = re.compile(r"(?<!^)(?=[A-Z])")


class Exit(Exception):  # ends the run: (exit status, message to log)
    pass


class Deadline(BaseException):  # raised by SIGALRM: no `except Exception` may swallow it
    pass


def parse_timestamp(v):
    if v is None or v == "":
        return None
    if isinstance(v, datetime):
        return v.replace(tzinfo=UTC) if v.utcoffset() is None else v.astimezone(UTC)  # naive is UTC, not local
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if not -1e11 < v < 1e11:  # also NaN; 1e20 would overflow
            raise ValueError(f"not a time: {v!r}")
        return datetime.fromtimestamp(v, UTC)
    m = (
        isinstance(v, str)
        and len(v) < 64
        and re.fullmatch(
            r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):?(\d*)[.,]?(\d*) *(Z|[+-]\d\d:?\d\d|[+-]\d\d)?", v, re.I
        )
    )
    if not m:
        raise ValueError(f"not a time: {v!r}"[:100])
    try:
        t = datetime(*(int(x or 0) for x in m.groups()[:6]), int(m[7].ljust(6, "0")[:6]), UTC)
        z = (m[8] or "Z").replace(":", "")
        return t - int(z[0] + "1") * timedelta(hours=int(z[1:3]), minutes=int(z[3:] or 0)) if z[1:] else t
    except OverflowError as e:
        raise ValueError(f"not a time: {v!r}") from e


def fmt(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else "?"


# Pure: the Decision for the answers of /api/status, /api/sessions, /api/kernels and /api/terminals, plus other
# (time, what) activity. A time up to `skew` ahead of `now` counts as now; further ahead (clock skew) holds the
# stop until the clocks agree; more than a day ahead is garbage and ignored.
def decide(answers, instance_started, now, idle, grace, ignore_connections=False, activity=(), skew=5 * MINUTE):
    status, sessions, kernels, terminals = answers
    if not isinstance(status, dict) or not all(isinstance(x, list) for x in answers[1:]):
        raise TypeError("status not an object, or sessions, kernels or terminals not a list")
    now, notes, times = parse_timestamp(now), [], []
    by_id = {s["kernel"]["id"]: s for s in sessions if (s.get("kernel") or {}).get("id")}
    ids = [k["id"] for k in kernels]
    for k in kernels + [s["kernel"] for i, s in by_id.items() if i not in ids]:  # + kernels only in a session
        last, state, session = parse_timestamp(k.get("last_activity")), k.get("execution_state"), by_id.get(k["id"], {})
        name = f"kernel {str(k['id'])[:8]}" + (f" ({session['path']})" if session.get("path") else "")
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
    times += [(parse_timestamp(t), what) for t, what in activity]
    starts = ((status.get("started"), "jupyter server start"), (instance_started, "instance start"))
    starts = [(parse_timestamp(t), what) for t, what in starts if t]
    kept = {}
    for t, what in times + starts:
        if t - now > FAR_FUTURE:
            notes.append(f"{what} at {fmt(t)} is more than a day ahead of this clock: ignored")
        elif t - now > skew:
            ahead = f"{what} at {fmt(t)} is {(t - now) / MINUTE:.1f} min ahead of this clock ({fmt(now)})"
            return Decision(False, f"not stopping: clock skew: {ahead}", None, None, notes)
        else:
            kept[what, t] = min(t, now)
    times = [(kept[w, t], w) for t, w in times if (w, t) in kept]
    starts = [(kept[w, t], w) for t, w in starts if (w, t) in kept]
    if not times + starts:
        return Decision(False, "not stopping: no activity time known", None, None, notes)
    last, what = max(times + starts)
    start = max(starts)[0] if starts else now - grace  # no start known: no grace period
    text = f"idle for {(now - last) / MINUTE:.1f} min >= {idle / MINUTE:g}"
    reason = f"{text} (last activity: {what} at {fmt(last)})"
    if now - last < idle:
        reason = "not idle: " + reason.replace(">=", "<", 1)
    elif now - start < grace:
        reason = f"not stopping: {text} but within the {grace / MINUTE:g} min grace period after start at {fmt(start)}"
    return Decision(now - last >= idle and now - start >= grace, reason, now - last, last, notes)


def read_file(path, limit=MAX_FILE):
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path} is larger than {limit} bytes")
    return data


def jupyter_answers(url, token=None, verify=False, ca_file=None, timeout=10):
    if verify:
        tls = ssl.create_default_context(cafile=ca_file)
    else:  # loopback only (checked by parse_args): self-signed on the instance
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    get = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=tls)).open
    answers = []
    for what in "status", "sessions", "kernels", "terminals":
        # no_track_activity: the check is no user activity
        headers = {"Authorization": "token " + token} if token else {}
        request = urllib.request.Request(f"{url.rstrip('/')}/api/{what}?no_track_activity=1", headers=headers)  # noqa: S310
        try:
            with get(request, timeout=timeout) as r:
                body = r.read(MAX_ANSWER + 1)
        except Exception as e:
            code = getattr(e, "code", 0)
            if code != 404 or what != "terminals":  # 404: terminals disabled
                hint = " (token missing or wrong?)" * (code in (401, 403))
                error = f"HTTP {code}{hint}" if code else repr(e)[:300]
                raise Exit(7, f"not stopping: jupyter not usable: GET /api/{what}: {error}") from e
            body = b"[]"
        if len(body) > MAX_ANSWER:
            raise Exit(7, f"not stopping: jupyter not usable: GET /api/{what}: answer larger than {MAX_ANSWER} bytes")
        try:
            answers.append(json.loads(body))
        except (ValueError, RecursionError) as e:
            raise Exit(7, f"not stopping: unexpected Jupyter answer: GET /api/{what}: {e!r}"[:300]) from e
    return answers


def run_bounded(argv, timeout, env=None):
    """(exit status, stdout, stderr) of a command, killed after `timeout` s or MAX_FILE bytes of output."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=-1, stderr=-1, env=env, start_new_session=True)
    out, end, streams = {p.stdout: b"", p.stderr: b""}, time.monotonic() + timeout, [p.stdout, p.stderr]
    try:
        while streams:
            left = end - time.monotonic()
            if left <= 0:
                raise OSError(f"{argv[0]} did not finish within {timeout:g} s")
            for s in select.select(streams, [], [], left)[0]:
                chunk = os.read(s.fileno(), 65536)
                out[s] += chunk
                if not chunk:
                    streams.remove(s)
                elif len(out[s]) > MAX_FILE:
                    raise OSError(f"{argv[0]} wrote more than {MAX_FILE} bytes")
        return p.wait(max(0.1, end - time.monotonic())), out[p.stdout], out[p.stderr]
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        p.stdout.close()
        p.stderr.close()


def trusted(path):
    """Whether root (or this user) owns `path` (also its link target) and each directory above them, none of
    them writable by others (a directory may be if sticky, as /tmp: others cannot replace what is in it)."""
    me = os.geteuid()
    for p in {os.path.abspath(path), os.path.realpath(path)}:
        above = False
        try:
            while True:
                st = os.stat(p)
                if st.st_uid not in (0, me) or (st.st_mode & 0o022 and not (above and st.st_mode & 0o1000)):
                    return False
                if p == "/":
                    break
                p, above = os.path.dirname(p), True
        except OSError:
            return False
    return True


# (code or HTTP status, message, throttled, access denied) of a botocore or AWS CLI error; XML (moto) reduced.
def aws_error(e):
    r = getattr(e, "response", None) or {}
    code, message = r.get("Error", {}).get("Code"), r.get("Error", {}).get("Message") or str(e)
    status = r.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = " ".join(re.sub(r"(?s).*<Message>(.*?)</Message>.*", r"\1", message).split())[:500]
    throttled = "Throttl" in str(code) or status == 429  # 429: TooManyRequestsException
    denied = str(code).startswith("AccessDenied") or (status == 403 and "not authorized" in message)
    return code or status, message, throttled, denied


class CliError(Exception):
    def __init__(self, stderr):
        m = re.search(r"An error occurred \(([^)]*)\)[^:]*: (.*)", stderr)
        super().__init__(" ".join(stderr.split())[:500] or "AWS CLI failed")
        self.response = {"Error": {"Code": m[1], "Message": m[2]}} if m else {}


def sagemaker_client(args, region, left):
    """(function (operation, parameters) -> answer, how): botocore if importable, else a trusted AWS CLI."""
    if args.aws in ("auto", "botocore"):
        try:
            import botocore.config
            import botocore.session
        except ImportError as e:
            if args.aws == "botocore":
                raise Exit(1, f"botocore not importable by {sys.executable}: {e!r}") from e
        else:  # no botocore retries: call_with_backoff's are bounded and logged
            config = botocore.config.Config(retries={"max_attempts": 0}, connect_timeout=10, read_timeout=20)
            client = botocore.session.get_session().create_client("sagemaker", region_name=region, config=config)
            return (lambda op, params: getattr(client, op)(**params)), "botocore " + botocore.__version__
    paths = args.aws_cli or ["/usr/local/bin/aws", "/usr/bin/aws"]  # [notebook]
    cli = [p for p in paths if os.path.isfile(p) and trusted(p)]  # [notebook]
    if not cli:  # [notebook]
        where = " or ".join(paths)  # [notebook]
        raise Exit(1, f"no botocore for {sys.executable}, no AWS CLI owned by root (or me) at {where}")  # [notebook]
    env = dict(os.environ, AWS_MAX_ATTEMPTS="1", AWS_RETRY_MODE="standard", AWS_PAGER="")  # [notebook]

    def call(op, params):  # [notebook]
        argv = [cli[0], "sagemaker", op.replace("_", "-"), "--region", region, "--output", "json"]  # [notebook]
        for key, value in params.items():  # [notebook]
            argv += ["--" + KEBAB.sub("-", key).lower(), value]  # [notebook]
        status, out, err = run_bounded([*argv, "--cli-read-timeout", "20"], max(1, min(60, left())), env)  # [notebook]
        if status:  # [notebook]
            raise CliError(err.decode("utf-8", "replace"))  # [notebook]
        return json.loads(out or b"{}")  # [notebook]

    return call, "the AWS CLI at " + cli[0]  # [notebook]
    raise Exit(1, f"no botocore for {sys.executable}")  # [studio] Studio images carry botocore


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


# -- process-level signals -------------------------------------------------------------------------


def cpu_sample(uids, proc="/proc"):
    """{pid:start: CPU ticks} of the live processes of `uids`, but not this one."""
    ticks = {}
    for pid in os.listdir(proc):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            if os.stat(f"{proc}/{pid}").st_uid not in uids:
                continue
            stat = read_file(f"{proc}/{pid}/stat", 4096).decode()
        except (OSError, ValueError):
            continue  # gone meanwhile
        f = stat[stat.rindex(")") + 2 :].split()
        ticks[f"{pid}:{f[19]}"] = int(f[11]) + int(f[12])  # utime stime (not cutime: a reaped child's whole life)
    return ticks


def cpu_percent(before, after, seconds):
    """CPU used between two samples, in % of one core (a process seen only in `after` started since)."""
    used = sum(max(0, t - before.get(key, 0)) for key, t in after.items())
    return 100.0 * used / os.sysconf("SC_CLK_TCK") / max(seconds, 1e-3)


def gpu_percent(nvidia_smi, timeout):
    """The highest GPU utilisation nvidia-smi reports, or None when there is no (trusted) nvidia-smi."""
    if not os.path.isfile(nvidia_smi):
        return None
    if not trusted(nvidia_smi):
        raise ValueError(f"{nvidia_smi} is writable by a user other than root: not run")
    argv = [nvidia_smi, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
    status, out, err = run_bounded(argv, timeout)
    try:
        values = [float(x) for x in out.decode("ascii").split()] if status == 0 else []
    except ValueError:
        values = []
    if not values or not all(0 <= v <= 100 for v in values):
        raise ValueError(f"nvidia-smi exit {status}: {(out + err)[:200]!r}")
    return max(values)


def safe_write(path, text):
    """Write `text` to `path` as a new file (never through a link planted there), or remove it when None."""
    d = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    name = os.path.basename(path)
    try:
        if text is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=d)
            return
        tmp = f".{name}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=d)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=d)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.rename(tmp, name, src_dir_fd=d, dst_dir_fd=d)
    finally:
        os.close(d)


def log(message):
    print(time.strftime("%Y-%m-%dT%H:%M:%SZ autostop: ", time.gmtime()) + message, flush=True)


def uid_of(user):
    if user.isdigit():
        return int(user)
    import pwd

    return pwd.getpwnam(user).pw_uid


def parse_args(argv=None):
    p = argparse.ArgumentParser("autostop.py")
    add = p.add_argument
    add("--target", choices=("notebook", "studio"), default="notebook")  # [studio] delete this Studio app
    add("--idle-minutes", type=float, default=60)
    add("--idle-for", action="append", default=[], metavar="TYPE=MINUTES")  # idle time per instance type (glob)
    add("--grace-minutes", type=float, default=15)
    add("--warn-minutes", type=float, default=10)  # warn this long before a stop; 0: no warning
    add("--jupyter-url", default="https://localhost:8443")  # 'none': no Jupyter server (Code Editor)
    add("--verify-tls", action="store_true")  # verify Jupyter's certificate (required off loopback)
    add("--ca-file")
    token = p.add_mutually_exclusive_group()
    token.add_argument("--token")
    token.add_argument("--token-file")
    add("--ignore-connections", action="store_true")  # open kernel connections are no activity
    add("--cpu-percent", type=float, default=30)  # CPU load (% of one core) that is activity; 0: off
    add("--cpu-users", default="ec2-user")  # comma-separated users whose processes count
    add("--cpu-sample-seconds", type=float, default=3)  # sample this long when no earlier sample is kept
    add("--gpu-percent", type=float, default=10)  # GPU load that is activity; 0: off
    add("--nvidia-smi", default="/usr/bin/nvidia-smi")
    add("--activity-file")  # [studio] read and update this activity timestamp file (Studio's built-in detector's)
    add("--notice-file")  # write a warning here before a stop
    add("--wall", default="/usr/bin/wall")  # the wall command ('' : none)
    add("--state-dir", default="/var/lib/sagemaker-lifecycle/autostop")  # lock and state (owned by this user)
    add("--deadline-seconds", type=float, default=120)  # the whole check ends within this
    add("--clock-skew-minutes", type=float, default=5)  # times this far ahead count as now
    add("--aws", choices=("auto", "botocore", "cli"), default="auto")
    add("--aws-cli", action="append")  # AWS CLI to use when botocore is missing (first trusted one)
    add("--dry-run", action="store_true")
    add("--check-setup", action="store_true")  # only report how AWS is reached (exit 1: it is not)
    add("--metadata-file", default="/opt/ml/metadata/resource-metadata.json")
    add("--now", type=parse_timestamp, help=argparse.SUPPRESS)  # test hooks
    add("--retry-base-seconds", type=float, default=1, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    numbers = (a.idle_minutes, a.grace_minutes, a.warn_minutes, a.cpu_percent, a.gpu_percent, a.clock_skew_minutes)
    if not (0 < a.idle_minutes < 1e9 and all(0 <= n < 1e9 for n in numbers) and 0 < a.deadline_seconds <= 3600):
        p.error("need --idle-minutes > 0, other minutes and percentages >= 0, 0 < --deadline-seconds <= 3600")
    if not 0 <= a.cpu_sample_seconds <= 60:
        p.error("need 0 <= --cpu-sample-seconds <= 60")
    if a.jupyter_url != "none" and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", a.jupyter_url):
        p.error("need an http(s) --jupyter-url or 'none'")
    if a.jupyter_url != "none" and not a.verify_tls and not LOOPBACK.fullmatch(a.jupyter_url):
        p.error(f"--jupyter-url {a.jupyter_url} is not loopback: give --verify-tls (and an https URL)")
    if a.verify_tls and a.jupyter_url.startswith("http:") and not LOOPBACK.fullmatch(a.jupyter_url):
        p.error("--verify-tls needs an https --jupyter-url")
    try:
        a.idle_for = [(t, float(m)) for t, m in (x.split("=") for x in a.idle_for)]
    except ValueError as e:
        p.error(f"bad --idle-for (TYPE=MINUTES): {e}")
    if not all(re.fullmatch(r"[a-z0-9.*?]+", t) and 0 < m < 1e9 for t, m in a.idle_for):
        p.error("--idle-for takes TYPE=MINUTES, TYPE a glob of letters, digits, '.', '*', '?'")
    return a


def on_deadline(signum, frame):
    raise Deadline()


def run(args, started_at):
    left = lambda: started_at + args.deadline_seconds - time.monotonic()  # noqa: E731
    os.makedirs(args.state_dir, mode=0o700, exist_ok=True)
    lock = os.open(os.path.join(args.state_dir, "lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        raise Exit(5, f"not checking: another check holds {args.state_dir}/lock") from e
    state_file = os.path.join(args.state_dir, "state.json")
    try:
        md = json.loads(read_file(args.metadata_file))
        arn = md["ResourceArn"]
        region, name = arn.split(":")[3], md.get("ResourceName") or arn.rsplit("/", 1)[1]
        app = None
        if args.target == "studio":  # [studio]
            owner = "SpaceName" if md.get("SpaceName") else "UserProfileName"  # [studio]
            app = {"AppName": name, **{k: md[k] for k in ("DomainId", "AppType", owner)}}  # [studio]
        token = read_file(args.token_file).decode().strip() if args.token_file else args.token
    except (OSError, ValueError, LookupError, TypeError, AttributeError) as e:
        raise Exit(1, f"cannot read {getattr(e, 'filename', 0) or args.metadata_file}: {e!r}"[:400]) from e
    try:
        state = json.loads(read_file(state_file))
        state = state if isinstance(state, dict) else {}
    except (OSError, ValueError, RecursionError):
        state = {}
    call = sagemaker_client(args, region, left)[0]
    if args.jupyter_url == "none":
        answers = [{}, [], [], []]
    else:
        answers = jupyter_answers(args.jupyter_url, token, args.verify_tls, args.ca_file, max(1, min(10, left())))
    kind, verb, doing, resource = "notebook instance", "stop", "stopping", "notebook_instance"
    if app:  # [studio]
        kind, verb, doing, resource = "Studio app", "delete", "deleting", "app"  # [studio]

    def aws(op):
        what = "sagemaker:" + op.title().replace("_", "")
        try:
            return call_with_backoff(
                lambda: call(op, app or {"NotebookInstanceName": name}), what, log, base_delay=args.retry_base_seconds
            )
        except Exit:
            raise
        except Exception as e:
            code, message, _, denied = aws_error(e)
            if not denied:
                raise Exit(3, f"{what} failed: {code or type(e).__name__}: {message}") from e
            case = f" (IAM may evaluate the lower-case ARN {arn.lower()}: grant both)" * (arn != arn.lower())
            raise Exit(
                3, f"access denied: the {kind}'s role lacks permission {what} on {arn}{case} [{code}: {message}]"
            ) from e

    described = aws("describe_" + resource)
    status = described.get("Status") or described.get("NotebookInstanceStatus")
    started = parse_timestamp(described.get("CreationTime" if app else "LastModifiedTime"))  # instance start
    instance_type = described.get("InstanceType")
    if app:  # [studio]
        instance_type = (described.get("ResourceSpec") or {}).get("InstanceType")  # [studio]
    if status != "InService":
        raise Exit(0, f"not stopping: {kind} {name} is {status}, not InService")
    now, grace = args.now or datetime.now(UTC), args.grace_minutes * MINUTE
    idle = args.idle_minutes
    for pattern, minutes in args.idle_for:
        if fnmatch.fnmatchcase(str(instance_type), pattern):
            log(f"idle time {minutes:g} min for instance type {instance_type} ({pattern})")
            idle = minutes
            break
    idle = idle * MINUTE
    activity, busy, new_state = [], [], {}
    with contextlib.suppress(LookupError, TypeError, ValueError):  # process activity seen by an earlier check
        activity.append((parse_timestamp(state["busy"][0]), str(state["busy"][1])))
    try:
        uids = {uid_of(u) for u in args.cpu_users.split(",") if u} if args.cpu_percent else set()
    except KeyError as e:
        raise Exit(1, f"not stopping: --cpu-users names an unknown user: {e}") from e
    if uids:
        sample, kept = cpu_sample(uids), state.get("cpu") or {}
        before, seconds = kept.get("ticks"), time.time() - float(kept.get("at") or 0)
        if not isinstance(before, dict) or not 1 <= seconds <= 1800:
            before, seconds = sample, args.cpu_sample_seconds
            time.sleep(seconds)
            sample = cpu_sample(uids)
        load = cpu_percent(before, sample, seconds)
        new_state["cpu"] = {"at": time.time(), "ticks": sample}
        log(f"CPU of {args.cpu_users}'s processes: {load:.0f}% of one core over {seconds:.0f} s")
        if load >= args.cpu_percent:
            busy.append(f"CPU {load:.0f}% >= {args.cpu_percent:g}%")
    if args.gpu_percent:
        try:
            gpu = gpu_percent(args.nvidia_smi, max(1, min(10, left())))
        except (OSError, ValueError) as e:
            raise Exit(0, f"not stopping: GPU load unknown: {e}"[:300]) from e
        if gpu is not None and gpu >= args.gpu_percent:
            busy.append(f"GPU {gpu:.0f}% >= {args.gpu_percent:g}%")
    file_time = None  # [studio]
    if args.activity_file:  # [studio]
        try:  # [studio]
            file_time = parse_timestamp(read_file(args.activity_file, 100).decode().strip())  # [studio]
            activity.append((file_time, "activity file " + args.activity_file))  # [studio]
        except FileNotFoundError:  # [studio]
            pass  # [studio]
        except (OSError, ValueError, UnicodeDecodeError) as e:  # [studio]
            log(f"activity file ignored: {e!r}"[:300])  # [studio]
    if busy:
        activity.append((now, "process activity (" + ", ".join(busy) + ")"))
        new_state["busy"] = [now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), activity[-1][1]]
        if args.activity_file and (file_time is None or file_time < now):  # [studio] tell the built-in detector
            stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"  # [studio]
            safe_write(args.activity_file, stamp)  # [studio]
    elif "busy" in state:
        new_state["busy"] = state["busy"]
    try:
        d = decide(
            answers, started, now, idle, grace, args.ignore_connections, activity, args.clock_skew_minutes * MINUTE
        )
    except (AttributeError, LookupError, TypeError, ValueError, RecursionError) as e:
        raise Exit(7, f"not stopping: unexpected Jupyter answer: {e!r}"[:300]) from e
    counts = f"{len(answers[2])} kernel(s), {len(answers[3])} terminal(s), {len(answers[1])} session(s)"
    instance = "" if app else f", instance started {fmt(started)}"
    log(f"{counts}; jupyter started {fmt(parse_timestamp(answers[0].get('started')))}{instance}")
    for line in d.notes:
        log(line)
    warn, at = args.warn_minutes * MINUTE, f"{kind} {name}"
    warned = state.get("warning") if isinstance(state.get("warning"), dict) else None
    in_window = d.idle_for is not None and d.idle_for >= idle - warn and (d.stop or d.reason.startswith("not idle"))
    try:
        if args.dry_run:
            raise Exit(0, f"dry-run: would {verb} {at}: {d.reason}" if d.stop else d.reason)
        if warned and not (warn and in_window):
            log(f"stop cancelled: activity since the warning at {warned.get('at')}")
            notify(args, None)
        elif warn and in_window:
            if not warned or warned.get("activity") != fmt(d.last_activity):
                when = max(now + warn, d.last_activity + idle)
                new_state["warning"] = {"at": fmt(now), "activity": fmt(d.last_activity), "stop": fmt(when)}
                notify(args, f"{at} will {verb} at {fmt(when)} (idle since {fmt(d.last_activity)}) unless used")
                raise Exit(0, f"warned: {at} will {verb} at {fmt(when)} unless there is activity: {d.reason}")
            new_state["warning"] = warned
            if not d.stop or parse_timestamp(warned["stop"]) > now:
                raise Exit(0, f"warned at {warned['at']}, {verb} at {warned['stop']}: {d.reason}")
        if not d.stop:
            raise Exit(0, d.reason)
        log(f"{d.reason}: {doing} {at}")
        notify(args, None)
        new_state.pop("warning", None)
        aws(verb + "_" + resource)
        raise Exit(0, f"{verb} requested for {at}")
    finally:
        safe_write(state_file, json.dumps(new_state))


def notify(args, message):
    """The warning (or with None its withdrawal): the notice file, and `wall` to open terminals."""
    text = None if message is None else f"Idle shutdown: {message}.\nAny activity (a kernel, a terminal) cancels it.\n"
    if args.notice_file:
        try:
            safe_write(args.notice_file, text)
        except OSError as e:
            log(f"notice file {args.notice_file} not written: {e!r}")
    if text and args.wall and os.path.isfile(args.wall) and trusted(args.wall):
        try:
            run_bounded([args.wall, text], 10)
        except OSError as e:
            log(f"wall failed: {e!r}")


def main(argv=None):
    args = parse_args(argv)
    started_at = time.monotonic()
    if args.check_setup:
        try:
            via = sagemaker_client(args, "us-east-1", lambda: 10)[1]
            for f in sys.executable, os.path.abspath(__file__):
                if not trusted(f):
                    raise Exit(1, f"{f} or a directory above it is writable by a user other than root")
        except Exit as e:
            log(e.args[1])
            return e.args[0]
        log(f"AWS through {via}; python {sys.version.split()[0]} at {sys.executable}")
        return 0
    signal.signal(signal.SIGALRM, on_deadline)
    signal.setitimer(signal.ITIMER_REAL, args.deadline_seconds)
    try:
        run(args, started_at)
    except Exit as e:
        log(e.args[1])
        return e.args[0]
    except Deadline:
        log(f"not stopping: the check did not finish within its deadline of {args.deadline_seconds:g} s")
        return 6
    except Exception as e:
        log(f"not stopping: unexpected error: {e!r}"[:400])
        traceback.print_exc()
        return 4
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return 4


if __name__ == "__main__":
    sys.exit(main())
