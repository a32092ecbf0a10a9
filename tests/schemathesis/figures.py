"""The figures of schemathesis runs, read from their NDJSON reports: operations, cases,
answers by status class (5xx above all), and every failed check by operation.
Usage: figures.py REPORT_DIR..."""

import collections
import json
import sys
from pathlib import Path

reports = [sorted(Path(d).glob("*.ndjson"))[-1:] for d in sys.argv[1:]]
if not all(reports):
    sys.exit("an NDJSON report is missing")
cases = 0
operations = set()
classes = collections.Counter()
failed_checks = collections.Counter()
failures = collections.Counter()
errors = 0
failed_cases = set()
# Refusals the hooks count as documented (hooks.py, DOCUMENTED_REFUSALS), by operation.
documented_refusals = collections.Counter()
lines = [line for report in reports for line in report[0].read_text().splitlines()]
for line in lines:
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
    for count in recorder.get("filtered_failures", {}).values():
        documented_refusals[label] += count
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
      f"failed checks: {sum(failed_checks.values())}, errors: {errors}, "
      f"refusals of valid data counted as documented: {sum(documented_refusals.values())}")
for (operation, check), count in sorted(failures.items()):
    print(f"  {check:30} {count:4}  {operation}")
# The closing line CI reads: cases that passed every check, and cases that failed one.
print(f"schemathesis: {cases - len(failed_cases)} passed, {len(failed_cases)} failed")
if classes.get("5xx", 0):
    sys.exit("the server answered 5xx")
