import InvoiceStore
import Logging
import PostgresClient
import ServiceLifecycle

/// Keeps a LISTEN connection on the work channel and turns notifications and reconnects into wake-ups
/// for the services that process queued work.
///
/// NOTIFY is only a hint: after every (re)connect the listener asks for a sweep of everything pending,
/// because notifications sent while it was disconnected are lost.
public struct WorkListenerService: Service {
    private let listener: PostgresListener
    private let logger: Logger
    private let onWake: @Sendable (WakeReason) async -> Void

    /// Why the work processors should look at the queue.
    public enum WakeReason: Sendable, Equatable {
        /// A command function queued work.
        case notified
        /// The listener (re)connected: anything may be pending.
        case sweep
    }

    /// A listener on `InvoiceSchema.workChannel` that calls `onWake` for each coalesced wake-up.
    public init(
        configuration: PostgresConfiguration, logger: Logger,
        onWake: @escaping @Sendable (WakeReason) async -> Void
    ) {
        self.listener = PostgresListener(
            configuration: configuration.setting("application_name", "invoiceflow-listener"),
            channels: [InvoiceSchema.workChannel], logger: logger)
        self.logger = logger
        self.onWake = onWake
    }

    /// Runs until graceful shutdown or cancellation.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await listener.run() }
                group.addTask {
                    for await event in listener.events {
                        switch event {
                        case .notification:
                            await onWake(.notified)
                        case .sweep(let reason):
                            logger.info("listener connected; sweeping pending work", metadata: ["reason": "\(reason)"])
                            await onWake(.sweep)
                        }
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }
}
