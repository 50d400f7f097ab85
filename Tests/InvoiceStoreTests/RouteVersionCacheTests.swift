import Foundation
import InvoiceDomain
import InvoiceStore
import Testing

@Suite("The router's cache of decoded routes")
struct RouteVersionCacheTests {
    /// The JSON `daemon_routing_state` returns for a draft-fresh submitted invoice with `route` as given.
    static func state(route: String) -> Data {
        Data(
            """
            {"now": 1800000000000000, "invoiceID": 7, "type": "supplier_goods", "stage": "approval",
             "pinnedVersion": null, "route": \(route), "amountMinor": 1000000, "currency": "RUB",
             "prepaymentPercent": 0, "urgent": false, "customs": false, "outsideBudget": false,
             "goodsReceived": false, "intercompany": false, "newCounterparty": false, "initiator": 3,
             "initiatorDepartment": 2, "payingSubdivision": 1, "receivingSubdivision": null,
             "roundStartedAt": 1800000000000000, "paidOn": null, "tasks": []}
            """.utf8)
    }

    static func decode(_ data: Data, cache: RouteVersionCache?) throws -> InvoiceRoutingState {
        let decoder = JSONDecoder()
        if let cache { decoder.userInfo[RouteVersionCache.userInfoKey] = cache }
        return try decoder.decode(InvoiceRoutingState.self, from: data)
    }

    @Test("a route version is decoded once and then served from the cache; no cache decodes every time")
    func decodedOnce() throws {
        let route = try #require(RouteVersion.defaults.first { $0.type.rawValue == "supplier_goods" })
        let body = String(decoding: try JSONEncoder().encode(route), as: UTF8.self)
        var renamed = route
        renamed.name = "a body the cache must not read again"
        let renamedBody = String(decoding: try JSONEncoder().encode(renamed), as: UTF8.self)
        let cache = RouteVersionCache()

        #expect(try Self.decode(Self.state(route: body), cache: cache).route == route)
        #expect(cache.route(.init(type: "supplier_goods", version: route.version)) == route)
        // Same type and version (stored versions never change): the cached route, not this body.
        #expect(try Self.decode(Self.state(route: renamedBody), cache: cache).route == route)
        // Without a cache the body is what counts.
        #expect(try Self.decode(Self.state(route: renamedBody), cache: nil).route == renamed)
        // No route stored for the type.
        #expect(try Self.decode(Self.state(route: "null"), cache: cache).route == nil)
    }
}
