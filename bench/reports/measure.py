#!/usr/bin/env python3
"""Times every report view with a typical query, as a login in invoiceflow_reporting (sees everything).

Usage: measure.py CONNINFO SAMPLE_INVOICE_ID [--compare]. With --compare, first the slow forms of two questions
(see `comparisons`), printed for reference only. Each query runs under EXPLAIN (ANALYZE, FORMAT JSON) three times;
the best planning + execution time counts. Prints one line per query with its plan's scan nodes, and last,
on its own line, `slowest report view ms: N`.
"""
import json
import subprocess
import sys

conninfo, sample = sys.argv[1], int(sys.argv[2])
queries = [
    ("invoice_status: one invoice", f"SELECT * FROM reporting.invoice_status WHERE invoice_id = {sample}"),
    ("invoice_status: 20 oldest approvals of a subdivision",
     "SELECT * FROM reporting.invoice_status WHERE paying_subdivision = 'ho' AND stage = 'approval' "
     "ORDER BY stage_since LIMIT 20"),
    ("stage_span: one invoice", f"SELECT * FROM reporting.stage_span WHERE invoice_id = {sample}"),
    ("step_span: one invoice", f"SELECT * FROM reporting.step_span WHERE invoice_id = {sample}"),
    ("stage_span: 400 invoices", f"SELECT * FROM reporting.stage_span WHERE invoice_id BETWEEN {sample} AND {sample + 399}"),
    ("step_span: 400 invoices", f"SELECT * FROM reporting.step_span WHERE invoice_id BETWEEN {sample} AND {sample + 399}"),
    ("stage_duration_stats: all", "SELECT * FROM reporting.stage_duration_stats"),
    ("step_duration_stats: all", "SELECT * FROM reporting.step_duration_stats"),
    ("sla_breach: 20 longest-overdue open tasks",
     "SELECT * FROM reporting.sla_breach WHERE is_open ORDER BY due_at LIMIT 20"),
    ("sla_breach_summary: all", "SELECT * FROM reporting.sla_breach_summary"),
    ("escalation: latest 50", "SELECT * FROM reporting.escalation ORDER BY occurred_at DESC LIMIT 50"),
    ("open_task_age: all", "SELECT * FROM reporting.open_task_age"),
    ("rejection_rate: all", "SELECT * FROM reporting.rejection_rate"),
    ("rework_rate: all", "SELECT * FROM reporting.rework_rate"),
    ("paid_without_documents_by_collector: all",
     "SELECT * FROM reporting.paid_without_documents_by_collector ORDER BY collector_name, bucket_order"),
    ("paid_without_documents: 50 longest-waiting",
     "SELECT * FROM reporting.paid_without_documents ORDER BY awaiting_since LIMIT 50"),
    ("payment_registry: all days", "SELECT * FROM reporting.payment_registry"),
    ("substitution_use: latest 50", "SELECT * FROM reporting.substitution_use ORDER BY created_at DESC LIMIT 50"),
]


def nodes(plan, found):
    kind = plan.get("Node Type", "")
    if "Scan" in kind:
        found.add(f"{kind} {plan.get('Relation Name', plan.get('Function Name', ''))}".strip())
    for child in plan.get("Plans", []):
        nodes(child, found)
    return found


# The same questions asked the slow way, for comparison (printed, not counted in the slowest line): the
# backlog grouped live instead of read from its snapshot, and ordered by an aggregate instead of an index key.
comparisons = [
    ("(live) paid_without_documents grouped by collector and age",
     "SELECT collector_name, age_bucket, count(*), sum(amount_minor) FROM reporting.paid_without_documents "
     "GROUP BY 1, 2"),
    ("(by aggregate) paid_without_documents: 50 oldest by paid_on",
     "SELECT * FROM reporting.paid_without_documents ORDER BY paid_on LIMIT 50"),
]


def measure(name, sql):
    best = None
    scans = set()
    for _ in range(3):
        out = subprocess.run(
            ["psql", conninfo, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"],
            check=True, capture_output=True, text=True).stdout
        result = json.loads(out)[0]
        ms = result["Planning Time"] + result["Execution Time"]
        best = ms if best is None else min(best, ms)
        scans = nodes(result["Plan"], set())
    print(f"{best:10.1f} ms  {name}  [{', '.join(sorted(scans))}]", flush=True)
    return best


if "--compare" in sys.argv[3:]:
    for name, sql in comparisons:
        measure(name, sql)
slowest = 0.0
for name, sql in queries:
    slowest = max(slowest, measure(name, sql))
print(f"slowest report view ms: {round(slowest)}")
