/// The per-record numbers of a `DecodedRecords` (field and raw positions, lines, byte offsets),
/// in buffers it grows itself.
///
/// Why not arrays: a decoder appends a record at a time, and four array appends per record paid
/// a uniqueness check, a capacity check and a generic call each (about 9 % of a CSV load's CPU).
/// Here a record costs one uniqueness check, made by `DecodedRecords` on this object, and plain
/// stores (a decoder's fast path, `InputRecordWriter`, not even that). Once per batch `take`
/// hands the field positions over as they are and copies the rest into arrays.
@usableFromInline
final class RecordPositionStore: @unchecked Sendable {
    // Its buffers and counts are written here and, during a decoder's fast path, through an
    // `InputRecordWriter`, which gives them back when it ends.
    // @unchecked: the buffers are mutable, but `DecodedRecords` copies this object before any
    // change unless it holds the only reference (copy on write), so an instance two values share
    // is never written, and one written is seen by one value only.
    var fields: UnsafeMutablePointer<Int32>
    var fieldCount = 0
    var fieldCapacity: Int
    /// `start, end` per row.
    var raw: UnsafeMutablePointer<Int32>
    var lines: UnsafeMutablePointer<Int64>
    var offsets: UnsafeMutablePointer<Int64>
    var rows = 0
    var rowCapacity: Int

    /// An empty store has no room until its first append (the engine keeps one per open file).
    init(rowCapacity: Int = 0, fieldCapacity: Int = 0) {
        self.rowCapacity = rowCapacity
        self.fieldCapacity = fieldCapacity
        fields = .allocate(capacity: fieldCapacity)
        raw = .allocate(capacity: 2 * rowCapacity)
        lines = .allocate(capacity: rowCapacity)
        offsets = .allocate(capacity: rowCapacity)
    }

    deinit {
        fields.deallocate()
        raw.deallocate()
        lines.deallocate()
        offsets.deallocate()
    }

    func copy() -> RecordPositionStore {
        let c = RecordPositionStore(rowCapacity: rowCapacity, fieldCapacity: fieldCapacity)
        c.fields.update(from: fields, count: fieldCount)
        c.raw.update(from: raw, count: 2 * rows)
        c.lines.update(from: lines, count: rows)
        c.offsets.update(from: offsets, count: rows)
        c.fieldCount = fieldCount
        c.rows = rows
        return c
    }

    /// Appends `values`, each plus `shift`.
    @inline(__always)
    func appendFields(_ values: UnsafeBufferPointer<Int32>, adding shift: Int32) {
        let k = values.count
        if fieldCount + k > fieldCapacity { growFields(to: fieldCount + k) }
        let to = fields + fieldCount
        var i = 0
        while i < k {
            to[i] = values[i] &+ shift
            i += 1
        }
        fieldCount += k
    }

    @inline(__always)
    func appendField(_ start: Int32, _ end: Int32) {
        if fieldCount + 2 > fieldCapacity { growFields(to: fieldCount + 2) }
        fields[fieldCount] = start
        fields[fieldCount + 1] = end
        fieldCount += 2
    }

    @inline(__always)
    func appendRow(rawStart: Int32, rawEnd: Int32, line: Int64, byteOffset: Int64) {
        if rows == rowCapacity { growRows() }
        raw[2 * rows] = rawStart
        raw[2 * rows + 1] = rawEnd
        lines[rows] = line
        offsets[rows] = byteOffset
        rows += 1
    }

    func mapByteOffsets(fromRow first: Int, _ transform: (Int64) -> Int64) {
        for r in first..<rows { offsets[r] = transform(offsets[r]) }
    }

    /// The rows so far; the store is empty afterwards. The field positions are handed over as
    /// they are (a new buffer of the same capacity takes their place); the rest is copied.
    func take() -> (fieldBounds: FieldPositions, rawBounds: [Int32], lines: [Int64], byteOffsets: [Int64]) {
        defer { fieldCount = 0; rows = 0 }
        let handed = FieldPositions(owning: fields, count: fieldCount)
        fields = .allocate(capacity: fieldCapacity)
        return (handed,
                Array(UnsafeBufferPointer(start: raw, count: 2 * rows)),
                Array(UnsafeBufferPointer(start: lines, count: rows)),
                Array(UnsafeBufferPointer(start: offsets, count: rows)))
    }

    func growFields(to needed: Int) {
        let capacity = max(needed, 2 * fieldCapacity, 2048)
        fields = Self.moved(fields, fieldCount, capacity)
        fieldCapacity = capacity
    }

    func growRows() {
        let capacity = max(2 * rowCapacity, 256)
        raw = Self.moved(raw, 2 * rows, 2 * capacity)
        lines = Self.moved(lines, rows, capacity)
        offsets = Self.moved(offsets, rows, capacity)
        rowCapacity = capacity
    }

    /// `used` values of `old` in a new buffer of `capacity`; `old` is freed.
    private static func moved<T>(_ old: UnsafeMutablePointer<T>, _ used: Int, _ capacity: Int) -> UnsafeMutablePointer<T> {
        let bigger = UnsafeMutablePointer<T>.allocate(capacity: capacity)
        bigger.update(from: old, count: used)
        old.deallocate()
        return bigger
    }
}
