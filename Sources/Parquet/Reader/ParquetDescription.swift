import ConnectorKit

/// `sluice parquet inspect`: a file's schema, row groups, column chunks with their encodings,
/// sizes and statistics, and its key-value metadata, as text for a person.
extension ParquetFileReader {
    public func describe(name: String, size: Int64) -> String {
        var lines: [String] = []
        lines.append("file:       \(name) (\(size) bytes)")
        lines.append("created_by: \(metadata.createdBy ?? "(none)")")
        lines.append("rows:       \(metadata.numRows) in \(metadata.rowGroups.count) row group\(metadata.rowGroups.count == 1 ? "" : "s")")
        lines.append("schema:")
        let width = leaves.map(\.name.count).max() ?? 0
        for (leaf, field) in zip(leaves, schema.fields) {
            let name = leaf.name.padding(toLength: width, withPad: " ", startingAt: 0)
            lines.append("  \(name)  \(Self.physicalText(leaf))  \(leaf.repetition == .required ? "required" : "optional")  → \(field.type)")
        }
        if let kv = metadata.keyValueMetadata, !kv.isEmpty {
            lines.append("metadata:")
            for entry in kv { lines.append("  \(entry.key) = \(Self.shorten(entry.value ?? "(null)", 300))") }
        }
        for (g, group) in metadata.rowGroups.enumerated() {
            lines.append("row group \(g): \(group.numRows) rows, \(group.totalCompressedSize.map(String.init) ?? "?") bytes compressed, "
                + "\(group.totalByteSize) uncompressed, at offset \(group.fileOffset.map(String.init) ?? "?")")
            for (c, chunk) in group.columns.enumerated() {
                guard let meta = chunk.metaData else { continue }
                let name = leaves[c].name.padding(toLength: width, withPad: " ", startingAt: 0)
                var text = "  \(name)  \(meta.codec)  \(meta.encodings.map(\.description).joined(separator: ","))  "
                    + "\(meta.totalCompressedSize) B"
                if let s = meta.statistics {
                    if let n = s.nullCount { text += "  nulls \(n)" }
                    if let lo = s.minValue, let hi = s.maxValue {
                        text += "  min \(statisticText(lo, c))  max \(statisticText(hi, c))"
                    }
                    if let nan = s.nanCount, nan > 0 { text += "  NaN \(nan)" }
                }
                lines.append(text)
            }
        }
        return lines.joined(separator: "\n")
    }

    static func physicalText(_ e: SchemaElement) -> String {
        var text = e.type.map { "\($0)" } ?? "group"
        if e.type == .fixedLenByteArray, let w = e.typeLength { text += "(\(w))" }
        switch e.logicalType {
        case .string?: text += " STRING"
        case .date?: text += " DATE"
        case let .decimal(scale, precision)?: text += " DECIMAL(\(precision),\(scale))"
        case let .timestamp(utc, unit)?: text += " TIMESTAMP(\(unit == .micros ? "MICROS" : unit == .millis ? "MILLIS" : "NANOS"), \(utc ? "UTC" : "local"))"
        case let .integer(bits, signed)?: text += " INT(\(bits), \(signed ? "signed" : "unsigned"))"
        case .json?: text += " JSON"
        case .enumeration?: text += " ENUM"
        case let .other(id)?: text += " logical type \(id)"
        case nil: break
        }
        return text
    }

    /// A statistic (PLAIN bytes, no length prefix) as the column's value.
    func statisticText(_ bytes: [UInt8], _ column: Int) -> String {
        let leaf = leaves[column], field = schema.fields[column]
        func int64() -> Int64? { bytes.count == 8 ? bytes.withUnsafeBytes { Plain.read(Int64.self, $0, at: 0) } : nil }
        func int32() -> Int32? { bytes.count == 4 ? bytes.withUnsafeBytes { Plain.read(Int32.self, $0, at: 0) } : nil }
        switch (field.type, leaf.type) {
        case (.bool, _): return bytes.first.map { $0 != 0 ? "true" : "false" } ?? "?"
        case (.int32, _): return int32().map(String.init) ?? "?"
        case (.int64, .int32?): return int32().map { String(UInt32(bitPattern: $0)) } ?? "?"
        case (.int64, _): return int64().map(String.init) ?? "?"
        case (.date, _): return int32().map { CivilDate.format(days: $0) } ?? "?"
        case (.timestamp, _):
            guard let v = int64() else { return "?" }
            switch TypeMapping.timestampUnit(leaf) {
            case .millis?: return CivilDate.formatTimestamp(micros: v &* 1000)
            case .nanos?: return CivilDate.formatTimestamp(micros: v / 1000)
            default: return CivilDate.formatTimestamp(micros: v)
            }
        case (.float64, .float?):
            return bytes.count == 4 ? "\(Float(bitPattern: bytes.withUnsafeBytes { Plain.read(UInt32.self, $0, at: 0) }))" : "?"
        case (.float64, _):
            return bytes.count == 8 ? "\(Double(bitPattern: bytes.withUnsafeBytes { Plain.read(UInt64.self, $0, at: 0) }))" : "?"
        case let (.decimal(_, scale), physical):
            var unscaled: Int128
            switch physical {
            case .int32?: guard let v = int32() else { return "?" }; unscaled = Int128(v)
            case .int64?: guard let v = int64() else { return "?" }; unscaled = Int128(v)
            default:
                guard (1...16).contains(bytes.count) else { return "?" }
                unscaled = Int128(Int8(bitPattern: bytes[0]))
                for b in bytes.dropFirst() { unscaled = unscaled << 8 | Int128(b) }
            }
            return DecimalText.format(unscaled, scale: scale)
        case (.string, _):
            return "\"" + Self.shorten(String(decoding: bytes, as: UTF8.self), 40) + "\""
        }
    }

    static func shorten(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }
}
