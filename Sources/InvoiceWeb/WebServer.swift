import Hummingbird
import InvoiceDaemon
import Logging
import PostgresClient
import ServiceLifecycle

/// The daemon's HTTP server: one Hummingbird application on ``HTTPSettings/address`` serving every
/// ``WebRoutes`` group. It runs as one more service in the daemon's service group, so SIGTERM stops it
/// with the rest (in-flight requests finish first).
public struct WebServer: Service {
    private let address: HTTPListenAddress
    private let routes: [any WebRoutes]
    private let logger: Logger
    private let onListening: @Sendable (Int) async -> Void
    private let pools: [PostgresPool]

    /// A server on `address` for `routes`.
    ///
    /// - Parameters:
    ///   - onListening: called once with the bound port (useful with port 0 in tests).
    ///   - pools: connection pools of the routes, closed when the server stops.
    public init(
        address: HTTPListenAddress, routes: [any WebRoutes], logger: Logger, pools: [PostgresPool] = [],
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.address = address
        self.routes = routes
        self.logger = logger
        self.pools = pools
        self.onListening = onListening
    }

    /// A server on `address` for every page family of `site`; closes the site's pool when it stops.
    public init(
        address: HTTPListenAddress, site: WebSite, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.init(
            address: address, routes: site.routes, logger: site.logger, pools: [site.pool], onListening: onListening)
    }

    /// The router with every group registered, for tests that want Hummingbird's own client.
    public func router() -> Router<WebContext> {
        // HEAD answers like GET without the body: link checkers and mail scanners use it.
        let router = Router(context: WebContext.self, options: .autoGenerateHeadEndpoints)
        for group in routes { group.register(on: router) }
        return router
    }

    /// Serves until graceful shutdown or cancellation.
    public func run() async throws {
        let logger = self.logger
        let onListening = self.onListening
        let application = Application(
            router: router(),
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.notice("HTTP server listening", metadata: ["host": "\(address.host)", "port": "\(port)"])
                await onListening(port)
            },
            logger: logger)
        do {
            try await application.run()
        } catch {
            for pool in pools { await pool.close() }
            throw error
        }
        for pool in pools { await pool.close() }
    }
}

extension WebServer {
    /// The daemon's web services for `context`: the server with every page family, or nothing when
    /// `INVOICEFLOW_HTTP_ADDRESS=off`. The executable passes this to `Daemon.serve(_:logger:services:)`.
    public static func services(_ context: Daemon.Context) throws -> [any Service] {
        guard let address = context.settings.http.address else {
            context.logger.notice("HTTP server disabled (INVOICEFLOW_HTTP_ADDRESS=off)")
            return []
        }
        let site = try WebSite(context)
        return [WebServer(address: address, site: site)]
    }
}
