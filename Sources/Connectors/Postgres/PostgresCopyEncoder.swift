import ConnectorKit

/// Encodes record batches as binary COPY rows into one buffer reused from batch to batch.
///
/// Column by column: a first pass adds up each row's size, a second writes each column's values
/// at its rows' cursors. Each column's storage is reached once per batch, so no value is boxed,
/// retained or switched on per row (the row-by-row encoder this replaces spent a fifth of a load's
/// CPU on reference counting).
struct PostgresCopyEncoder {
    /// The encoded rows of the last `encode` are its first `encodedCount` bytes. It only grows
    /// (every byte below `encodedCount` is written by each `encode`, so it is never cleared).
    private var output: [UInt8] = []
    private var encodedCount = 0
    /// Per row: its size during the first pass, then where its next field is written.
    private var cursors: [Int] = []
    /// 0, 1, 2, …: the rows of a batch sent whole.
    private var identity: [Int] = []
    /// Per column: a decimal column's values, encoded in the first pass and copied in the second.
    private var numerics: [EncodedNumerics] = []

    struct EncodedNumerics {
        var bytes: [UInt8] = []
        /// Where each row's encoding starts (`rows + 1` offsets; a NULL's is empty).
        var offsets: [Int] = []
    }

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
            encode(batch, UnsafeBufferPointer(rebasing: all[0..<n]), framed: framed)
        }
    }

    private mutating func encode(_ batch: RecordBatch, _ rows: UnsafeBufferPointer<Int>, framed: Bool) {
        let n = rows.count
        // First pass: each row's size. What every row has the same (the field count, and the
        // fixed-width columns without NULLs) is added up once, not row by row.
        var common = 2
        for column in batch.columns where column.validity == nil {
            if let width = Self.fixedWidth(column.values) { common += 4 + width }
        }
        cursors.removeAll(keepingCapacity: true)
        cursors.append(contentsOf: repeatElement(common, count: n))
        for (c, column) in batch.columns.enumerated() {
            let validity = column.validity
            switch column.values {
            case .bool, .int32, .date, .int64, .float64, .timestamp:
                if validity != nil { addFixed(Self.fixedWidth(column.values)!, validity, rows) }
            case let .string(s):
                s.offsets.withUnsafeBufferPointer { offsets in
                    cursors.withUnsafeMutableBufferPointer { sizes in
                        for k in 0..<n {
                            let r = rows[k]
                            sizes[k] &+= 4 &+ Int(offsets[r &+ 1] &- offsets[r])
                        }
                        // A NULL's placeholder need not be empty; it is not sent.
                        if let validity {
                            for k in 0..<n where !validity[rows[k]] { sizes[k] &-= Int(offsets[rows[k] &+ 1] &- offsets[rows[k]]) }
                        }
                    }
                }
            case let .decimal(values):
                guard case let .decimal(precision, scale) = batch.schema.fields[c].type else { preconditionFailure("a decimal column of type \(batch.schema.fields[c].type)") }
                // Encoded in the first pass (their size depends on the digits); copied in the second.
                while numerics.count <= c { numerics.append(EncodedNumerics()) }
                Self.encodeNumerics(values, precision: precision, scale: scale, validity, rows, into: &numerics[c])
                numerics[c].offsets.withUnsafeBufferPointer { offsets in
                    cursors.withUnsafeMutableBufferPointer { sizes in
                        for k in 0..<n { sizes[k] &+= 4 &+ (offsets[k &+ 1] &- offsets[k]) }
                    }
                }
            }
        }
        // Row sizes become row starts.
        var total = framed ? PostgresBinaryCopy.header.count : 0
        cursors.withUnsafeMutableBufferPointer { c in
            for k in 0..<n {
                let size = c[k]
                c[k] = total
                total &+= size
            }
        }
        let end = total
        if framed { total += PostgresBinaryCopy.trailer.count }
        if output.count < total { output.append(contentsOf: repeatElement(0, count: total - output.count)) }
        encodedCount = total
        // Second pass: the values. (The buffers are moved out of `self` while they are written.)
        let fieldCount = Int16(batch.columns.count)
        var output = self.output, rowCursors = cursors
        self.output = []
        cursors = []
        defer { self.output = output; cursors = rowCursors }
        let numerics = self.numerics
        output.withUnsafeMutableBytes { out in
            let base = out.baseAddress!
            if framed {
                PostgresBinaryCopy.header.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                base.storeBytes(of: Int16(-1).bigEndian, toByteOffset: end, as: Int16.self)
            }
            rowCursors.withUnsafeMutableBufferPointer { cur in
                for k in 0..<n {
                    base.storeBytes(of: fieldCount.bigEndian, toByteOffset: cur[k], as: Int16.self)
                    cur[k] &+= 2
                }
                for (c, column) in batch.columns.enumerated() {
                    let validity = column.validity
                    switch column.values {
                    case let .bool(a):
                        a.withUnsafeBufferPointer { v in Self.writeFixed(base, cur, rows, validity) { base, at, r in base.storeBytes(of: v[r] ? 1 : 0, toByteOffset: at, as: UInt8.self); return 1 } }
                    case let .int32(a):
                        a.withUnsafeBufferPointer { v in Self.writeFixed(base, cur, rows, validity) { base, at, r in base.storeBytes(of: v[r].bigEndian, toByteOffset: at, as: Int32.self); return 4 } }
                    case let .date(a):
                        a.withUnsafeBufferPointer { v in
                            Self.writeFixed(base, cur, rows, validity) { base, at, r in base.storeBytes(of: (v[r] &- PostgresBinaryCopy.epochDays).bigEndian, toByteOffset: at, as: Int32.self); return 4 }
                        }
                    case let .int64(a):
                        a.withUnsafeBufferPointer { v in Self.writeFixed(base, cur, rows, validity) { base, at, r in base.storeBytes(of: v[r].bigEndian, toByteOffset: at, as: Int64.self); return 8 } }
                    case let .float64(a):
                        a.withUnsafeBufferPointer { v in
                            Self.writeFixed(base, cur, rows, validity) { base, at, r in base.storeBytes(of: v[r].bitPattern.bigEndian, toByteOffset: at, as: UInt64.self); return 8 }
                        }
                    case let .timestamp(a):
                        a.withUnsafeBufferPointer { v in
                            Self.writeFixed(base, cur, rows, validity) { base, at, r in base.storeBytes(of: (v[r] &- PostgresBinaryCopy.epochMicros).bigEndian, toByteOffset: at, as: Int64.self); return 8 }
                        }
                    case let .string(s):
                        s.offsets.withUnsafeBufferPointer { offsets in
                            s.bytes.withUnsafeBytes { text in
                                Self.writeFixed(base, cur, rows, validity) { base, at, r in
                                    let start = Int(offsets[r]), length = Int(offsets[r &+ 1]) &- start
                                    if length > 0 { ShortCopy.copy(base + at, text.baseAddress! + start, length) }
                                    return length
                                }
                            }
                        }
                    case .decimal:
                        numerics[c].offsets.withUnsafeBufferPointer { offsets in
                            numerics[c].bytes.withUnsafeBytes { encoded in
                                for k in 0..<n {
                                    let at = cur[k]
                                    let r = rows[k]
                                    if let validity, !validity[r] {
                                        base.storeBytes(of: Int32(-1).bigEndian, toByteOffset: at, as: Int32.self)
                                        cur[k] = at &+ 4
                                        continue
                                    }
                                    let length = offsets[k &+ 1] &- offsets[k]
                                    base.storeBytes(of: Int32(truncatingIfNeeded: length).bigEndian, toByteOffset: at, as: Int32.self)
                                    if length > 0 { ShortCopy.copy(base + at + 4, encoded.baseAddress! + offsets[k], length) }
                                    cur[k] = at &+ 4 &+ length
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The bytes of a value of a fixed-width column (nil: its values' sizes vary).
    private static func fixedWidth(_ values: ColumnValues) -> Int? {
        switch values {
        case .bool: 1
        case .int32, .date: 4
        case .int64, .float64, .timestamp: 8
        case .string, .decimal: nil
        }
    }

    private mutating func addFixed(_ width: Int, _ validity: [Bool]?, _ rows: UnsafeBufferPointer<Int>) {
        cursors.withUnsafeMutableBufferPointer { sizes in
            if let validity {
                validity.withUnsafeBufferPointer { valid in
                    for k in 0..<rows.count { sizes[k] &+= 4 &+ (valid[rows[k]] ? width : 0) }
                }
            } else {
                for k in 0..<rows.count { sizes[k] &+= 4 &+ width }
            }
        }
    }

    /// Writes one column: NULL as length -1, otherwise the length `write` returns, then its bytes.
    @inline(__always)
    private static func writeFixed(_ base: UnsafeMutableRawPointer, _ cur: UnsafeMutableBufferPointer<Int>, _ rows: UnsafeBufferPointer<Int>, _ validity: [Bool]?,
                            _ write: (UnsafeMutableRawPointer, Int, Int) -> Int) {
        if let validity {
            validity.withUnsafeBufferPointer { valid in
                for k in 0..<rows.count {
                    let at = cur[k], r = rows[k]
                    if !valid[r] {
                        base.storeBytes(of: Int32(-1).bigEndian, toByteOffset: at, as: Int32.self)
                        cur[k] = at &+ 4
                    } else {
                        let length = write(base, at &+ 4, r)
                        base.storeBytes(of: Int32(truncatingIfNeeded: length).bigEndian, toByteOffset: at, as: Int32.self)
                        cur[k] = at &+ 4 &+ length
                    }
                }
            }
        } else {
            for k in 0..<rows.count {
                let at = cur[k]
                let length = write(base, at &+ 4, rows[k])
                base.storeBytes(of: Int32(truncatingIfNeeded: length).bigEndian, toByteOffset: at, as: Int32.self)
                cur[k] = at &+ 4 &+ length
            }
        }
    }

    // MARK: numeric

    /// Encodes a decimal column's values (NULLs as nothing). `bytes` only grows from batch to
    /// batch (past `offsets.last` it holds nothing), so it is filled once, not per batch.
    private static func encodeNumerics(_ values: [Int128], precision: Int, scale: Int, _ validity: [Bool]?, _ rows: UnsafeBufferPointer<Int>, into out: inout EncodedNumerics) {
        let groupCapacity = 24
        let largest = 8 + 2 * groupCapacity
        // What a value of the declared precision takes; a larger one still fits (room for
        // `largest` is checked before each write).
        let typical = 8 + 2 * min(groupCapacity, (scale + 3) / 4 + (max(0, precision - scale) + 3) / 4 + 1)
        let n = rows.count
        out.offsets.removeAll(keepingCapacity: true)
        out.offsets.append(contentsOf: repeatElement(0, count: n + 1))
        var written = 0
        var k = 0
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: groupCapacity) { groups in
            while k < n {
                let wanted = written + (n - k) * typical + largest
                if out.bytes.count < wanted { out.bytes.append(contentsOf: repeatElement(0, count: wanted - out.bytes.count)) }
                values.withUnsafeBufferPointer { values in
                    out.offsets.withUnsafeMutableBufferPointer { offsets in
                        out.bytes.withUnsafeMutableBytes { bytes in
                            let base = bytes.baseAddress!
                            while k < n && written + largest <= bytes.count {
                                let r = rows[k]
                                if validity?[r] != false { written &+= writeNumeric(values[r], scale: scale, groups: groups, to: base + written) }
                                offsets[k &+ 1] = written
                                k &+= 1
                            }
                        }
                    }
                }
            }
        }
    }

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
            var pad: T = 1, width: T = 1
            for _ in 0..<(4 - lowestWidth) { pad *= 10 }
            for _ in 0..<lowestWidth { width *= 10 }
            let (q, r) = value.quotientAndRemainder(dividingBy: width)
            groups[count] = UInt16(truncatingIfNeeded: r * pad)
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
