import ConnectorKit

/// Wakes a waiting schedule loop early: an upstream pipeline succeeded, or the daemon stops.
/// A signal is never lost: it stays pending until a wait takes it. One waiter at a time.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        /// The waiting child was cancelled before it could park.
        var cancelled = false
    }
    private let state = Locked(State())

    func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.pending = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Waits for `seconds` (forever when nil) or a signal; true when a signal was taken.
    func wait(seconds: Double?) async -> Bool {
        if takePending() { return true }
        await withTaskGroup(of: Void.self) { group in
            if let seconds {
                group.addTask { try? await Task.sleep(for: .seconds(max(0, seconds))) }
            }
            group.addTask { await self.parkUntilSignalled() }
            await group.next()
            group.cancelAll()
        }
        return takePending()
    }

    private func takePending() -> Bool {
        state.withLock { s in
            defer { s.pending = false; s.cancelled = false }
            return s.pending
        }
    }

    private func parkUntilSignalled() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.pending || s.cancelled { return true }
                    s.waiter = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                if s.waiter == nil { s.cancelled = true }
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
    }
}

/// At most `limit` runs at a time across the daemon; the others wait their turn in order.
actor ConcurrencyLimiter {
    private let limit: Int
    private var running = 0
    private var queue: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = max(1, limit) }

    func acquire() async {
        if running < limit {
            running += 1
            return
        }
        await withCheckedContinuation { queue.append($0) }
    }

    func release() {
        if queue.isEmpty {
            running -= 1
        } else {
            queue.removeFirst().resume() // the permit passes on
        }
    }
}
