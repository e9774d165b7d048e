"""tools/stack: up | down | status | logs NAME."""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import localstack  # noqa: E402


def main():
    parser = argparse.ArgumentParser(prog="tools/stack", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="build what is missing, start everything, wait until ready")
    p_up.add_argument("--gateway", choices=["ours", "haproxy", "nginx", "none"], default="ours",
                      help="what balances port 9999 over the two APIs (default: ours)")
    sub.add_parser("down", help="stop everything")
    sub.add_parser("status", help="what runs, with memory and CPU per process")
    p_logs = sub.add_parser("logs", help="print a process's log")
    p_logs.add_argument("name")
    args = parser.parse_args()

    if args.cmd == "up":
        try:
            state = localstack.up(gateway=args.gateway)
        except Exception as e:  # report and leave nothing running
            localstack.log(f"start failed: {e}")
            localstack.down(quiet=True)
            return 1
        localstack.log("ready")
        print(localstack.describe(state))
        return 0
    if args.cmd == "down":
        localstack.down()
        return 0
    if args.cmd == "status":
        return localstack.print_status()
    if args.cmd == "logs":
        path = localstack.run_dir() / "logs" / f"{args.name}.log"
        return subprocess.call(["cat", str(path)])
    return 2


if __name__ == "__main__":
    sys.exit(main())
