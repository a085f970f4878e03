"""The idle backstop's configuration (``notebookEnvironment.idleBackstop``, ``studioEnvironment.idleBackstop``).

```json
"idleBackstop": {"maxRunning": "12h", "workingHours": {"timeZone": "Europe/Berlin", "start": "07:00",
                 "end": "20:00", "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri"]},
                 "maxKeepRunning": "168h", "schedule": "15m", "dryRun": true}
```
``maxRunning`` is the hard maximum running time of a notebook instance (notebooks) or the maximum age of a
JupyterLab / Code Editor app (Studio). At least one of ``maxRunning`` and ``workingHours`` is required.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration

from constructs_lib import LifecycleConfigError
from constructs_lib.idle_backstop import WorkingHours
from stacks.config_values import ConfigError, expect, expect_object, parse_duration

KEYS = {"maxRunning", "workingHours", "maxKeepRunning", "schedule", "dryRun"}


@dataclass(frozen=True, kw_only=True)
class BackstopSpec:
    max_running: Duration | None = None
    working_hours: WorkingHours | None = None
    max_keep_running: Duration | None = None
    schedule: Duration | None = None
    dry_run: bool = False


def parse_backstop(raw: object, path: str) -> BackstopSpec:
    data = expect_object(raw, path, KEYS)
    if "maxRunning" not in data and "workingHours" not in data:
        raise ConfigError(f'{path}: give "maxRunning" (such as "12h"), "workingHours", or both.')
    hours = None
    if "workingHours" in data:
        where = f"{path}.workingHours"
        wh = expect_object(data["workingHours"], where, {"timeZone", "start", "end", "weekdays"}, {"timeZone"})
        weekdays = wh.get("weekdays", ["Mon", "Tue", "Wed", "Thu", "Fri"])
        expect(weekdays, list, f"{where}.weekdays", 'a list such as ["Mon", "Tue"]')
        try:
            hours = WorkingHours(
                time_zone=wh["timeZone"],
                start=wh.get("start", "07:00"),
                end=wh.get("end", "20:00"),
                weekdays=tuple(weekdays),
            )
        except LifecycleConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
    return BackstopSpec(
        max_running=parse_duration(data["maxRunning"], f"{path}.maxRunning") if "maxRunning" in data else None,
        working_hours=hours,
        max_keep_running=(
            parse_duration(data["maxKeepRunning"], f"{path}.maxKeepRunning") if "maxKeepRunning" in data else None
        ),
        schedule=parse_duration(data["schedule"], f"{path}.schedule") if "schedule" in data else None,
        dry_run=expect(data.get("dryRun", False), bool, f"{path}.dryRun", "true or false"),
    )


def backstop_kwargs(spec: BackstopSpec) -> dict[str, object]:
    """Keyword arguments of ``IdleBackstop`` common to notebooks and Studio."""
    kwargs: dict[str, object] = {"working_hours": spec.working_hours, "dry_run": spec.dry_run}
    if spec.max_keep_running is not None:
        kwargs["max_keep_running"] = spec.max_keep_running
    if spec.schedule is not None:
        kwargs["schedule_interval"] = spec.schedule
    return kwargs
