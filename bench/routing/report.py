"""Figures of bench/routing/run: latency percentiles of the steady phase, backlog throughput, the
ceiling, and the ratio, printed last. Standard library only."""

import argparse
import glob
import os
from collections import defaultdict


def percentile(values, p):
    """Nearest-rank percentile of a sorted list."""
    if not values:
        return float("nan")
    rank = max(1, int(-(-p * len(values) // 100)))
    return values[min(rank, len(values)) - 1]


def main():
    parser = argparse.ArgumentParser()
    for name in ("steady", "logs"):
        parser.add_argument("--" + name, required=True)
    for name in ("rate", "seconds", "queued", "routed", "span", "commits", "wal", "writes", "parked", "mails", "ceiling",
                 "floor", "claim", "clients", "cpu", "daemon-cpu", "cpu-wall", "ceiling-cpu", "floor-cpu", "claim-cpu", "cores",
                 "ceiling-transactions", "floor-transactions", "claim-transactions"):
        parser.add_argument("--" + name, type=float, required=True)
    a = parser.parse_args()

    rows = []  # (login, audit id, submit commit, first task commit or None, that transaction's start or None)
    with open(a.steady) as f:
        for line in f:
            login, audit, submitted, tasks, started = (line.split() + ["", ""])[:5]
            rows.append((login, int(audit), float(submitted), float(tasks) if tasks else None,
                         float(started) if started else None))
    routed = [r for r in rows if r[3] is not None]
    commit_ms = sorted((r[3] - r[2]) * 1000 for r in routed)
    # The same interval in two parts: waiting for a router (submit commit to the step's start) and the step.
    wait_ms = sorted((r[4] - r[2]) * 1000 for r in routed)
    step_ms = sorted((r[3] - r[4]) * 1000 for r in routed)
    elapsed = (max(r[2] for r in rows) - min(r[2] for r in rows)) if rows else 0

    # pgbench logs one line per transaction, in order, per initiator: its k-th line is the submission of
    # that initiator's k-th submitted invoice (each submits its oldest draft, one client each).
    by_login = defaultdict(list)
    for r in rows:
        by_login[r[0]].append(r)
    ack_ms = []
    matched = True
    for login, invoices in by_login.items():
        n = login.rsplit("_", 1)[1]
        lines = []
        for path in glob.glob(os.path.join(a.logs, "steady_%s.*" % n)):
            with open(path) as f:
                for line in f:
                    fields = line.split()
                    lines.append((int(fields[1]), int(fields[4]) + int(fields[5]) / 1e6))
        lines.sort()
        if len(lines) != len(invoices):
            matched = False
            continue
        for (_, acked), invoice in zip(lines, sorted(invoices, key=lambda r: r[1])):
            if invoice[3] is not None:
                ack_ms.append((invoice[3] - acked) * 1000)
    ack_ms.sort()

    print("steady load: %d submissions in %.1f s (%.0f/s offered, %.1f/s achieved), %d routed"
          % (len(rows), elapsed, a.rate, len(rows) / elapsed if elapsed else 0, len(routed)))
    print("  submit commit -> first tasks commit (commit timestamps): p50 %.2f ms, p99 %.2f ms, max %.2f ms"
          % (percentile(commit_ms, 50), percentile(commit_ms, 99), commit_ms[-1] if commit_ms else float("nan")))
    if routed:
        print("    of which waiting for a router: p50 %.2f ms, p99 %.2f ms; the routing transaction: p50 %.2f ms, p99 %.2f ms"
              % (percentile(wait_ms, 50), percentile(wait_ms, 99), percentile(step_ms, 50), percentile(step_ms, 99)))
    if matched and ack_ms:
        print("  submitter's COMMIT returned -> first tasks commit: p50 %.2f ms, p99 %.2f ms, max %.2f ms"
              % (percentile(ack_ms, 50), percentile(ack_ms, 99), ack_ms[-1]))
    steps = (a.routed - 1) / a.span if a.span > 0 else 0
    print("backlog: %d work items queued, %d invoices routed in %.2f s: %.0f routing steps/s"
          % (a.queued, a.routed, a.span, steps))
    if a.queued:
        print("  per work item: %.2f commits, %.0f bytes of WAL, %.1f rows written (daemon, mailer and all)"
              % (a.commits / a.queued, a.wal / a.queued, a.writes / a.queued))
        # Busy CPU of the whole machine (server, daemon, the bench's poller) from the daemon's start until the
        # poller saw the queue empty (up to a second after the last step, part of it idle).
        print("  machine CPU per work item: %.2f ms (the machine %.0f %% busy on %d cores from the daemon's start to the drain)"
              % (a.cpu / a.queued, 100 * a.cpu / (a.cpu_wall * a.cores) if a.cpu_wall > 0 else 0, a.cores))
        print("    of which the daemon (router, mailer, listener, scheduler) %.2f ms, the rest (server, poller) %.2f ms"
              % (a.daemon_cpu / a.queued, (a.cpu - a.daemon_cpu) / a.queued))
    print("parked work items: %d; mails in the outbox: %d" % (a.parked, a.mails))
    print("ceiling (pgbench, %d clients as the router's connections, INSERT + pg_notify per transaction): %.0f tps"
          % (a.clients, a.ceiling))
    if a.ceiling_transactions:
        print("  machine CPU per ceiling transaction: %.3f ms (server and pgbench)" % (a.ceiling_cpu / a.ceiling_transactions))
    if a.queued and a.span > 0:
        # Context for the ratio: the ceiling writes one row per transaction, a routing step many.
        print("rows written/s: routing %.0f, ceiling %.0f (one per transaction)"
              % (a.writes / a.queued * steps, a.ceiling))
    if a.floor:
        print("floor (pgbench, %d clients, one call per transaction writing a transition's rows into bare tables: work item"
              " done, stage, a task, 3 audit rows, a 5 KB mail): %.0f tps, %.2f of the ceiling; routing is %.2f of it"
              % (a.clients, a.floor, a.floor / a.ceiling if a.ceiling else 0, steps / a.floor))
        if a.floor_transactions:
            print("  machine CPU per floor transaction: %.3f ms" % (a.floor_cpu / a.floor_transactions))
    if a.claim:
        # The least a router that claims a work item and then writes its transition can cost: no decision at all.
        print("claimed floor (pgbench, %d clients, two round trips: BEGIN + claim FOR UPDATE SKIP LOCKED, then the floor's"
              " call + COMMIT): %.0f tps, %.2f of the ceiling" % (a.clients, a.claim, a.claim / a.ceiling if a.ceiling else 0))
        if a.claim_transactions:
            print("  machine CPU per claimed floor transaction: %.3f ms" % (a.claim_cpu / a.claim_transactions))
    if a.queued and a.ceiling_transactions and a.ceiling_cpu and a.floor_transactions and a.floor_cpu:
        # The host's speed drifts from run to run; CPU per step in units of the same run's ceiling and floor
        # transactions moves far less, so it compares runs (and changes) better than ms or steps/s.
        print("CPU per routing step: %.1f ceiling transactions, %.1f floor transactions"
              % ((a.cpu / a.queued) / (a.ceiling_cpu / a.ceiling_transactions),
                 (a.cpu / a.queued) / (a.floor_cpu / a.floor_transactions)))
    if a.queued and a.ceiling:
        # The CPU budget the target (0.7 of the ceiling) leaves a step, with every core busy all the time;
        # the ceiling itself waits on commit flushes, so it does not keep the cores busy.
        target = 0.7 * a.ceiling
        budget = a.cores * 1000 / target
        step_cpu = a.cpu / a.queued
        line = ("budget at 0.7 of the ceiling (%.0f steps/s): at most %.2f ms of machine CPU per step with all %d cores"
                " busy; a routing step costs %.2f ms (%.1f times the budget)" % (target, budget, a.cores, step_cpu, step_cpu / budget))
        if a.claim and a.claim_transactions:
            line += ", the claimed floor (claim and bare rows) %.2f ms" % (a.claim_cpu / a.claim_transactions)
        print(line)
    print("ratio routing/ceiling: %.2f" % (steps / a.ceiling if a.ceiling else 0))


if __name__ == "__main__":
    main()
