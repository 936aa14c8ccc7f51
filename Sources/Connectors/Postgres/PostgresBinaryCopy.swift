import ConnectorKit
import CoreConnectors

/// Encodes batches in PostgreSQL's binary COPY format, column by column into row-major bytes.
/// Hand-written: there is no library for it here, and the format is small (header, per row a field
/// count and length-prefixed big-endian values, trailer).
enum PostgresBinaryCopy {
    static let header: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]
    static let trailer: [UInt8] = [0xFF, 0xFF]
    /// Microseconds and days between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
    static let epochMicros: Int64 = 946_684_800_000_000
    static let epochDays: Int32 = 10957

    /// Rows `rows` (all when nil) of `batch`, columns in schema order, framed with header and
    /// trailer unless `framed` is false (rows streamed into a COPY that is already open).
    static func encode(_ batch: RecordBatch, rows: [Int]? = nil, extraInt64: [Int64]? = nil, framed: Bool = true) -> [UInt8] {
        let indices = rows ?? Array(0..<batch.count)
        var out: [UInt8] = []
        out.reserveCapacity(header.count + indices.count * (8 + batch.columns.count * 16))
        if framed { out += header }
        let fieldCount = Int16(batch.columns.count + (extraInt64 == nil ? 0 : 1))
        let scales = batch.schema.fields.map { f -> Int in if case let .decimal(_, s) = f.type { s } else { 0 } }
        for (k, r) in indices.enumerated() {
            appendBE(fieldCount, &out)
            for (c, col) in batch.columns.enumerated() {
                if col.isNull(r) { appendBE(Int32(-1), &out); continue }
                switch col.values {
                case let .bool(a): appendBE(Int32(1), &out); out.append(a[r] ? 1 : 0)
                case let .int32(a): appendBE(Int32(4), &out); appendBE(a[r], &out)
                case let .int64(a): appendBE(Int32(8), &out); appendBE(a[r], &out)
                case let .float64(a): appendBE(Int32(8), &out); appendBE(a[r].bitPattern, &out)
                case let .date(a): appendBE(Int32(4), &out); appendBE(a[r] &- epochDays, &out)
                case let .timestamp(a): appendBE(Int32(8), &out); appendBE(a[r] &- epochMicros, &out)
                case let .string(s):
                    let range = s.range(r)
                    appendBE(Int32(range.count), &out)
                    out.append(contentsOf: s.bytes[range])
                case let .decimal(a): appendNumeric(a[r], scale: scales[c], &out)
                }
            }
            if let extra = extraInt64 { appendBE(Int32(8), &out); appendBE(extra[k], &out) }
        }
        if framed { out += trailer }
        return out
    }

    @inline(__always)
    static func appendBE<T: FixedWidthInteger>(_ v: T, _ out: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
    }

    /// `numeric` in binary: ndigits, weight, sign, dscale, then base-10000 digits.
    static func appendNumeric(_ unscaled: Int128, scale: Int, _ out: inout [UInt8]) {
        var digits: [Int16] = []
        var magnitude = unscaled.magnitude
        // Align so that the decimal point falls on a base-10000 boundary.
        let pad = (4 - scale % 4) % 4
        for _ in 0..<pad { magnitude *= 10 }
        let fracGroups = (scale + pad) / 4
        while magnitude > 0 {
            digits.append(Int16(magnitude % 10000))
            magnitude /= 10000
        }
        // digits are least significant first; weight of the most significant group:
        var weight = digits.count - 1 - fracGroups
        digits.reverse()
        while let first = digits.first, first == 0 { digits.removeFirst(); weight -= 1 }
        while let last = digits.last, last == 0 { digits.removeLast() }
        if digits.isEmpty { weight = 0 }
        appendBE(Int32(8 + 2 * digits.count), &out)
        appendBE(Int16(digits.count), &out)
        appendBE(Int16(weight), &out)
        appendBE(UInt16(unscaled < 0 && !digits.isEmpty ? 0x4000 : 0x0000), &out)
        appendBE(Int16(scale), &out)
        for d in digits { appendBE(d, &out) }
    }

    /// The SQL type a schema type is stored as.
    static func sqlType(_ t: DataType) -> String {
        switch t {
        case .bool: "boolean"
        case .int32: "integer"
        case .int64: "bigint"
        case .float64: "double precision"
        case let .decimal(p, s): "numeric(\(p),\(s))"
        case .string: "text"
        case .date: "date"
        case .timestamp: "timestamp with time zone"
        }
    }
}
