/// Bytes a decoder's records point into, so fields and raw records are not copied per value.
///
/// `input` is the engine's read buffer (shared copy-on-write, never mutated while a batch holds
/// it); `copied` holds what the decoder had to change (unescaped quotes, transcoded text) or,
/// when the input could not be kept, everything. A position `p` below `copiedBase` is
/// `input[p]`, otherwise `copied[p - copiedBase]`.
public struct SharedText: Sendable {
    public static let copiedBase = 1 << 30
    /// Largest input a decoder may point into (positions are `Int32`).
    public static let maxInput = copiedBase
    /// A decoder cuts its batch once `copied` holds this much, leaving room for one more record
    /// (at most 64 MiB, 3 × that once transcoded, plus its raw bytes).
    public static let maxCopied = 512 << 20
    /// Positions are `Int32`: `copied` may never reach this.
    public static let copiedLimit = Int(Int32.max) - copiedBase

    public var input: [UInt8]
    public var copied: [UInt8]

    public init(input: [UInt8] = [], copied: [UInt8] = []) {
        self.input = input
        self.copied = copied
    }

    /// Calls `body` with pointers that resolve positions; valid only inside `body`.
    @inlinable
    public func withResolver<R>(_ body: (TextResolver) throws -> R) rethrows -> R {
        try input.withUnsafeBufferPointer { i in
            try copied.withUnsafeBufferPointer { c in
                try body(TextResolver(input: i.baseAddress, copied: c.baseAddress))
            }
        }
    }

    public func bytes(_ start: Int32, _ end: Int32) -> [UInt8] {
        let s = Int(start), e = Int(end)
        if s < Self.copiedBase { return Array(input[s..<e]) }
        return Array(copied[(s - Self.copiedBase)..<(e - Self.copiedBase)])
    }
}

/// Resolves `SharedText` positions to bytes without bounds checks; the decoder wrote them.
public struct TextResolver {
    @usableFromInline let input: UnsafePointer<UInt8>?
    @usableFromInline let copied: UnsafePointer<UInt8>?

    @usableFromInline
    init(input: UnsafePointer<UInt8>?, copied: UnsafePointer<UInt8>?) {
        self.input = input
        self.copied = copied
    }

    @inlinable @inline(__always)
    public func bytes(_ start: Int32, _ end: Int32) -> UnsafeBufferPointer<UInt8> {
        let s = Int(start)
        let count = Int(end) - s
        if s < SharedText.copiedBase {
            return UnsafeBufferPointer(start: input.map { $0 + s }, count: count)
        }
        return UnsafeBufferPointer(start: copied.map { $0 + (s - SharedText.copiedBase) }, count: count)
    }
}

/// The raw bytes of each record of a batch (for dead letters), as ranges into `SharedText`.
public struct RawRecords: Sendable, Equatable {
    public var text: SharedText
    /// `start, end` per row.
    public var bounds: [Int32]

    public init(text: SharedText, bounds: [Int32]) {
        self.text = text
        self.bounds = bounds
    }

    /// Each string as one record (tests, sources that build records themselves).
    public init(_ column: StringColumn) {
        text = SharedText(copied: column.bytes)
        bounds = []
        bounds.reserveCapacity(column.count * 2)
        for r in 0..<column.count {
            bounds.append(Int32(SharedText.copiedBase) + column.offsets[r])
            bounds.append(Int32(SharedText.copiedBase) + column.offsets[r + 1])
        }
    }

    public var count: Int { bounds.count / 2 }

    public func bytes(_ row: Int) -> [UInt8] { text.bytes(bounds[2 * row], bounds[2 * row + 1]) }

    /// The given rows, in order, sharing the same bytes.
    public func select(_ rows: [Int]) -> RawRecords {
        var b: [Int32] = []
        b.reserveCapacity(rows.count * 2)
        for r in rows { b.append(bounds[2 * r]); b.append(bounds[2 * r + 1]) }
        return RawRecords(text: text, bounds: b)
    }

    public static func == (a: RawRecords, b: RawRecords) -> Bool {
        a.count == b.count && (0..<a.count).allSatisfy { a.bytes($0) == b.bytes($0) }
    }
}
