"""Hard limits of SageMaker lifecycle hooks, and the margins the bundler keeps inside them."""

CONTENT_LIMIT_CHARS = 16384
"""Maximum length of a hook's ``Content``: base64 of the script, as AWS counts it."""

HOOK_TIMEOUT_SECONDS = 300
"""A hook that runs longer fails the instance start."""

RESERVED_SECONDS = 30
"""Kept free for unpacking, logging and start-up of the runner."""

KILL_GRACE_SECONDS = 2
"""After a module's budget, it gets SIGTERM and then SIGKILL this many seconds later."""

MAX_BLOCKING_BUDGET_SECONDS = HOOK_TIMEOUT_SECONDS - RESERVED_SECONDS - KILL_GRACE_SECONDS
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
