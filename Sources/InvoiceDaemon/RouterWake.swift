import Synchronization

/// A coalescing wake-up for one router: any number of signals while the router is busy become one
/// wake-up. NOTIFY is only a hint, so collapsing hints loses nothing; the router sweeps on a timer too.
/// A router with several connections gives each loop a ``follower()``, so one signal wakes them all.
public final class RouterWake: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        var followers: [RouterWake] = []
    }

    private let state = Mutex(State())

    /// Creates a wake-up with nothing pending.
    public init() {}

    /// Wakes the router, now if it waits, else at its next wait; and every follower the same way.
    public func signal() {
        let (waiter, followers) = state.withLock { state -> (CheckedContinuation<Void, Never>?, [RouterWake]) in
            guard let waiter = state.waiter else {
                state.pending = true
                return (nil, state.followers)
            }
            state.waiter = nil
            return (waiter, state.followers)
        }
        waiter?.resume()
        for follower in followers { follower.signal() }
    }

    /// A new wake-up signalled whenever this one is: for one more loop waiting on the same hints (each
    /// wake-up has one waiter at a time, and each loop must see every hint).
    func follower() -> RouterWake {
        let follower = RouterWake()
        state.withLock { $0.followers.append(follower) }
        return follower
    }

    /// Returns at the first signal, after `timeout`, or when the task is cancelled. One waiter at a time.
    func wait(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForSignal() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForSignal() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                // Cancellation may have happened before the continuation was stored (the handler then
                // found nothing to resume): Task.isCancelled is already true in that case.
                let now = state.withLock { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }
}
