"""Hard limits of SageMaker lifecycle hooks, and the margins the bundler keeps inside them."""

CONTENT_LIMIT_CHARS = 16384
"""Maximum length of a hook's ``Content``: base64 of the script, as AWS counts it."""

HOOK_TIMEOUT_SECONDS = 300
"""A hook that runs longer fails the instance start."""

RESERVED_SECONDS = 30
"""Kept free for unpacking, logging and start-up of the runner."""

KILL_GRACE_SECONDS = 2
"""After a module's budget, it gets SIGTERM and then SIGKILL this many seconds later."""

LOG_DRAIN_SECONDS = 1
"""After a module ended, what still holds its output (a process it left running) has this long before
the logging of that output is stopped."""

STOP_SECONDS = KILL_GRACE_SECONDS + LOG_DRAIN_SECONDS
"""What a blocking module may cost beyond its budget: the kill grace and the drain of its output."""

LOG_CAP_BYTES = 512 * 1024
"""A module's output is logged up to this many bytes per log (stdout, root log, persisted log); the rest is
counted in one last line."""

USER_LOG_KEEP_BYTES = 4 * 1024 * 1024
"""A log on the persisted volume above this size at a hook's start is moved to ``LOG.1`` (one generation)."""

MAX_BLOCKING_BUDGET_SECONDS = HOOK_TIMEOUT_SECONDS - RESERVED_SECONDS - STOP_SECONDS
MAX_BACKGROUND_BUDGET_SECONDS = 24 * 3600

RESERVED_SETTING_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "TZ",
        "LANG",
        "NB_USER",
        "NB_HOME",
        "PERSIST_DIR",
        "MODULE_DIR",
        "MODULE_NAME",
        "HOOK",
    }
)
