"""`make test`: start our own Redis and MongoDB wire server on free ports, then run pytest.

The machine's own 6379 and 27017 are never used, nor the demo's data under var/demo.
Extra arguments are passed to pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from devstack.services import start_mongo, start_redis, unwind_on_sigterm


def main(argv: list[str]) -> int:
    # A terminated run still stops pytest and its services (subprocess.call kills its child).
    unwind_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="dash-test-") as tmp:
        root = Path(tmp)
        redis_proc, redis_url = start_redis(root / "redis")
        mongo_proc, mongo_url = start_mongo(root / "mongo")
        try:
            env = dict(os.environ)
            env.update(
                DASH_ENV="test",
                REDIS_URL=redis_url,
                MONGO_URL=mongo_url,
                DASH_TEST_TMP=str(root),
            )
            print(f"test stack: Redis {redis_url}, MongoDB {mongo_url}", flush=True)
            return subprocess.call([sys.executable, "-m", "pytest", *argv], env=env)
        finally:
            mongo_proc.stop()
            redis_proc.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
