#!/usr/bin/env python3
# SageMaker idle auto-stop (Python 3.7+, stdlib; AWS through botocore or a root-owned AWS CLI), run every few
# minutes: stops this notebook instance (or with --target studio deletes this Studio app) when nothing is active:
# no Jupyter kernel busy or (unless --ignore-connections) connected, no CPU load of the watched users' processes
# over the last interval, no GPU load, no newer time in the activity file; the latest activity or start (UTC)
# --idle-minutes ago (per instance type: --idle-for), no start within --grace-minutes, and a warning given
# --warn-minutes before (wall, the watched users' terminals under --pts-dir, a notice file) with no activity since.
# One deadline for the whole check, one check at a time (a lock), bounded reads; anything unexpected fails closed
# (no stop, one log line). The caller (idle_autostop.sh, idle_shutdown.sh) passes every option; the defaults
# below are the notebook's. Kept small: the carried (minified) form shares a 16384-character hook with others.
# Exit: 0 checked, 1 environment, 2 usage, 3 AWS call failed, 4 unexpected, 5 another check runs,
# 6 deadline exceeded, 7 Jupyter unusable or its answer unreadable.
import contextlib
import fcntl
import fnmatch
import json
import os
import pwd
import random
import re
import select
import signal
import ssl
import stat
import subprocess
import sys
import time
import traceback
import urllib.request
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

UTC = timezone.utc  # noqa: UP017 (3.7)
MINUTE = timedelta(minutes=1)
MB = 1 << 20  # bytes of a file or command output we read; a Jupyter answer: 4 MB (a kernel model is ~300 bytes)
LOOPBACK = r"https?://(localhost|127(\.[0-9]{1,3}){3}|\[::1\])(:[0-9]{1,5})?(/.*)?"
# Options: a flag's default is False, a repeatable option's a list; other values are converted to the default's type.
OPTIONS = {
    "target": "notebook",  # [studio] 'studio': delete this Studio app
    "idle_minutes": 60.0,
    "idle_for": [],  # TYPE=MINUTES: idle time per instance type (glob), first match wins
    "grace_minutes": 15.0,
    "warn_minutes": 10.0,  # warn this long before a stop; 0: no warning
    "jupyter_url": "https://localhost:8443",  # 'none': no Jupyter server (Code Editor)
    "verify_tls": False,  # verify Jupyter's certificate (required off loopback)
    "ca_file": "",
    "token": "",
    "token_file": "",
    "ignore_connections": False,  # open kernel connections are no activity
    "cpu_percent": 30.0,  # CPU load (% of one core) of the watched users' processes that is activity; 0: off
    "cpu_users": "ec2-user",  # the watched users (comma-separated names or uids)
    "cpu_sample_seconds": 3.0,  # sample this long when no earlier sample is kept
    "gpu_percent": 10.0,  # GPU load that is activity; 0: off
    "nvidia_smi": "/usr/bin/nvidia-smi",
    "activity_file": "",  # [studio] read and update this activity time file (Studio's built-in detector's)
    "notice_file": "",  # write a warning here before a stop
    "wall": "/usr/bin/wall",  # '': none
    "pts_dir": "/dev/pts",  # warn on the watched users' terminals here too (Jupyter's are not in utmp: no wall)
    "state_dir": "/var/lib/sagemaker-lifecycle/autostop",  # lock and state (owned by this user)
    "deadline_seconds": 120.0,  # the whole check ends within this
    "clock_skew_minutes": 5.0,  # times this far ahead count as now
    "aws": "auto",  # or botocore, cli
    "aws_cli": [],  # AWS CLI to use when botocore is missing (first trusted one)
    "dry_run": False,
    "check_setup": False,  # only report how AWS is reached (exit 1: it is not)
    "metadata_file": "/opt/ml/metadata/resource-metadata.json",
    "now": "",  # test hooks
    "retry_base_seconds": 1.0,
}


class Exit(Exception):  # ends the run: (exit status, message to log)
    pass


class Deadline(BaseException):  # raised by SIGALRM: no `except Exception` may swallow it
    pass


def parse_timestamp(v):
    """UTC datetime of an ISO-8601 text (no offset: UTC, never local time), a datetime or a number; None for
    None or ''; anything else raises ValueError."""
    if v is None or v == "":
        return None
    if isinstance(v, datetime):
        return v.replace(tzinfo=UTC) if v.utcoffset() is None else v.astimezone(UTC)
    m = isinstance(v, str) and len(v) < 64
    m = m and re.fullmatch(
        r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):?(\d*)[.,]?(\d*) *(Z|[+-]\d\d:?\d\d|[+-]\d\d)?", v, 2
    )
    try:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and -1e11 < v < 1e11:  # not NaN, no overflow
            return datetime.fromtimestamp(v, UTC)
        t = datetime(*(int(x or 0) for x in m.groups()[:6]), int(m[7].ljust(6, "0")[:6]), UTC)
        z = (m[8] or "Z").replace(":", "")
        return t - int(z[0] + "1") * timedelta(hours=int(z[1:3]), minutes=int(z[3:] or 0)) if z[1:] else t
    except Exception:  # no match, a field out of range, overflow
        raise ValueError(f"not a time: {v!r}"[:99]) from None


def fmt(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else "?"


# Pure: the decision (stop, reason, idle_for, last_activity, notes) for the answers of /api/status, /api/sessions,
# /api/kernels and /api/terminals, plus other (time, what) activity. A time up to `skew` ahead of `now` counts as
# now; further ahead (clock skew) holds the stop until the clocks agree; more than a day ahead is garbage: ignored.
# idle_for and last_activity are set only when idle time alone decides (a stop, or "not idle" by time).
def decide(answers, instance_started, now, idle, grace, ignore_connections=False, activity=(), skew=5 * MINUTE):
    status, sessions, kernels, terminals = answers
    if not isinstance(status, dict) or not all(isinstance(x, list) for x in answers[1:]):
        raise TypeError("status not an object, or a list not a list")
    now, notes, times = parse_timestamp(now), [], []
    d = SimpleNamespace(stop=False, reason="", idle_for=None, last_activity=None, notes=notes)
    by_id = {s["kernel"]["id"]: s for s in sessions if (s.get("kernel") or {}).get("id")}
    ids = [k["id"] for k in kernels]
    for k in kernels + [s["kernel"] for i, s in by_id.items() if i not in ids]:  # + kernels only in a session
        t, state, path = parse_timestamp(k.get("last_activity")), k.get("execution_state"), by_id.get(k["id"], {})
        name = f"kernel {str(k['id'])[:8]}" + (f" ({path['path']})" if path.get("path") else "")
        if state == "starting" and (not t or now - t >= idle):  # stuck: would keep it up forever
            notes.append(f"{name} stuck starting since {fmt(t)}: ignored")
        elif state == "busy" or (k.get("connections") and not ignore_connections):
            d.reason = d.reason or f"not idle: {name} " + (
                "busy" if state == "busy" else f"has {k['connections']} connection(s)"
            )
        elif t:
            times.append((t, name, 0))
    times += [
        (parse_timestamp(t["last_activity"]), "terminal " + t["name"], 0) for t in terminals if t.get("last_activity")
    ]
    # Jupyter's own last_activity moves with any API call (a browser tab polling): only when nothing is open
    if not by_id and not kernels + terminals:
        activity = [*activity, (status.get("last_activity"), "jupyter server activity")]
    times += [(parse_timestamp(t), what, 0) for t, what in activity if t]
    times += [
        (parse_timestamp(t), w, 1)
        for t, w in ((status.get("started"), "jupyter server"), (instance_started, "instance"))
        if t
    ]
    kept = []
    for t, what, start in times:
        if t - now > timedelta(days=1):
            notes.append(f"{what} at {fmt(t)} over a day ahead: ignored")
        elif t - now > skew:
            d.reason = d.reason or f"not stopping: clock skew: {what} at {fmt(t)} is {(t - now) / MINUTE:.1f} min ahead"
        else:
            kept.append((min(t, now), what + " start" * start, start))
    if d.reason:
        return d
    if not kept:
        d.reason = "not stopping: no activity time known"
        return d
    last, what, _ = max(kept)
    start = max([t for t, _, s in kept if s] or [now - grace])  # no start known: no grace period
    text = f"idle for {(now - last) / MINUTE:.1f} min >= {idle / MINUTE:g}"
    d.reason = f"{text} (last activity: {what} at {fmt(last)})"
    if now - last < idle:
        d.reason = "not idle: " + d.reason.replace(">=", "<", 1)
    elif now - start < grace:
        d.reason = f"not stopping: {text}, in {grace / MINUTE:g} min grace after start at {fmt(start)}"
        return d
    d.stop, d.idle_for, d.last_activity = now - last >= idle, now - last, last
    return d


def read(path, limit=MB):
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path} over {limit} bytes")
    return data


def jupyter_answers(url, token=None, verify=False, ca_file=None, timeout=10):
    tls = ssl.create_default_context(cafile=ca_file)
    if not verify:  # loopback only (checked by parse_args): self-signed on the instance
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    get = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=tls)).open
    answers = []
    for what in "status", "sessions", "kernels", "terminals":
        bad = f"not stopping: jupyter not usable: GET /api/{what}: "
        try:  # no_track_activity: the check is no user activity
            request = urllib.request.Request(  # noqa: S310 (http(s) only: parse_args)
                f"{url.rstrip('/')}/api/{what}?no_track_activity=1",
                headers={"Authorization": "token " + token} if token else {},
            )
            with get(request, timeout=timeout) as r:
                body = r.read(4 * MB + 1)
        except Exception as e:
            code = getattr(e, "code", 0)
            if code != 404 or what != "terminals":  # 404: terminals disabled
                bad += f"HTTP {code}" + " (token?)" * (code in (401, 403)) if code else repr(e)[:300]
                raise Exit(7, bad) from e
            body = b"[]"
        if len(body) > 4 * MB:
            raise Exit(7, bad + "over 4 MB")
        try:
            answers.append(json.loads(body))
        except (ValueError, RecursionError) as e:
            raise Exit(7, f"not stopping: bad Jupyter answer: GET /api/{what}: {e!r}"[:300]) from e
    return answers


def run_bounded(argv, timeout, env=None):
    """(exit status, stdout, stderr) of a command, killed after `timeout` s or MB bytes of output."""
    p = subprocess.Popen(argv, stdin=-3, stdout=-1, stderr=-1, env=env, start_new_session=True)  # -3: DEVNULL
    end, streams = time.monotonic() + timeout, [p.stdout, p.stderr]
    out = {s: b"" for s in streams}
    try:
        while streams:
            left = end - time.monotonic()
            ready = left > 0 and select.select(streams, [], [], left)[0]
            if not ready:
                raise OSError(f"{argv[0]} timed out")
            for s in ready:
                chunk = os.read(s.fileno(), 65536)
                out[s] += chunk
                if not chunk:
                    streams.remove(s)
                if len(out[s]) > MB:
                    raise OSError(f"{argv[0]} wrote over 1 MB")
        return p.wait(max(0.1, end - time.monotonic())), out[p.stdout], out[p.stderr]
    finally:
        if p.poll() is None:
            os.killpg(p.pid, 9)
            p.wait()
        p.stdout.close()
        p.stderr.close()


def trusted(path):
    """Whether root (or this user) owns `path` (also its link target) and each directory above them, none of
    them writable by others (a directory may be if sticky, as /tmp: others cannot replace what is in it)."""
    for p in {os.path.abspath(path), os.path.realpath(path)}:
        above = 0
        while True:
            try:
                st = os.stat(p)
            except OSError:
                return False
            if st.st_uid not in (0, os.geteuid()) or (st.st_mode & 0o022 and not (above and st.st_mode & 0o1000)):
                return False
            if p == "/":
                break
            p, above = os.path.dirname(p), 1
    return True


def aws_error(e):
    """(code or HTTP status, message, throttled, access denied) of a botocore or AWS CLI error (moto's XML reduced)."""
    r = getattr(e, "response", None) or {}
    code, message = r.get("Error", {}).get("Code"), r.get("Error", {}).get("Message") or str(e)
    status = r.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = " ".join(re.sub(r"(?s).*<Message>(.*?)</Message>.*", r"\1", message).split())[:500]
    denied = str(code).startswith("AccessDenied") or (status == 403 and "not authorized" in message)
    return code or status, message, "Throttl" in str(code) or status == 429, denied  # 429: TooManyRequests


def sagemaker_client(a, region, left):
    """(function (operation, parameters) -> answer, how): botocore if importable, else a trusted AWS CLI."""
    if a.aws != "cli":
        try:
            import botocore.config
            import botocore.session

            # no botocore retries: call_with_backoff's are bounded and logged
            config = botocore.config.Config(retries={"max_attempts": 0}, connect_timeout=10, read_timeout=20)
            client = botocore.session.get_session().create_client("sagemaker", region_name=region, config=config)
            return (lambda op, params: getattr(client, op)(**params)), "botocore " + botocore.__version__
        except ImportError as e:
            if a.aws == "botocore":
                raise Exit(1, f"botocore not importable by {sys.executable}: {e!r}") from e
    paths = a.aws_cli or ["/usr/local/bin/aws", "/usr/bin/aws"]  # [notebook]
    cli = [p for p in paths if os.path.isfile(p) and trusted(p)] or [0]  # [notebook]
    if not cli[0]:  # [notebook]
        raise Exit(1, f"no botocore for {sys.executable}, no trusted AWS CLI at {' or '.join(paths)}")  # [notebook]
    env = dict(os.environ, AWS_MAX_ATTEMPTS="1", AWS_RETRY_MODE="standard", AWS_PAGER="")  # [notebook]

    def call(op, params):  # [notebook] the notebook's only parameter: NotebookInstanceName
        argv = [cli[0], "sagemaker", op.replace("_", "-"), "--notebook-instance-name", *params.values()]  # [notebook]
        argv += ["--region", region, "--output", "json", "--cli-read-timeout", "20"]  # [notebook]
        status, out, err = run_bounded(argv, max(1, min(60, left())), env)  # [notebook]
        if status:  # [notebook] a botocore-like error: aws_error reads its response
            err = err.decode("utf-8", "replace")  # [notebook]
            e = Exception(" ".join(err.split())[:500] or "AWS CLI failed")  # [notebook]
            m = re.search(r"error occurred \(([^)]*)\)[^:]*: (.*)", err)  # [notebook]
            e.response = {"Error": {"Code": m[1], "Message": m[2]}} if m else {}  # [notebook]
            raise e  # [notebook]
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
            code, _, throttled, _ = aws_error(e)
            if not throttled or attempt == max_attempts:
                raise
            delay = min(max_delay, base_delay * 2 ** (attempt - 1)) * (1 + rand()) / 2  # jitter
            log(f"{what} throttled ({code}), attempt {attempt}/{max_attempts}: retrying in {delay:.2f} s")
            sleep(delay)


def cpu_ticks(uids):
    """{pid:start: CPU ticks} of the live processes of `uids`, but not this one."""
    ticks = {}
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and int(pid) != os.getpid() and os.stat("/proc/" + pid).st_uid in uids:
                f = read(f"/proc/{pid}/stat", 4096).decode()
                f = f[f.rindex(")") + 2 :].split()
                ticks[f"{pid}:{f[19]}"] = int(f[11]) + int(f[12])  # utime stime (not cutime: a reaped child's life)
        except (OSError, ValueError):
            pass  # gone meanwhile
    return ticks


def safe_write(path, text):
    """Write `text` to `path` as a new file (never through a link planted there), or remove it when None."""
    d = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    name, tmp = os.path.basename(path), f".{os.path.basename(path)}.{os.getpid()}"
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp if text else name, dir_fd=d)
        if text:
            with os.fdopen(
                os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=d), "w"
            ) as f:
                f.write(text)
            os.rename(tmp, name, src_dir_fd=d, dst_dir_fd=d)
    finally:
        os.close(d)


def log(message):
    print(time.strftime("%Y-%m-%dT%H:%M:%SZ autostop: ", time.gmtime()) + message, flush=True)


def parse_args(argv=None):
    """The options (see OPTIONS; `--name value`, a flag alone); bad ones: one line on stderr, exit 2."""
    a = SimpleNamespace(**{k: v[:] if v == [] else v for k, v in OPTIONS.items()})
    argv, k = list(sys.argv[1:] if argv is None else argv), "usage"
    try:
        while argv:
            k = argv.pop(0)
            n = k[2:].replace("-", "_")
            v = OPTIONS[n] if k[:2] == "--" else 1 / 0
            if v is False:
                setattr(a, n, True)
                continue
            x = argv.pop(0) if argv else ""
            if v == []:
                getattr(a, n).append(x)
            else:
                setattr(a, n, parse_timestamp(x) if n == "now" else type(v)(x))
        k = "usage"
        numbers = (a.grace_minutes, a.warn_minutes, a.cpu_percent, a.gpu_percent, a.clock_skew_minutes)
        if not (0 < a.idle_minutes < 1e9 and all(0 <= n < 1e9 for n in numbers) and 0 < a.deadline_seconds <= 3600):
            raise ValueError("a number out of range")  # minutes and percentages, idle > 0, deadline <= 3600 s
        if not 0 <= a.cpu_sample_seconds <= 60:
            raise ValueError("a number out of range")
        u = a.jupyter_url
        if u != "none" and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", u):
            raise ValueError("need an http(s) --jupyter-url or 'none'")
        if u != "none" and not re.fullmatch(LOOPBACK, u, 2) and not (a.verify_tls and u[:6] == "https:"):
            raise ValueError(f"--jupyter-url {u} is not loopback: give an https URL and --verify-tls")
        if (a.token and a.token_file) or a.aws not in ("auto", "botocore", "cli"):
            raise ValueError("bad --token(-file) or --aws")
        if a.target not in ("notebook", "studio"):  # [studio]
            raise ValueError("bad --target")  # [studio]
        a.idle_for = [(t, float(m)) for t, m in (x.split("=") for x in a.idle_for)]
        if not all(re.fullmatch(r"[a-z0-9.*?]+", t) and 0 < m < 1e9 for t, m in a.idle_for):
            raise ValueError("bad --idle-for")
    except Exception as e:
        why = "unknown option" if isinstance(e, (KeyError, ZeroDivisionError)) else e  # not in OPTIONS; not --x
        print(f"autostop.py: {k}: {why}"[:300], file=sys.stderr)
        raise SystemExit(2) from None
    return a


def on_deadline(*_):
    raise Deadline()


def notify(a, message, uids):
    """The warning (or with None its withdrawal): the notice file, `wall`, and the watched users' terminals under
    --pts-dir (character devices only, never through a link; wall misses Jupyter's, which are not in utmp).
    Errors are logged or ignored: a warning never fails the check."""
    text = message and f"Idle shutdown: {message}; any activity cancels it.\n"
    if a.notice_file:
        try:
            safe_write(a.notice_file, text)
        except OSError as e:
            log(f"notice not written: {e!r}")
    if text and a.wall and os.path.isfile(a.wall) and trusted(a.wall):
        try:
            run_bounded([a.wall, text], 10)
        except OSError as e:
            log(f"wall failed: {e!r}")
    with contextlib.suppress(OSError):
        for n in os.listdir(a.pts_dir) if text and a.pts_dir else ():
            with contextlib.suppress(OSError):
                p = os.path.join(a.pts_dir, n)
                if n.isdigit() and os.lstat(p).st_uid in uids:
                    fd = os.open(p, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_NOFOLLOW)
                    try:
                        st = os.fstat(fd)
                        if stat.S_ISCHR(st.st_mode) and st.st_uid in uids:
                            os.write(fd, text.encode()[:1024])
                    finally:
                        os.close(fd)


def run(a, started_at):
    left = lambda: started_at + a.deadline_seconds - time.monotonic()  # noqa: E731
    os.makedirs(a.state_dir, 0o700, exist_ok=True)
    lock = os.open(a.state_dir + "/lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        raise Exit(5, "not checking: another check runs") from e
    state_file, new = a.state_dir + "/state.json", {}
    try:
        md = json.loads(read(a.metadata_file))
        arn = md["ResourceArn"]
        region, name = arn.split(":")[3], md.get("ResourceName") or arn.rsplit("/", 1)[1]
        params, kind, verb, resource = {"NotebookInstanceName": name}, "notebook instance", "stop", "notebook_instance"
        if a.target == "studio":  # [studio]
            owner = "SpaceName" if md.get("SpaceName") else "UserProfileName"  # [studio]
            params = {"AppName": name, **{k: md[k] for k in ("DomainId", "AppType", owner)}}  # [studio]
            kind, verb, resource = "Studio app", "delete", "app"  # [studio]
        token = read(a.token_file).decode().strip() if a.token_file else a.token
    except (OSError, ValueError, LookupError, TypeError, AttributeError) as e:
        raise Exit(1, f"cannot read {getattr(e, 'filename', 0) or a.metadata_file}: {e!r}"[:400]) from e
    try:
        state = json.loads(read(state_file))
        state = state if isinstance(state, dict) else {}
    except (OSError, ValueError, RecursionError):
        state = {}
    call = sagemaker_client(a, region, left)[0]
    answers = [{}, [], [], []]
    if a.jupyter_url != "none":
        answers = jupyter_answers(a.jupyter_url, token, a.verify_tls, a.ca_file or None, max(1, min(10, left())))

    def aws(op):
        what = "sagemaker:" + op.title().replace("_", "")
        try:
            return call_with_backoff(lambda: call(op, params), what, log, base_delay=a.retry_base_seconds)
        except Exception as e:
            code, message, _, denied = aws_error(e)
            case = f" (grant {arn.lower()} too)" * (arn != arn.lower())
            raise Exit(
                3,
                f"access denied: the {kind}'s role lacks permission {what} on {arn}{case} [{code}: {message}]"
                if denied
                else f"{what} failed: {code or type(e).__name__}: {message}",
            ) from e

    described = aws("describe_" + resource)
    status = described.get("Status") or described.get("NotebookInstanceStatus")
    started, itype = parse_timestamp(described.get("LastModifiedTime")), described.get("InstanceType")  # its start
    if a.target == "studio":  # [studio]
        started = parse_timestamp(described.get("CreationTime"))  # [studio]
        itype = (described.get("ResourceSpec") or {}).get("InstanceType")  # [studio]
    if status != "InService":
        raise Exit(0, f"not stopping: {kind} {name} is {status}")
    now, grace, idle = a.now or datetime.now(UTC), a.grace_minutes * MINUTE, a.idle_minutes
    for pattern, minutes in a.idle_for:
        if fnmatch.fnmatchcase(str(itype), pattern):
            log(f"idle {minutes:g} min for {itype} ({pattern})")
            idle = minutes
            break
    idle, activity, busy = idle * MINUTE, [], []
    with contextlib.suppress(Exception):  # process activity seen by an earlier check
        activity.append((parse_timestamp(state["busy"][0]), str(state["busy"][1])))
    try:
        uids = {int(u) if u.isdigit() else pwd.getpwnam(u).pw_uid for u in a.cpu_users.split(",") if u}
    except KeyError as e:
        if a.cpu_percent:
            raise Exit(1, f"not stopping: unknown --cpu-users {e}") from e
        uids = set()
    if a.cpu_percent and uids:
        kept = state.get("cpu") or {}
        before, seconds, sample = kept.get("ticks"), time.time() - float(kept.get("at") or 0), cpu_ticks(uids)
        if not isinstance(before, dict) or not 1 <= seconds <= 1800:
            before, seconds = sample, a.cpu_sample_seconds
            time.sleep(seconds)
            sample = cpu_ticks(uids)
        load = sum(max(0, t - before.get(k, 0)) for k, t in sample.items()) * 100 / os.sysconf("SC_CLK_TCK")
        load /= max(seconds, 1e-3)  # % of one core; a process seen only in `sample` started since
        new["cpu"] = {"at": time.time(), "ticks": sample}
        log(f"CPU of {a.cpu_users}: {load:.0f}% over {seconds:.0f} s")
        if load >= a.cpu_percent:
            busy.append(f"CPU {load:.0f}% >= {a.cpu_percent:g}%")
    if a.gpu_percent and os.path.isfile(a.nvidia_smi):  # no nvidia-smi: no GPU
        try:
            if not trusted(a.nvidia_smi):
                raise ValueError(f"{a.nvidia_smi} untrusted: not run")
            argv = [a.nvidia_smi, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
            code, out, err = run_bounded(argv, max(1, min(10, left())))
            try:
                values = [float(x) for x in out.split()] if code == 0 else []
            except ValueError:
                values = []
            if not values or not all(0 <= v <= 100 for v in values):
                raise ValueError(f"nvidia-smi exit {code}: {(out + err)[:200]!r}")
            gpu = max(values)
        except (OSError, ValueError) as e:
            raise Exit(0, f"not stopping: GPU load unknown: {e}"[:300]) from e
        if gpu >= a.gpu_percent:
            busy.append(f"GPU {gpu:.0f}% >= {a.gpu_percent:g}%")
    file_time = None  # [studio]
    if a.activity_file:  # [studio]
        try:  # [studio]
            file_time = parse_timestamp(read(a.activity_file, 100).decode().strip())  # [studio]
            activity.append((file_time, "activity file " + a.activity_file))  # [studio]
        except FileNotFoundError:  # [studio]
            pass  # [studio]
        except (OSError, ValueError) as e:  # [studio] UnicodeDecodeError is a ValueError
            log(f"activity file ignored: {e!r}"[:300])  # [studio]
    if busy:
        activity.append((now, "process activity (" + ", ".join(busy) + ")"))
        new["busy"] = [now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), activity[-1][1]]
        if a.activity_file and (file_time is None or file_time < now):  # [studio] tell the built-in detector
            safe_write(a.activity_file, now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")  # [studio]
    elif "busy" in state:
        new["busy"] = state["busy"]
    try:
        d = decide(answers, started, now, idle, grace, a.ignore_connections, activity, a.clock_skew_minutes * MINUTE)
    except (AttributeError, LookupError, TypeError, ValueError, RecursionError) as e:
        raise Exit(7, f"not stopping: bad Jupyter answer: {e!r}"[:300]) from e
    counts = f"{len(answers[2])} kernel(s), {len(answers[3])} terminal(s), {len(answers[1])} session(s)"
    log(f"{counts}; jupyter started {fmt(parse_timestamp(answers[0].get('started')))}, {kind} started {fmt(started)}")
    for line in d.notes:
        log(line)
    warn, at = a.warn_minutes * MINUTE, f"{kind} {name}"
    warned = state.get("warning") if isinstance(state.get("warning"), dict) else None
    near = warn and d.idle_for is not None and d.idle_for >= idle - warn
    try:
        if a.dry_run:
            raise Exit(0, f"dry-run: would {verb} {at}: {d.reason}" if d.stop else d.reason)
        if warned and not near:
            log(f"stop cancelled: activity since the warning at {warned.get('at')}")
            notify(a, None, uids)
        elif near:
            if not warned or warned.get("activity") != fmt(d.last_activity):
                when = max(now + warn, d.last_activity + idle)
                new["warning"] = {"at": fmt(now), "activity": fmt(d.last_activity), "stop": fmt(when)}
                notify(a, f"{at} will {verb} at {fmt(when)}", uids)
                raise Exit(0, f"warned: {at} will {verb} at {fmt(when)}: {d.reason}")
            new["warning"] = warned
            if not d.stop or parse_timestamp(warned["stop"]) > now:
                raise Exit(0, f"warned at {warned['at']}, {verb} at {warned['stop']}: {d.reason}")
        if not d.stop:
            raise Exit(0, d.reason)
        log(f"{d.reason}: {verb} {at}")
        notify(a, None, uids)
        new.pop("warning", None)
        aws(verb + "_" + resource)
        raise Exit(0, f"{verb} requested for {at}")
    finally:
        safe_write(state_file, json.dumps(new))


def main(argv=None):
    a, started_at = parse_args(argv), time.monotonic()
    signal.signal(signal.SIGALRM, on_deadline)
    signal.setitimer(signal.ITIMER_REAL, a.deadline_seconds)
    try:
        if a.check_setup:
            via = sagemaker_client(a, "us-east-1", lambda: 10)[1]
            for f in sys.executable, os.path.abspath(__file__):
                if not trusted(f):
                    raise Exit(1, f"{f} untrusted: not run")
            raise Exit(0, f"AWS through {via}; python {sys.version.split()[0]} at {sys.executable}")
        run(a, started_at)
    except Exit as e:
        log(e.args[1])
        return e.args[0]
    except Deadline:
        log(f"not stopping: deadline {a.deadline_seconds:g} s passed")
        return 6
    except Exception as e:
        log(f"not stopping: unexpected error: {e!r}"[:400])
        traceback.print_exc()
        return 4
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


if __name__ == "__main__":
    sys.exit(main())
