"""What the stack's service logs gained during one run (a benchmark, a drill): their sizes before
it, the new bytes copied into the run's results folder, and the new lines that look like trouble."""

import re

# A log line that looks like trouble: a level word (swift-log's "warning"/"error"/"critical",
# valkey's "#" lines say WARNING) or a crash.
TROUBLE = re.compile(r"\b(warning|error|critical|fatal|panic|crash(ed)?|killed)\b", re.I)


def log_offsets(logs):
    return {p.name: p.stat().st_size for p in logs.glob("*.log")} if logs.is_dir() else {}


def copy_new_lines(logs, offsets, dest, benign=None):
    """Copies what each log in `logs` gained since `offsets` into dest; -> {file: [its new lines
    that match TROUBLE and not `benign`]} for the files that have any."""
    findings = {}
    if not logs.is_dir():
        return findings
    dest.mkdir(parents=True, exist_ok=True)
    for p in sorted(logs.glob("*.log")):
        with open(p, "rb") as f:
            f.seek(offsets.get(p.name, 0))
            data = f.read()
        if not data:
            continue
        (dest / p.name).write_bytes(data)
        bad = [line for line in data.decode(errors="replace").splitlines()
               if TROUBLE.search(line) and not (benign and benign.search(line))]
        if bad:
            findings[p.name] = bad
    return findings
