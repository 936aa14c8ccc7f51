/// Records as JSON lines: one object per row, keys in schema order; dates `yyyy-MM-dd`,
/// timestamps ISO 8601 UTC with microseconds, decimals as exact numbers.
public enum JSONLines {
    /// Appends one JSON object per row, keys in schema order.
    public static func append(_ batch: RecordBatch, to out: inout [UInt8]) {
        append(batch, rows: 0..<batch.count, to: &out)
    }

    /// Appends rows `rows` of `batch`.
    public static func append(_ batch: RecordBatch, rows: Range<Int>, to out: inout [UInt8]) {
        let keys: [[UInt8]] = batch.schema.fields.map { f in
            var k: [UInt8] = []
            JSONWriter.appendKey(f.name, to: &k)
            return k
        }
        let scales: [Int] = batch.schema.fields.map { if case let .decimal(_, s) = $0.type { s } else { 0 } }
        for r in rows {
            out.append(UInt8(ascii: "{"))
            for (c, col) in batch.columns.enumerated() {
                if c > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: keys[c])
                if col.isNull(r) { out.append(contentsOf: [110, 117, 108, 108]); continue } // null
                switch col.values {
                case let .bool(a): out.append(contentsOf: a[r] ? Array("true".utf8) : Array("false".utf8))
                case let .int32(a): JSONWriter.appendInt(Int64(a[r]), to: &out)
                case let .int64(a): JSONWriter.appendInt(a[r], to: &out)
                case let .float64(a): JSONWriter.appendDouble(a[r], to: &out)
                case let .decimal(a): out.append(contentsOf: Array(DecimalText.format(a[r], scale: scales[c]).utf8))
                case let .string(s): s.withBytes(r) { JSONWriter.appendString($0, to: &out) }
                case let .date(a):
                    out.append(UInt8(ascii: "\""))
                    CivilDate.appendDate(days: a[r], to: &out)
                    out.append(UInt8(ascii: "\""))
                case let .timestamp(a):
                    out.append(UInt8(ascii: "\""))
                    CivilDate.appendTimestamp(micros: a[r], to: &out)
                    out.append(UInt8(ascii: "\""))
                }
            }
            out.append(contentsOf: [UInt8(ascii: "}"), 0x0A])
        }
    }
}
