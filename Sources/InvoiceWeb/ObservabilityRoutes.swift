import Hummingbird
import Logging

/// `/healthz` and `/metrics`, and the HTTP-metrics middleware in front of every route.
///
/// This group must be registered first: Hummingbird applies a router's middleware only to the routes
/// added after it, and the request counters should see the action-link pages too.
struct ObservabilityRoutes: WebRoutes {
    /// What the endpoints report on.
    var observability: WebObservability
    /// Where failed checks are logged.
    var logger: Logger

    /// The endpoints over `observability`.
    init(observability: WebObservability, logger: Logger) {
        self.observability = observability
        self.logger = logger
    }

    func register(on router: Router<WebContext>) {
        router.add(middleware: HTTPMetricsMiddleware(metrics: observability.http))
        let observability = self.observability
        let logger = self.logger
        router.get("healthz") { _, _ -> Response in
            let (report, _) = await HealthReport.check(observability, logger: logger)
            return Self.response(
                status: report.isHealthy ? .ok : .serviceUnavailable, contentType: "application/json",
                body: report.json)
        }
        router.get("metrics") { _, _ -> Response in
            // Read the queue figures now, so the exported gauges are as fresh as the scrape.
            let (_, figures) = await HealthReport.check(observability, logger: logger)
            observability.queue.update(figures, listenerConnected: observability.listenerConnected())
            return Self.response(
                status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8",
                body: observability.registry.emitToString())
        }
    }

    /// A small uncached response; these answers go stale within seconds.
    static func response(status: HTTPResponse.Status, contentType: String, body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
