/// A decoder's records before any cast: every field is text, pointing into the bytes read.
///
/// The engine hands it to a `TextTransform` (the schema cast reads fields in place) or turns
/// it into string columns with `recordBatch()` for any other transform or sink.
public struct TextBatch: Sendable {
    public var names: [String]
    public var text: SharedText
    /// `start, end` of each field, record by record.
    public var fieldBounds: FieldPositions
    /// Provenance; `raw` points into `text` too.
    public var origins: RecordOrigins

    public init(names: [String], text: SharedText, fieldBounds: FieldPositions, origins: RecordOrigins, rawBounds: [Int32]) {
        precondition(names.isEmpty ? fieldBounds.count == 0 : fieldBounds.count == origins.lines.count * names.count * 2,
                     "field bounds do not match the records")
        self.names = names
        self.text = text
        self.fieldBounds = fieldBounds
        var o = origins
        o.raw = rawBounds.isEmpty && origins.lines.isEmpty ? nil : RawRecords(text: text, bounds: rawBounds)
        self.origins = o
    }

    public var count: Int { origins.lines.count }

    /// Calls `body` with unchecked access to the fields; valid only inside `body`.
    @inlinable
    public func withFields<R>(_ body: (TextFields) throws -> R) rethrows -> R {
        try text.withResolver { resolver in
            try fieldBounds.withUnsafeBufferPointer { b in
                try body(TextFields(resolver: resolver, bounds: b.baseAddress, columns: names.count, rows: count))
            }
        }
    }

    /// Column `k` as a string column (a copy).
    public func stringColumn(_ k: Int) -> StringColumn {
        withFields { f in
            var out = StringColumn(reservingRows: count, bytes: f.totalLength(k))
            for r in 0..<count { out.append(UnsafeRawBufferPointer(f.field(r, k))) }
            return out
        }
    }

    /// Every column as strings.
    public func recordBatch() -> RecordBatch {
        RecordBatch(schema: .strings(names), columns: names.indices.map { Column(.string(stringColumn($0))) }, origins: origins)
    }
}

/// Unchecked field access inside `TextBatch.withFields`.
public struct TextFields {
    @usableFromInline let resolver: TextResolver
    @usableFromInline let bounds: UnsafePointer<Int32>?
    @usableFromInline let columns: Int
    public let rows: Int

    @usableFromInline
    init(resolver: TextResolver, bounds: UnsafePointer<Int32>?, columns: Int, rows: Int) {
        self.resolver = resolver
        self.bounds = bounds
        self.columns = columns
        self.rows = rows
    }

    @inlinable @inline(__always)
    public func field(_ row: Int, _ column: Int) -> UnsafeBufferPointer<UInt8> {
        let i = 2 * (row * columns + column)
        return resolver.bytes(bounds.unsafelyUnwrapped[i], bounds.unsafelyUnwrapped[i + 1])
    }

    /// The bytes of column `column` in all rows: one strided walk of the positions.
    @inlinable
    public func totalLength(_ column: Int) -> Int {
        guard var p = bounds.map({ $0 + 2 &* column }) else { return 0 }
        let stride = 2 &* columns
        var total = 0
        for _ in 0..<rows {
            total &+= Int(p[1] &- p[0])
            p += stride
        }
        return total
    }
}
