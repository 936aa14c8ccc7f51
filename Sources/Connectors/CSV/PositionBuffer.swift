/// Growable `Int32` storage a scanner reuses record after record. A class over a raw buffer:
/// array appends in the per-field loop each paid a uniqueness check. A session owns its scanner
/// and uses it from one task at a time, so the shared reference is never used concurrently.
final class PositionBuffer {
    private(set) var base: UnsafeMutablePointer<Int32>
    private(set) var capacity: Int

    private(set) var count = 0

    init(capacity: Int = 128) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    @inline(__always)
    func append(_ start: Int32, _ end: Int32) {
        if count + 2 > capacity { grow() }
        base[count] = start
        base[count + 1] = end
        count += 2
    }

    @inline(__always)
    func removeAll() { count = 0 }

    /// `values` written through `base` count from here on.
    @inline(__always)
    func setCount(_ values: Int) {
        precondition(values <= capacity, "\(values) positions in a buffer of \(capacity)")
        count = values
    }

    @inline(__always)
    subscript(i: Int) -> Int32 {
        precondition(i >= 0 && i < count, "position \(i) of \(count)")
        return base[i]
    }

    /// Valid until the next change.
    var buffer: UnsafeBufferPointer<Int32> { UnsafeBufferPointer(start: base, count: count) }

    private func grow() {
        let bigger = UnsafeMutablePointer<Int32>.allocate(capacity: capacity * 2)
        bigger.update(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity *= 2
    }
}
