
/// A single-producer, single-consumer async queue with a fixed capacity: `send` suspends while it
/// is full. This is the back-pressure between pipeline stages, keeping memory flat whatever the input size.
public final class BoundedQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element] = []
        var finished = false
        /// Delivered after the remaining elements (the producer failed, the consumer did not).
        var endError: (any Error)?
        var failure: (any Error)?
        var waitingReceiver: CheckedContinuation<Element?, any Error>?
        var waitingSenders: [CheckedContinuation<Void, any Error>] = []
        var count: Int { items.count }
    }

    private enum SendStep { case done, wait, fail(any Error) }
    private enum ReceiveStep { case value(Element), end, fail(any Error), wait }

    private let capacity: Int
    private let state = Locked(State())

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    public func send(_ element: Element) async throws {
        while true {
            let step: SendStep = state.withLock { s in
                if let f = s.failure { return .fail(f) }
                if let r = s.waitingReceiver {
                    s.waitingReceiver = nil
                    r.resume(returning: element)
                    return .done
                }
                if s.count < capacity {
                    s.items.append(element)
                    return .done
                }
                return .wait
            }
            switch step {
            case .done: return
            case let .fail(e): throw e
            case .wait:
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                    let resumeNow: (any Error)?? = state.withLock { s in
                        if let f = s.failure { return .some(f) }
                        if s.count < capacity || s.waitingReceiver != nil { return .some(nil) }
                        s.waitingSenders.append(c)
                        return .none
                    }
                    if let r = resumeNow {
                        if let e = r { c.resume(throwing: e) } else { c.resume() }
                    }
                }
            }
        }
    }

    /// The next element, or `nil` once the producer finished and everything was received.
    public func next() async throws -> Element? {
        let step: ReceiveStep = state.withLock { s in
            if let f = s.failure { return .fail(f) }
            if s.count > 0 {
                let v = s.items.removeFirst() // capacity is small: releasing at once keeps memory flat
                if !s.waitingSenders.isEmpty { s.waitingSenders.removeFirst().resume() }
                return .value(v)
            }
            if s.finished { return s.endError.map { .fail($0) } ?? .end }
            return .wait
        }
        switch step {
        case let .value(v): return v
        case .end: return nil
        case let .fail(e): throw e
        case .wait:
            return try await withCheckedThrowingContinuation { (c: CheckedContinuation<Element?, any Error>) in
                let now: ReceiveStep = state.withLock { s in
                    if let f = s.failure { return .fail(f) }
                    if s.count > 0 {
                        let v = s.items.removeFirst()
                        if !s.waitingSenders.isEmpty { s.waitingSenders.removeFirst().resume() }
                        return .value(v)
                    }
                    if s.finished { return s.endError.map { .fail($0) } ?? .end }
                    s.waitingReceiver = c
                    if !s.waitingSenders.isEmpty { s.waitingSenders.removeFirst().resume() }
                    return .wait
                }
                switch now {
                case let .value(v): c.resume(returning: v)
                case .end: c.resume(returning: nil)
                case let .fail(e): c.resume(throwing: e)
                case .wait: break
                }
            }
        }
    }

    /// No more elements will be sent; the receiver gets the remaining ones, then `nil`, or, when
    /// the producer failed, `error` (what was sent before the failure is still delivered).
    public func finish(throwing error: (any Error)? = nil) {
        let r: CheckedContinuation<Element?, any Error>? = state.withLock { s in
            s.finished = true
            s.endError = error
            defer { s.waitingReceiver = nil }
            return s.count == 0 ? s.waitingReceiver : nil
        }
        if let error { r?.resume(throwing: error) } else { r?.resume(returning: nil) }
    }

    /// Fails both ends: waiting and later calls throw `error`.
    public func fail(_ error: any Error) {
        let (r, senders): (CheckedContinuation<Element?, any Error>?, [CheckedContinuation<Void, any Error>]) = state.withLock { s in
            if s.failure == nil { s.failure = error }
            defer { s.waitingReceiver = nil; s.waitingSenders = [] }
            return (s.waitingReceiver, s.waitingSenders)
        }
        r?.resume(throwing: error)
        for c in senders { c.resume(throwing: error) }
    }
}
