"""Benchmark of one auto-stop check against a real Jupyter Server with 1, 10 and 50 idle kernels.

    .venv/bin/python bench/autostop/run.py [--runs 5] [--counts 1,10,50] [--output bench/autostop/RESULTS.md]

Starts the same servers as the tests (Jupyter Server over TLS with a token, moto with a notebook
instance), opens the kernels over their websockets so that they are idle (not 'starting'), closes those
connections, and then runs ``autostop.py --dry-run`` as cron would, once to warm up and ``--runs`` times
measured. Wall time is taken around the child; CPU time is the child's own rusage (os.wait4), user + sys.
Also recorded: the bare ``import boto3`` cost, boto3 vs botocore-only client creation (the program uses
botocore only), the Jupyter REST part alone (in process), and the CPU the Jupyter server spent answering one
check (from /proc). Each signal is measured on its own at 1 kernel (``--signals``): the CPU signal with its
earlier sample kept in the state directory (as between cron runs: no in-run sampling), the GPU signal with a
fake ``nvidia-smi``, the Studio activity file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from lifecycle_scripts.autostop import autostop  # noqa: E402
from tests.lifecycle_scripts.conftest import (  # noqa: E402
    AUTOSTOP,
    LOG_LINE,
    JupyterServer,
    aws_env,
    carried_program,
    create_notebook,
    start_jupyter_server,
    start_moto,
    stop_process,
)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def activity_file_cost(path: Path) -> float:
    """Microseconds (median of 1000) of the activity-file signal's own work, with the program's functions: read
    the file (bounded), parse its time, write a newer one in its place (never through a link)."""
    path.write_text("2024-01-01T00:00:00.000Z")
    times = []
    for _ in range(1000):
        started = time.perf_counter()
        autostop.parse_timestamp(autostop.read(str(path), 100).decode().strip())
        autostop.safe_write(str(path), "2024-01-01T00:00:01.000Z")
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2] * 1e6


def stops_idle(out: str, status: int) -> list[str]:
    """The log messages of a check that decided as it must here (exit 0, a dry-run stop); else an error: a run
    that ended early (a refused option, say) would otherwise be timed as a fast check."""
    messages = [m.group(2) for m in map(LOG_LINE.fullmatch, out.splitlines()) if m]
    if status != 0 or not any(m.startswith("dry-run: would stop") for m in messages):
        raise RuntimeError(f"unexpected check result (exit {status}):\n{out}")
    return messages


def run_child(argv: list[str], env: dict[str, str]) -> tuple[float, float, str, int]:
    """(wall seconds, CPU seconds user+sys, stdout, exit status) of one child process."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return wall, usage.ru_utime + usage.ru_stime, out.read().decode(), proc.returncode


def process_cpu(pid: int) -> float:
    """CPU seconds (user + sys) used so far by a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def open_idle_kernels(server: JupyterServer, total: int) -> None:
    """Bring the server to ``total`` kernels, each idle with no open connection."""
    missing = total - len(server.kernels())

    def one(_: int) -> None:
        kernel_id = server.start_kernel()
        channel = server.connect(kernel_id)  # leaves 'starting'
        channel.execute("x = 1")
        channel.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, range(missing)))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        kernels = server.kernels()
        if len(kernels) == total and all(k["execution_state"] == "idle" and k["connections"] == 0 for k in kernels):
            return
        time.sleep(0.2)
    raise RuntimeError(f"kernels not all idle: {server.kernels()}")


def median_range(values: list[float], scale: float = 1000.0) -> str:
    return f"{statistics.median(values) * scale:.0f} ({min(values) * scale:.0f}-{max(values) * scale:.0f})"


def reading(rows: list[tuple[Any, ...]], imports: list[tuple[Any, ...]], clients: list[tuple[Any, ...]]) -> list[str]:
    """A sentence or two computed from the figures."""
    if not rows:
        return []
    first, last = rows[0], rows[-1]
    fixed = statistics.median(c[0] for c in clients)
    share = 100 * fixed / statistics.median(first[1])
    growth = (statistics.median(last[1]) - statistics.median(first[1])) * 1000
    rest_growth = (statistics.median(last[3]) - statistics.median(first[3])) * 1000
    return [
        f"Reading: starting Python, importing boto3 and creating the client is {share:.0f}% of the wall time of a "
        f"check at {first[0]} "
        f"kernel(s). From {first[0]} to {last[0]} kernels the check's wall time changes by {growth:+.0f} ms, "
        f"of which the Jupyter REST answers account for {rest_growth:+.0f} ms.",
    ]


def machine() -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("boto3", "botocore", "jupyter_server", "ipykernel")
    )
    return [
        f"- nproc: {os.cpu_count()} ({cpu})",
        f"- Python: {platform.python_version()} ({sys.executable})",
        f"- OS: {platform.system()} {platform.release()}",
        f"- Packages: {versions}",
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--counts", default="1,10,50")
    parser.add_argument("--signals", default="none,cpu,gpu,all")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()
    counts = sorted(int(count) for count in args.counts.split(","))

    work = Path(tempfile.mkdtemp(prefix="autostop-bench-"))
    (work / "jupyter").mkdir()
    jupyter = start_jupyter_server(work / "jupyter")
    moto = start_moto(work)
    rows = []
    try:
        notebook = create_notebook(moto.client("sagemaker"), "autostop-bench", work)
        env = aws_env(moto.url)
        now = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        argv = [sys.executable, str(carried_program()), "--dry-run", "--now", now, "--jupyter-url", jupyter.url]
        argv += ["--token", jupyter.token, "--metadata-file", str(notebook.metadata_file), "--state-dir"]
        argv += [str(work / "state"), "--warn-minutes", "0", "--wall", "", "--nvidia-smi", str(work / "none")]
        argv += ["--cpu-percent", "0", "--gpu-percent", "0"]
        smi = work / "nvidia-smi"
        smi.write_text("#!/bin/sh\necho 0\n")
        smi.chmod(0o755)
        (work / "last-active").write_text("2024-01-01T00:00:00.000Z")
        signal_options = {
            "none": [],
            # The whole /proc walk and sampling, watching a uid with no processes (65534, nobody): the cost of the
            # signal, not this machine's load (which would, rightly, keep the check from deciding a stop).
            "cpu": ["--cpu-percent", "30", "--cpu-users", "65534"],
            "gpu": ["--gpu-percent", "10", "--nvidia-smi", str(smi)],
        }
        # The activity file (Studio's built-in detectors' timestamp) is read by the Studio form only; a notebook
        # instance's program refuses the option, and moto has no Studio apps to run the Studio form against.
        signal_options["all"] = [o for k in ("cpu", "gpu") for o in signal_options[k]]

        imports = [run_child([sys.executable, "-c", "import boto3"], env) for _ in range(args.runs)]
        print(f"import boto3 alone: wall {median_range([i[0] for i in imports])} ms", flush=True)
        make_client = "import boto3; boto3.session.Session().client('sagemaker', region_name='eu-west-1')"
        clients = [run_child([sys.executable, "-c", make_client], env) for _ in range(args.runs)]
        make_botocore = (
            "import botocore.session as s; s.get_session().create_client('sagemaker', region_name='eu-west-1')"
        )
        botocore_clients = [run_child([sys.executable, "-c", make_botocore], env) for _ in range(args.runs)]
        print(f"botocore client: wall {median_range([c[0] for c in botocore_clients])} ms", flush=True)
        activity_us = activity_file_cost(work / "activity-bench")
        print(f"activity file (in process): {activity_us:.0f} us", flush=True)
        signal_rows = []
        open_idle_kernels(jupyter, 1)
        for name in args.signals.split(","):
            options = [*argv, *signal_options[name]]
            options[options.index("--state-dir") + 1] = str(work / f"state-{name}")
            run_child(options, env)  # warm-up (and the CPU sample kept for the next run)
            measured = []
            for _ in range(args.runs):
                time.sleep(1.1)  # as between cron runs: the kept CPU sample is old enough to use (>= 1 s)
                measured.append(run_child(options, env))
                stops_idle(*measured[-1][2:])
            signal_rows.append((name, [m[0] for m in measured], [m[1] for m in measured]))
            print(f"signals {name}: wall {median_range(signal_rows[-1][1])} ms", flush=True)

        for count in counts:
            started = time.perf_counter()
            open_idle_kernels(jupyter, count)
            print(f"{count} idle kernels ready in {time.perf_counter() - started:.1f} s", flush=True)
            run_child(argv, env)  # warm-up
            walls, cpus, server_cpus = [], [], []
            decision = ""
            for _ in range(args.runs):
                before = process_cpu(jupyter.process.pid)
                wall, cpu, out, status = run_child(argv, env)
                server_cpus.append(process_cpu(jupyter.process.pid) - before)
                decision = "\n    ".join(stops_idle(out, status))
                walls.append(wall)
                cpus.append(cpu)
            fetches = []
            for _ in range(args.runs):
                started = time.perf_counter()
                answers = autostop.jupyter_answers(jupyter.url, jupyter.token)
                fetches.append(time.perf_counter() - started)
            assert len(answers[2]) == count  # /api/kernels
            rows.append((count, walls, cpus, fetches, server_cpus, decision))
            print(
                f"{count:>3} kernels: wall {median_range(walls)} ms, CPU {median_range(cpus)} ms, "
                f"REST {median_range(fetches)} ms, server CPU {median_range(server_cpus)} ms",
                flush=True,
            )
    finally:
        stop_process(jupyter.process)
        stop_process(moto.process)

    lines = [
        "# Auto-stop check: cost of one run",
        "",
        "One `autostop.py --dry-run` run (what cron starts every few minutes) against a real Jupyter Server",
        "(TLS, token) whose kernels were opened over their websockets, are idle and have no open connection,",
        "and a notebook instance in a local moto server (DescribeNotebookInstance is called; Stop is not, dry run).",
        f"Median (min-max) of {args.runs} runs after one warm-up run, in milliseconds. Produced by",
        "`.venv/bin/python bench/autostop/run.py`.",
        f"Program measured: the carried (minified) `autostop.py`, {carried_program().stat().st_size} bytes "
        f"(source {AUTOSTOP.stat().st_size} bytes).",
        "",
        "| kernels | wall | CPU of the check (user+sys) | Jupyter REST part alone (in process)"
        " | Jupyter server CPU per check |",
        "|--:|--:|--:|--:|--:|",
    ]
    for count, walls, cpus, fetches, server_cpus, _ in rows:
        lines.append(
            f"| {count} | {median_range(walls)} | {median_range(cpus)} | {median_range(fetches)} "
            f"| {median_range(server_cpus)} |"
        )
    lines += [
        "",
        f"For comparison, `python -c 'import boto3'` alone: wall {median_range([i[0] for i in imports])} ms, "
        f"CPU {median_range([i[1] for i in imports])} ms; importing boto3 and creating the SageMaker client "
        f"(which loads the service model): wall {median_range([c[0] for c in clients])} ms, "
        f"CPU {median_range([c[1] for c in clients])} ms; botocore only (what the program does): wall "
        f"{median_range([c[0] for c in botocore_clients])} ms, "
        f"CPU {median_range([c[1] for c in botocore_clients])} ms.",
        "",
        "One check at 1 kernel with each signal on (dry run; every run checked to decide a dry-run stop with exit 0).",
        "The activity-file signal belongs to the Studio form, which moto cannot run end to end (no Studio apps): "
        f"its own work, read, parse and rewrite of the timestamp file as the program does it, costs "
        f"{activity_us:.0f} us in process (median of 1000).",
        "",
        "| signals | wall | CPU of the check (user+sys) |",
        "|--|--:|--:|",
        *[f"| {name} | {median_range(walls)} | {median_range(cpus)} |" for name, walls, cpus in signal_rows],
        "The server CPU column has the kernel's clock-tick resolution (10 ms).",
        "",
        *reading(rows, imports, clients),
        "",
        "Log of the last run at the largest kernel count:",
        "",
        f"    {rows[-1][5]}" if rows else "",
        "",
        "## Machine",
        "",
        *machine(),
        "",
    ]
    args.output.write_text("\n".join(lines))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
