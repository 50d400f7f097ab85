import Testing

@testable import PostgresClient

/// Shorthand for table rows.
private func note(_ payload: String, on channel: String = "c") -> ListenerEvent {
    .notification(channel: channel, payload: payload)
}

@Suite("Listener event buffer and backoff")
struct ListenerBufferTests {
    @Test(
        "pending events follow the coalescing rules",
        arguments: [
            // Distinct notifications queue in order.
            ([note("1"), note("2"), note("3")], 10, [note("1"), note("2"), note("3")]),
            // Identical ones are kept once; the same payload on another channel is different.
            ([note("1"), note("1"), note("1", on: "d"), note("1")], 10, [note("1"), note("1", on: "d")]),
            // A sweep replaces what is pending and makes later notifications redundant.
            ([note("1"), .sweep(reason: .reconnected), note("2")], 10, [.sweep(reason: .reconnected)]),
            // Two sweeps are one.
            ([.sweep(reason: .connected), .sweep(reason: .reconnected)], 10, [.sweep(reason: .reconnected)]),
            // Past the limit, everything pending becomes one overflow sweep.
            ([note("1"), note("2"), note("3"), note("4")], 3, [.sweep(reason: .overflow)]),
            ([note("1"), note("2"), note("2"), note("2")], 2, [note("1"), note("2")]),
        ] as [([ListenerEvent], Int, [ListenerEvent])]
    )
    func coalescing(yielded: [ListenerEvent], limit: Int, expected: [ListenerEvent]) async {
        let buffer = ListenerEventBuffer(limit: limit)
        for event in yielded { buffer.yield(event) }
        buffer.finish()
        var received: [ListenerEvent] = []
        while let event = await buffer.next() { received.append(event) }
        #expect(received == expected)
    }

    @Test("a consumer waiting for an event gets it, and nil once the listener finished")
    func waitingConsumer() async {
        let buffer = ListenerEventBuffer(limit: 4)
        async let first = buffer.next()
        try? await Task.sleep(for: .milliseconds(50))
        buffer.yield(note("x"))
        #expect(await first == note("x"))
        async let end = buffer.next()
        try? await Task.sleep(for: .milliseconds(50))
        buffer.finish()
        #expect(await end == nil)
    }

    @Test("a cancelled consumer stops waiting and loses no event")
    func cancelledConsumer() async {
        let buffer = ListenerEventBuffer(limit: 4)
        let waiting = Task { await buffer.next() }
        try? await Task.sleep(for: .milliseconds(50))
        waiting.cancel()
        #expect(await waiting.value == nil)
        buffer.yield(note("kept"))
        #expect(await buffer.next() == note("kept"))

        // Cancelled at once, the consumer may not even have registered yet; it must still take nothing.
        for round in 0..<200 {
            let early = Task { await buffer.next() }
            early.cancel()
            _ = await early.value
            buffer.yield(note("\(round)"))
            #expect(await buffer.next() == note("\(round)"))
        }
    }

    @Test(
        "backoff doubles from its initial wait up to its cap, shortened by at most the jitter share",
        arguments: [
            (1, 0.0, Duration.milliseconds(100)),
            (2, 0.0, .milliseconds(200)),
            (4, 0.0, .milliseconds(800)),
            (8, 0.0, .seconds(10)),
            (1000, 0.0, .seconds(10)),
            (1, 0.999_999, .milliseconds(80)),
            (1000, 0.5, .seconds(9)),
            (0, 0.0, .milliseconds(100)),
        ]
    )
    func backoff(failures: Int, random: Double, expected: Duration) {
        let delay = Backoff.default.delay(afterFailures: failures, unitRandom: random)
        #expect(abs((delay - expected) / .milliseconds(1)) < 1)
    }

    @Test("random backoff waits stay within jitter of the schedule")
    func backoffRandomRange() {
        for failures in 1...20 {
            let upper = Backoff.default.delay(afterFailures: failures, unitRandom: 0)
            let delay = Backoff.default.delay(afterFailures: failures)
            #expect(delay <= upper && delay >= upper * 0.8)
        }
    }
}
