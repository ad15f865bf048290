"""Run the asv suite over the last N commits and publish the HTML report.

    python scripts/benchmark_history.py 10            # last 10 commits of main
    python scripts/benchmark_history.py 5 --quick     # one sample per benchmark
    python scripts/benchmark_history.py 3 --bench FullBatch

It calls asv (installed with ``pip install asv``): ``asv machine --yes``,
``asv run HEAD~N..HEAD`` (commits measured before are skipped), then ``asv
publish``; the report is in ``.asv/html/index.html`` (``asv preview`` serves
it). See the README for how to read a regression.
"""

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def asv(*arguments):
    command = [sys.executable, "-m", "asv", *arguments]
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, cwd=ROOT).returncode


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("commits", type=int, help="how many of the latest commits to measure")
    parser.add_argument("--quick", action="store_true", help="one sample per benchmark")
    parser.add_argument("--bench", help="only benchmarks matching this regular expression")
    args = parser.parse_args(argv)
    asv("machine", "--yes")
    run = ["run", "--skip-existing-successful", "--show-stderr", f"HEAD~{args.commits}..HEAD"]
    if args.quick:
        run.append("--quick")
    if args.bench:
        run += ["--bench", args.bench]
    status = asv(*run)
    status = asv("publish") or status
    print(f"report: {ROOT / '.asv' / 'html' / 'index.html'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
