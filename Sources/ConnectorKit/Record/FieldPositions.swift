/// The `start, end` positions of a batch's fields, handed from the decoder's store to the batch
/// without copying (a copy per batch moved as many bytes as the file itself).
public final class FieldPositions: @unchecked Sendable {
    // @unchecked: the buffer is written only by the `RecordPositionStore` that fills it, before
    // it hands the buffer over (`take`); from then on it is only read, and freed with this object.
    private let base: UnsafeMutablePointer<Int32>
    public let count: Int

    /// Takes ownership of `base` (allocated, `count` values initialized).
    init(owning base: UnsafeMutablePointer<Int32>, count: Int) {
        self.base = base
        self.count = count
    }

    public convenience init(_ values: [Int32]) {
        let base = UnsafeMutablePointer<Int32>.allocate(capacity: max(values.count, 1))
        values.withUnsafeBufferPointer { if let from = $0.baseAddress { base.initialize(from: from, count: values.count) } }
        self.init(owning: base, count: values.count)
    }

    deinit { base.deallocate() }

    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Int32>) throws -> R) rethrows -> R {
        try body(buffer)
    }

    @usableFromInline
    var buffer: UnsafeBufferPointer<Int32> { UnsafeBufferPointer(start: base, count: count) }
}
