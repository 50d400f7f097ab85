import CoreMetrics
import SMTP

/// The daemon's event counters: what the router and the mailer did in this process since it started.
///
/// Only events that the database cannot count cheaply are counted here (each routing attempt, each
/// SMTP attempt and its outcome); queue depths, parked items and dead letters are read from the database
/// at scrape time instead, so they are exact across replicas and restarts. Every counter has a fixed label
/// set and is created up front, so each series is exported (as 0) before its first event and a
/// Prometheus `rate()` sees the first increment.
///
/// The factory is passed in rather than taken from the global `MetricsSystem`, so tests count into a
/// registry of their own without bootstrapping the process-wide system.
public struct DaemonMetrics: Sendable {
    private let routing: [RoutingResult: Counter]
    private let attempts: [DeliveryOutcome.Kind: Counter]
    private let messages: [MailResult: Counter]

    /// What became of one routing attempt.
    public enum RoutingResult: String, Sendable, CaseIterable {
        /// The item was routed and marked done.
        case routed
        /// Routing failed; the item waits out its back-off and is tried again.
        case retried
        /// Routing failed for the last allowed time; the item waits for an administrator.
        case parked
    }

    /// What the outbox did with a message after one delivery attempt.
    public enum MailResult: String, Sendable, CaseIterable {
        /// The relay accepted it.
        case sent
        /// Not delivered; it stays pending and is retried after a back-off.
        case deferred
        /// Refused for good (5xx) or too old to retry: dead-lettered.
        case dead
        /// A configuration fault (authentication, certificate) paused the whole queue; the message is kept.
        case paused
        /// Our lease expired while sending; another mailer owns the message now.
        case leaseLost = "lease_lost"
    }

    /// Counters created through `factory` (the process-wide `MetricsSystem` by default).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        routing = Dictionary(
            uniqueKeysWithValues: RoutingResult.allCases.map { result in
                (
                    result,
                    Counter(
                        label: "invoiceflow_routing_items_total", dimensions: [("result", result.rawValue)],
                        factory: factory)
                )
            })
        attempts = Dictionary(
            uniqueKeysWithValues: Self.outcomes.map { kind in
                (
                    kind,
                    Counter(
                        label: "invoiceflow_mail_attempts_total", dimensions: [("outcome", Self.label(kind))],
                        factory: factory)
                )
            })
        messages = Dictionary(
            uniqueKeysWithValues: MailResult.allCases.map { result in
                (
                    result,
                    Counter(
                        label: "invoiceflow_mail_messages_total", dimensions: [("result", result.rawValue)],
                        factory: factory)
                )
            })
    }

    /// Every SMTP outcome, so each has its series from the start.
    private static let outcomes: [DeliveryOutcome.Kind] = [
        .sent, .transient, .permanent, .configuration, .unknownAfterFinalDot,
    ]

    /// The label value of an SMTP outcome: the outbox's spelling (mail_attempt.outcome), so a dashboard and a
    /// query over the attempts table use the same words.
    static func label(_ kind: DeliveryOutcome.Kind) -> String {
        switch kind {
        case .sent: "sent"
        case .transient: "transient"
        case .permanent: "permanent"
        case .configuration: "configuration"
        case .unknownAfterFinalDot: "unknown_after_final_dot"
        }
    }

    /// Counts one routing attempt: after the routing transaction committed (`.routed`), or after the
    /// failure was recorded (`.retried`, or `.parked` when the failure parked the item).
    public func routing(_ result: RoutingResult) {
        routing[result]?.increment()
    }

    /// A work item routed and marked done.
    public func routed() { routing(.routed) }

    /// A routing failure recorded; `parked` when it was the last allowed attempt.
    public func routingFailed(parked: Bool) { routing(parked ? .parked : .retried) }

    /// Counts one SMTP attempt by the relay's outcome, and what the outbox then did with the message.
    public func mailAttempt(_ outcome: DeliveryOutcome.Kind, result: MailResult) {
        attempts[outcome]?.increment()
        messages[result]?.increment()
    }

    /// Counts one recorded attempt as ``MailerService`` sees it: the outcome and the outbox's answer.
    func mailRecorded(_ outcome: DeliveryOutcome, state: MailOutbox.RecordedState) {
        let result: MailResult
        switch state {
        case .sent: result = .sent
        case .pending: result = .deferred
        case .dead: result = .dead
        case .paused: result = .paused
        case .leaseLost: result = .leaseLost
        }
        mailAttempt(outcome.kind, result: result)
    }
}
