"""The figures of a schemathesis run, read from its NDJSON report: operations, cases,
answers by status class (5xx above all), and every failed check by operation.
Usage: figures.py REPORT_DIR."""

import collections
import json
import sys
from pathlib import Path

reports = sorted(Path(sys.argv[1]).glob("*.ndjson"))
if not reports:
    sys.exit("no NDJSON report")
cases = 0
operations = set()
classes = collections.Counter()
failed_checks = collections.Counter()
failures = collections.Counter()
errors = 0
failed_cases = set()
for line in reports[-1].read_text().splitlines():
    event = json.loads(line)
    if "NonFatalError" in event:
        errors += 1
    finished = event.get("ScenarioFinished")
    if not finished:
        continue
    recorder = finished.get("recorder") or {}
    cases += len(recorder.get("cases", {}))
    label = recorder.get("label", "")
    if label.split(" ")[0] in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}:
        operations.add(label)
    for interaction in recorder.get("interactions", {}).values():
        response = interaction.get("response")
        if response:
            classes[f"{response['status_code'] // 100}xx"] += 1
    for case_id, checks in recorder.get("checks", {}).items():
        for check in checks:
            if check["status"] == "failure":
                failed_cases.add(case_id)
                failed_checks[check["name"]] += 1
                info = check.get("failure_info", {}).get("failure", {})
                failures[(info.get("operation", recorder.get("label")), check["name"])] += 1

print(f"schemathesis figures: {len(operations)} operations, {cases} cases, "
      f"answers {dict(sorted(classes.items()))}, 5xx: {classes.get('5xx', 0)}, "
      f"failed checks: {sum(failed_checks.values())}, errors: {errors}")
for (operation, check), count in sorted(failures.items()):
    print(f"  {check:30} {count:4}  {operation}")
# The closing line CI reads: cases that passed every check, and cases that failed one.
print(f"schemathesis: {cases - len(failed_cases)} passed, {len(failed_cases)} failed")
if classes.get("5xx", 0):
    sys.exit("the server answered 5xx")
