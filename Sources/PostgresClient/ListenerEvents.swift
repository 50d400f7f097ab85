import Synchronization

/// Why the listener asks its consumer to re-read all pending work from the tables.
public enum SweepReason: Sendable, Hashable {
    /// The listener connected for the first time; anything committed before it listened was never notified.
    case connected
    /// The listener connected again after losing its connection; notifications sent meanwhile are lost.
    case reconnected
    /// More distinct notifications arrived than the consumer took; they were dropped in favour of one sweep.
    case overflow
}

/// What the listener tells its consumer.
public enum ListenerEvent: Sendable, Hashable {
    /// A NOTIFY on one of the listened channels. Identical pending notifications are delivered once.
    case notification(channel: String, payload: String)
    /// Re-read everything pending: the table is the truth and notifications may have been missed.
    case sweep(reason: SweepReason)
}

/// The events of one ``PostgresListener`` run, in order, with bounded memory: identical pending
/// notifications are coalesced, a pending sweep makes later notifications redundant (they are dropped, as the
/// sweep that the consumer has not yet started will see their effects), and when more than the buffer limit
/// of distinct notifications pile up they are replaced by one `.sweep(reason: .overflow)`. The sequence ends
/// when the listener's `run()` returns.
///
/// Meant for one consuming task; several consumers each receive a share of the events.
public struct ListenerEvents: AsyncSequence, Sendable {
    public typealias Element = ListenerEvent
    public typealias Failure = Never

    let buffer: ListenerEventBuffer

    /// Starts consuming the events.
    public func makeAsyncIterator() -> Iterator { Iterator(buffer: buffer) }

    /// Takes events one at a time; `next()` returns nil once the listener stopped and every event was taken,
    /// or when the consuming task is cancelled.
    public struct Iterator: AsyncIteratorProtocol {
        let buffer: ListenerEventBuffer

        /// The next event, waiting for one when none is pending.
        public mutating func next() async -> ListenerEvent? { await buffer.next() }
    }
}

/// The bounded, coalescing queue between the listener thread and the consuming task.
final class ListenerEventBuffer: Sendable {
    private struct Key: Hashable {
        var channel: String
        var payload: String
    }

    private struct State {
        var pending: [ListenerEvent] = []
        var pendingNotifications: Set<Key> = []
        var finished = false
        var waiters: [(id: UInt64, continuation: CheckedContinuation<ListenerEvent?, Never>)] = []
        /// Consumers between taking an id and registering their continuation.
        var arriving: Set<UInt64> = []
        /// Arriving consumers whose task was cancelled meanwhile; they must not register.
        var cancelledWaiters: Set<UInt64> = []
        var nextWaiterID: UInt64 = 0
    }

    /// The most distinct notifications held for a slow consumer.
    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Hands `event` to a waiting consumer, or queues it under the coalescing rules.
    func yield(_ event: ListenerEvent) {
        let waiter: CheckedContinuation<ListenerEvent?, Never>? = state.withLock { state in
            guard !state.finished else { return nil }
            if !state.waiters.isEmpty { return state.waiters.removeFirst().continuation }
            let sweepPending = state.pending.contains { if case .sweep = $0 { true } else { false } }
            switch event {
            case .sweep:
                // A sweep covers every notification before it, and one pending sweep is as good as two.
                state.pending = [event]
                state.pendingNotifications = []
            case .notification(let channel, let payload):
                let key = Key(channel: channel, payload: payload)
                if sweepPending || state.pendingNotifications.contains(key) { return nil }
                if state.pendingNotifications.count >= limit {
                    state.pending = [.sweep(reason: .overflow)]
                    state.pendingNotifications = []
                } else {
                    state.pending.append(event)
                    state.pendingNotifications.insert(key)
                }
            }
            return nil
        }
        waiter?.resume(returning: event)
    }

    /// Ends the sequence: consumers drain what is pending, then get nil.
    func finish() {
        let waiters = state.withLock { state in
            state.finished = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.continuation.resume(returning: nil) }
    }

    /// The number of queued events, for tests.
    var pendingCount: Int { state.withLock { $0.pending.count } }

    /// The queued events, for tests.
    var pendingEvents: [ListenerEvent] { state.withLock { $0.pending } }

    func next() async -> ListenerEvent? {
        let id = state.withLock { state in
            state.nextWaiterID += 1
            state.arriving.insert(state.nextWaiterID)
            return state.nextWaiterID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ListenerEvent?, Never>) in
                let immediate: ListenerEvent?? = state.withLock { state in
                    state.arriving.remove(id)
                    // A cancelled consumer takes nothing, so no event is lost with it.
                    if state.cancelledWaiters.remove(id) != nil { return .some(nil) }
                    if !state.pending.isEmpty {
                        let event = state.pending.removeFirst()
                        if case .notification(let channel, let payload) = event {
                            state.pendingNotifications.remove(Key(channel: channel, payload: payload))
                        }
                        return .some(event)
                    }
                    if state.finished { return .some(nil) }
                    state.waiters.append((id, continuation))
                    return .none
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter: CheckedContinuation<ListenerEvent?, Never>? = state.withLock { state in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else {
                    // Cancelled before the continuation was registered: leave a mark so it is not. (After it
                    // was resumed there is nothing to do, and nothing to remember.)
                    if state.arriving.contains(id) { state.cancelledWaiters.insert(id) }
                    return nil
                }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume(returning: nil)
        }
    }
}
