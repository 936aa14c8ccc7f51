import ConnectorKit

/// Encodes record batches as binary COPY rows into one buffer reused from batch to batch.
///
/// Row by row, each value written at one running cursor from raw pointers to the columns taken
/// once per batch: no value is boxed, retained or bounds-checked per row. The buffer is sized
/// once per batch from a bound (fixed widths, the string bytes, the largest `numeric`), so no
/// pass measures the rows first. (The row-by-row encoder with per-value arrays this replaced
/// spent a fifth of a load's CPU on reference counting; the column-by-column one after it kept a
/// cursor per row in memory and measured every row first.)
struct PostgresCopyEncoder {
    /// The encoded rows of the last `encode` are its first `encodedCount` bytes. It only grows
    /// (every byte below `encodedCount` is written by each `encode`, so it is never cleared).
    private var output: [UInt8] = []
    private var encodedCount = 0
    /// 0, 1, 2, …: the rows of a batch sent whole.
    private var identity: [Int] = []

    /// The most bytes a `numeric` takes: its 8-byte head and up to `numericGroups` base-10000
    /// digits (an Int128 has 39 decimal digits; aligning a fraction adds one more group).
    static let numericGroups = 24
    static let largestNumeric = 8 + 2 * numericGroups

    /// A copy of the encoded rows of the last `encode`.
    var bytes: [UInt8] { Array(output[0..<encodedCount]) }

    /// The encoded rows of the last `encode`, without copying them.
    @discardableResult
    func withEncodedBytes<R, E: Error>(_ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R) throws(E) -> R {
        try output.withUnsafeBufferPointer { (all) throws(E) -> R in try body(UnsafeBufferPointer(rebasing: all[0..<encodedCount])) }
    }

    /// Rows `rows` (all when nil) of `batch`, columns in schema order; framed with header and
    /// trailer unless `framed` is false (rows streamed into a COPY that is already open).
    mutating func encode(_ batch: RecordBatch, rows: [Int]? = nil, framed: Bool = true) {
        if rows == nil && identity.count < batch.count {
            identity = Array(0..<max(batch.count, 2 * identity.count))
        }
        let indices = rows ?? identity
        let n = rows?.count ?? batch.count
        indices.withUnsafeBufferPointer { all in
            encode(batch, UnsafeBufferPointer(rebasing: all[0..<n]), whole: rows == nil, framed: framed)
        }
    }

    /// One column's values as the row loop reads them.
    private enum Values {
        case bool(UnsafePointer<Bool>)
        case int32(UnsafePointer<Int32>)
        case date(UnsafePointer<Int32>)
        case int64(UnsafePointer<Int64>)
        case float64(UnsafePointer<Double>)
        case timestamp(UnsafePointer<Int64>)
        /// `count`: how many bytes may be read from `bytes`.
        case string(offsets: UnsafePointer<Int32>, bytes: UnsafePointer<UInt8>, count: Int)
        case decimal(UnsafePointer<Int128>, scale: Int)
    }

    private struct ColumnReader {
        var values: Values
        /// Nil: no NULLs.
        var validity: UnsafePointer<Bool>?
    }

    /// The storage of a non-empty array. Why the pointer may leave the closure: `encode` keeps
    /// the batch, which holds the array, alive and unchanged (`withExtendedLifetime`) for as
    /// long as the pointer is used, and a live array that is not changed keeps its storage in
    /// place (native contiguous storage, which is what every array is on this platform).
    private static func storage<T>(_ array: [T]) -> UnsafePointer<T> {
        array.withUnsafeBufferPointer { $0.baseAddress! }
    }

    /// Room past the rows for a short string's whole 16-byte copy (`writeRow`).
    static let slack = 16

    /// Where a string column without bytes (every value empty) points: nothing is read from it.
    private static let noBytes: [UInt8] = [0]

    private mutating func encode(_ batch: RecordBatch, _ rows: UnsafeBufferPointer<Int>, whole: Bool, framed: Bool) {
        let n = rows.count
        // The bound of the output: what every row takes at most, plus the string bytes.
        var perRow = 2
        var stringBytes = 0
        var readers: [ColumnReader] = []
        readers.reserveCapacity(batch.columns.count)
        for (c, column) in batch.columns.enumerated() {
            let values: Values
            if n > 0 {
                switch column.values {
                case let .bool(a): values = .bool(Self.storage(a)); perRow += 4 + 1
                case let .int32(a): values = .int32(Self.storage(a)); perRow += 4 + 4
                case let .date(a): values = .date(Self.storage(a)); perRow += 4 + 4
                case let .int64(a): values = .int64(Self.storage(a)); perRow += 4 + 8
                case let .float64(a): values = .float64(Self.storage(a)); perRow += 4 + 8
                case let .timestamp(a): values = .timestamp(Self.storage(a)); perRow += 4 + 8
                case let .string(s):
                    perRow += 4
                    // The whole column's bytes bound any of its rows'; chosen rows are added up.
                    if whole {
                        stringBytes += Int(s.offsets[s.count] &- s.offsets[0])
                    } else {
                        s.offsets.withUnsafeBufferPointer { o in
                            for r in rows { stringBytes += Int(o[r &+ 1] &- o[r]) }
                        }
                    }
                    values = .string(offsets: Self.storage(s.offsets), bytes: Self.storage(s.bytes.isEmpty ? Self.noBytes : s.bytes),
                                     count: s.bytes.count)
                case let .decimal(a):
                    guard case let .decimal(_, scale) = batch.schema.fields[c].type else {
                        preconditionFailure("a decimal column of type \(batch.schema.fields[c].type)")
                    }
                    values = .decimal(Self.storage(a), scale: scale)
                    perRow += 4 + Self.largestNumeric
                }
                readers.append(ColumnReader(values: values, validity: column.validity.map(Self.storage)))
            }
        }
        let headerCount = framed ? PostgresBinaryCopy.header.count : 0
        let bound = headerCount + n * perRow + stringBytes + (framed ? PostgresBinaryCopy.trailer.count : 0) + Self.slack
        if output.count < bound { output.append(contentsOf: repeatElement(0, count: bound - output.count)) }
        let fieldCount = Int16(batch.columns.count)
        encodedCount = withExtendedLifetime(batch) {
            output.withUnsafeMutableBytes { out in
                let base = out.baseAddress!
                if framed {
                    PostgresBinaryCopy.header.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                }
                var at = headerCount
                readers.withUnsafeBufferPointer { readers in
                    withUnsafeTemporaryAllocation(of: UInt16.self, capacity: Self.numericGroups) { groups in
                        for r in rows {
                            at = Self.writeRow(r, readers, fieldCount: fieldCount, groups: groups, to: base, at: at)
                        }
                    }
                }
                if framed {
                    base.storeBytes(of: Int16(-1).bigEndian, toByteOffset: at, as: Int16.self)
                    at += 2
                }
                precondition(at <= out.count, "binary COPY rows outgrew their bound")
                return at
            }
        }
    }

    /// Writes row `r` at `at`; returns where the next row starts.
    ///
    /// A NULL's value is written too, then its length says -1 and the cursor passes over it:
    /// no branch on NULLs, which come in no pattern the CPU could predict. (Every value has its
    /// room in the buffer's bound, and the next field overwrites what was not sent.)
    @inline(__always)
    private static func writeRow(_ r: Int, _ readers: UnsafeBufferPointer<ColumnReader>, fieldCount: Int16, groups: UnsafeMutableBufferPointer<UInt16>,
                                 to base: UnsafeMutableRawPointer, at start: Int) -> Int {
        var at = start
        base.storeBytes(of: fieldCount.bigEndian, toByteOffset: at, as: Int16.self)
        at &+= 2
        for reader in readers {
            let valid = reader.validity.map { $0[r] } ?? true
            let length: Int
            switch reader.values {
            case let .bool(v):
                base.storeBytes(of: v[r] ? 1 : 0, toByteOffset: at &+ 4, as: UInt8.self)
                length = 1
            case let .int32(v):
                base.storeBytes(of: v[r].bigEndian, toByteOffset: at &+ 4, as: Int32.self)
                length = 4
            case let .date(v):
                base.storeBytes(of: (v[r] &- PostgresBinaryCopy.epochDays).bigEndian, toByteOffset: at &+ 4, as: Int32.self)
                length = 4
            case let .int64(v):
                base.storeBytes(of: v[r].bigEndian, toByteOffset: at &+ 4, as: Int64.self)
                length = 8
            case let .float64(v):
                base.storeBytes(of: v[r].bitPattern.bigEndian, toByteOffset: at &+ 4, as: UInt64.self)
                length = 8
            case let .timestamp(v):
                base.storeBytes(of: (v[r] &- PostgresBinaryCopy.epochMicros).bigEndian, toByteOffset: at &+ 4, as: Int64.self)
                length = 8
            case let .string(offsets, bytes, count):
                let from = Int(offsets[r])
                length = Int(offsets[r &+ 1]) &- from
                if length <= 16 && from &+ 16 <= count {
                    // Short (nearly every value): 16 bytes copied whole, with no branch on the length.
                    let source = UnsafeRawPointer(bytes + from)
                    base.storeBytes(of: source.loadUnaligned(as: UInt64.self), toByteOffset: at &+ 4, as: UInt64.self)
                    base.storeBytes(of: source.loadUnaligned(fromByteOffset: 8, as: UInt64.self), toByteOffset: at &+ 12, as: UInt64.self)
                } else {
                    ShortCopy.copy(base + (at &+ 4), bytes + from, length)
                }
            case let .decimal(v, scale):
                length = writeNumeric(v[r], scale: scale, groups: groups, to: base + (at &+ 4))
            }
            base.storeBytes(of: (valid ? Int32(truncatingIfNeeded: length) : -1).bigEndian, toByteOffset: at, as: Int32.self)
            at &+= 4 &+ (valid ? length : 0)
        }
        return at
    }

    // MARK: numeric

    /// `numeric` in binary: ndigits, weight, sign, dscale, then base-10000 digits, most significant
    /// first, without leading or trailing zero digits.
    /// Writes `numeric`'s binary form at `out` (room for 8 + 2 × `groups.count` bytes); returns
    /// its length.
    @inline(__always)
    static func writeNumeric(_ unscaled: Int128, scale: Int, groups: UnsafeMutableBufferPointer<UInt16>, to out: UnsafeMutableRawPointer) -> Int {
        let magnitude = unscaled.magnitude
        // Base-10000 digits, least significant first: the fraction's, aligned so that the decimal
        // point falls between two digits, then the integer part's. (Scaling the whole value up to
        // align it could overflow 128 bits.)
        let count: Int, fractionDigits: Int
        if magnitude <= UInt64.max {
            (count, fractionDigits) = digits(UInt64(magnitude), scale: scale, into: groups)
        } else {
            (count, fractionDigits) = digits(magnitude, scale: scale, into: groups)
        }
        var lowest = 0
        while lowest < count && groups[lowest] == 0 { lowest += 1 }
        let ndigits = count - lowest
        let weight = ndigits == 0 ? 0 : count - 1 - fractionDigits
        out.storeBytes(of: UInt16(ndigits).bigEndian, toByteOffset: 0, as: UInt16.self)
        out.storeBytes(of: UInt16(bitPattern: Int16(weight)).bigEndian, toByteOffset: 2, as: UInt16.self)
        out.storeBytes(of: UInt16(unscaled < 0 && ndigits > 0 ? 0x4000 : 0).bigEndian, toByteOffset: 4, as: UInt16.self)
        out.storeBytes(of: UInt16(scale).bigEndian, toByteOffset: 6, as: UInt16.self)
        var at = 8
        var i = count - 1
        while i >= lowest {
            out.storeBytes(of: groups[i].bigEndian, toByteOffset: at, as: UInt16.self)
            at += 2
            i -= 1
        }
        return at
    }

    /// Fills `groups` with the base-10000 digits of `magnitude / 10^scale`, least significant
    /// first (leading zero digits dropped); returns how many, and how many are after the point.
    @inline(__always)
    static func digits<T: FixedWidthInteger & UnsignedInteger>(_ magnitude: T, scale: Int, into groups: UnsafeMutableBufferPointer<UInt16>) -> (Int, Int) {
        var value = magnitude
        var count = 0
        var fractionDigits = 0
        if scale > 0 {
            // The lowest fraction digit holds the last `scale % 4` decimals (or 4), padded with zeros.
            let lowestWidth = scale % 4 == 0 ? 4 : scale % 4
            // Constant divisors: the compiler makes multiplications of them (a variable one is a
            // division instruction). The remainder is padded to four decimals.
            let (q, r): (T, T)
            switch lowestWidth {
            case 1: (q, r) = value.quotientAndRemainder(dividingBy: 10); groups[count] = UInt16(truncatingIfNeeded: r) &* 1000
            case 2: (q, r) = value.quotientAndRemainder(dividingBy: 100); groups[count] = UInt16(truncatingIfNeeded: r) &* 100
            case 3: (q, r) = value.quotientAndRemainder(dividingBy: 1000); groups[count] = UInt16(truncatingIfNeeded: r) &* 10
            default: (q, r) = value.quotientAndRemainder(dividingBy: 10000); groups[count] = UInt16(truncatingIfNeeded: r)
            }
            count += 1
            value = q
            for _ in 0..<((scale - lowestWidth) / 4) {
                let (q, r) = value.quotientAndRemainder(dividingBy: 10000)
                groups[count] = UInt16(truncatingIfNeeded: r)
                count += 1
                value = q
            }
            fractionDigits = count
        }
        while value > 0 {
            let (q, r) = value.quotientAndRemainder(dividingBy: 10000)
            groups[count] = UInt16(truncatingIfNeeded: r)
            count += 1
            value = q
        }
        // Leading zero digits (of a value below 1) are dropped; the weight says where the point is.
        var top = count
        while top > 0 && groups[top - 1] == 0 { top -= 1 }
        return (top, fractionDigits)
    }
}
