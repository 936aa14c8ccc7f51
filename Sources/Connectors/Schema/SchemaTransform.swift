import ConnectorKit
import Foundation

/// The `schema` transform: one pass per column from text to typed values.
public struct SchemaTransform: TextTransform {
    struct PreparedColumn: Sendable {
        var name: String
        /// The input columns: one, or several joined with a space.
        var inputs: [String]
        var spec: SchemaConfiguration.ColumnSpec
        var format: TimeFormat?
        var zone: TimeZone
    }

    let configuration: SchemaConfiguration
    /// The `host` derived column's value (a pipeline with `hosts`).
    let host: String?
    let prepared: [PreparedColumn]
    let numbers: NumberParsing
    let nullTokens: NullTokens
    let filters: [FilterCondition]
    let outputSchemaPrefix: Schema

    public init(_ c: SchemaConfiguration, host: String? = nil) throws {
        self.host = host
        if host == nil, let d = c.derive.first(where: { $0.spec == .host }) {
            throw ConnectorError(.configuration, "derive.\(d.name) = \"host\" needs hosts (or hosts_file) in [source]")
        }
        configuration = c
        let defaultZone = TimeZone(identifier: c.timezone) ?? TimeZone(identifier: "UTC")!
        prepared = try c.columns.map { name, spec in
            PreparedColumn(name: name, inputs: spec.from ?? [name], spec: spec,
                           format: try spec.format.map { f in try TimeFormat(f) } ?? (spec.type == .date ? try TimeFormat("yyyy-MM-dd") : try TimeFormat("iso8601")),
                           zone: spec.timezone.flatMap { TimeZone(identifier: $0) } ?? defaultZone)
        }
        numbers = NumberParsing(decimalSeparator: c.decimalSeparator.utf8.first ?? UInt8(ascii: "."), thousandsSeparator: c.thousandsSeparator?.utf8.first)
        nullTokens = NullTokens(c.nullValues)
        filters = try c.filter.map { f in try FilterCondition(parsing: f) }
        outputSchemaPrefix = Schema(c.columns.map { Field($0.name, $0.spec.type, nullable: $0.spec.nullable) }
            + c.derive.map { Field($0.name, SchemaTransform.derivedType($0.spec), nullable: true) })
    }

    static func derivedType(_ d: SchemaConfiguration.DeriveSpec) -> DataType {
        switch d {
        case .file, .fileName, .pathCapture, .host: .string
        case .line: .int64
        case .ingestTime: .timestamp
        }
    }

    public func process(_ batch: RecordBatch, context: TransformContext, deadLetters: inout DeadLetterCollector) throws -> RecordBatch {
        let n = batch.count
        var failure = RowFailures()
        var columns: [Column] = []
        columns.reserveCapacity(outputSchemaPrefix.count)
        for col in prepared {
            let indices = col.inputs.compactMap { batch.schema.index(of: $0) }
            guard indices.count == col.inputs.count else {
                return missingColumn(col, inputNames: batch.schema.names, origins: batch.origins, deadLetters: &deadLetters)
            }
            if indices.count > 1 {
                let joined = Self.join(n, { r, k in
                    guard case let .string(s) = batch.columns[indices[k]].values else { return Array(batch.value(row: r, column: indices[k]).description.utf8) }
                    return batch.columns[indices[k]].isNull(r) ? [] : Array(s.bytes[s.range(r)])
                }, parts: indices.count)
                columns.append(joined.bytes.withUnsafeBufferPointer { all in
                    cast(StringColumnReader(all: all, offsets: joined.offsets, validity: nil), rows: n, column: col, failure: &failure)
                })
                continue
            }
            let idx = indices[0]
            let source = batch.columns[idx]
            guard case let .string(text) = source.values else {
                // Already typed (e.g. from a record source): keep it when the type matches.
                guard batch.schema.fields[idx].type == col.spec.type else {
                    throw ConnectorError(.configuration, "schema: column '\(col.inputs[0])' arrives as \(batch.schema.fields[idx].type), declared \(col.spec.type)")
                }
                columns.append(source)
                continue
            }
            columns.append(text.bytes.withUnsafeBufferPointer { all in
                cast(StringColumnReader(all: all, offsets: text.offsets, validity: source.validity), rows: n, column: col, failure: &failure)
            })
        }
        var others: [(Field, Column)] = []
        if configuration.keepOtherColumns {
            for (i, f) in batch.schema.fields.enumerated() where keepsOther(f.name) { others.append((f, batch.columns[i])) }
        }
        return try finish(columns: columns, others: others, origins: batch.origins, rows: n, failure: failure, context: context, deadLetters: &deadLetters)
    }

    /// The same as `process(text.recordBatch())`, reading the fields where the decoder left them.
    public func process(text: TextBatch, context: TransformContext, deadLetters: inout DeadLetterCollector) throws -> RecordBatch {
        let n = text.count
        var failure = RowFailures()
        var columns: [Column] = []
        columns.reserveCapacity(outputSchemaPrefix.count)
        for col in prepared {
            let indices = col.inputs.compactMap { text.names.firstIndex(of: $0) }
            guard indices.count == col.inputs.count else {
                return missingColumn(col, inputNames: text.names, origins: text.origins, deadLetters: &deadLetters)
            }
            if indices.count > 1 {
                let joined = text.withFields { fields in
                    Self.join(n, { r, k in Array(fields.field(r, indices[k])) }, parts: indices.count)
                }
                columns.append(joined.bytes.withUnsafeBufferPointer { all in
                    cast(StringColumnReader(all: all, offsets: joined.offsets, validity: nil), rows: n, column: col, failure: &failure)
                })
                continue
            }
            let idx = indices[0]
            columns.append(text.withFields { fields in
                cast(TextFieldReader(fields: fields, column: idx), rows: n, column: col, failure: &failure)
            })
        }
        var others: [(Field, Column)] = []
        if configuration.keepOtherColumns {
            for (i, name) in text.names.enumerated() where keepsOther(name) {
                others.append((Field(name, .string), Column(.string(text.stringColumn(i)))))
            }
        }
        return try finish(columns: columns, others: others, origins: text.origins, rows: n, failure: failure, context: context, deadLetters: &deadLetters)
    }

    private func missingColumn(_ col: PreparedColumn, inputNames: [String], origins: RecordOrigins, deadLetters: inout DeadLetterCollector) -> RecordBatch {
        let missing = col.inputs.first { !inputNames.contains($0) } ?? col.inputs[0]
        let reason = "column '\(missing)' declared in the schema is not in the input (input columns: \(inputNames.joined(separator: ", ")))"
        for r in 0..<origins.lines.count { deadLetters.reject(origins, row: r, reason: reason) }
        return RecordBatch(schema: outputSchemaPrefix, columns: outputSchemaPrefix.fields.map { _ in Column(.string(StringColumn())) },
                           origins: RecordOrigins(file: origins.file))
    }

    private func keepsOther(_ name: String) -> Bool {
        !prepared.contains { $0.inputs.contains(name) } && !configuration.drop.contains(name) && outputSchemaPrefix.index(of: name) == nil
    }

    /// Several input columns as one, the parts joined with a space (`from = ["Data", "Hora"]`).
    static func join(_ rows: Int, _ part: (Int, Int) -> [UInt8], parts: Int) -> StringColumn {
        var out = StringColumn(reservingRows: rows, bytes: rows * 20)
        var line: [UInt8] = []
        for r in 0..<rows {
            line.removeAll(keepingCapacity: true)
            for k in 0..<parts {
                if k > 0 { line.append(0x20) }
                line.append(contentsOf: part(r, k))
            }
            line.withUnsafeBytes { out.append($0) }
        }
        return out
    }

    /// Derived and kept columns, rejections and filters: the part common to both inputs.
    private func finish(columns cast: [Column], others: [(Field, Column)], origins: RecordOrigins, rows n: Int, failure: RowFailures,
                        context: TransformContext, deadLetters: inout DeadLetterCollector) throws -> RecordBatch {
        var columns = cast
        var fields = outputSchemaPrefix.fields
        for (_, spec) in configuration.derive {
            switch spec {
            case .file:
                columns.append(Column(.string(StringColumn(repeatElement(origins.file, count: n)))))
            case .fileName:
                let name = origins.file.split(separator: "/").last.map(String.init) ?? origins.file
                columns.append(Column(.string(StringColumn(repeatElement(name, count: n)))))
            case .line:
                columns.append(Column(.int64(origins.lines)))
            case .host:
                columns.append(Column(.string(StringColumn(repeatElement(host ?? "", count: n)))))
            case .ingestTime:
                columns.append(Column(.timestamp([Int64](repeating: Int64(context.runStarted * 1_000_000), count: n))))
            case let .pathCapture(pattern, capture):
                if let v = pattern.match(origins.file)?[capture] {
                    columns.append(Column(.string(StringColumn(repeatElement(v, count: n)))))
                } else {
                    columns.append(Column(.string(StringColumn(repeatElement("", count: n))), validity: [Bool](repeating: false, count: n)))
                }
            }
        }
        for (f, c) in others {
            fields.append(f)
            columns.append(c)
        }
        var result = RecordBatch(schema: Schema(fields), columns: columns, origins: origins)
        if failure.isEmpty && filters.isEmpty { return result }
        var keep = [Bool](repeating: true, count: n)
        for (r, reason) in failure.inRowOrder {
            keep[r] = false
            deadLetters.reject(origins, row: r, reason: reason)
        }
        for f in filters {
            let pass: [Bool]
            do { pass = try f.evaluate(result) } catch {
                throw ConnectorError(.configuration, "schema filter: \(error.message)")
            }
            for r in 0..<n where !pass[r] { keep[r] = false }
        }
        result = result.filter(keep)
        return result
    }

    @inline(__always)
    private func isNullToken(_ b: UnsafeBufferPointer<UInt8>) -> Bool { nullTokens.matches(b) }

    @inline(__always)
    private static func trimmed(_ b: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var s = 0, e = b.count
        while s < e && (b[s] == 0x20 || b[s] == 0x09) { s += 1 }
        while e > s && (b[e - 1] == 0x20 || b[e - 1] == 0x09) { e -= 1 }
        return s == 0 && e == b.count ? b : UnsafeBufferPointer(rebasing: b[s..<e])
    }

    /// Casts one text column; failed rows get a reason in `failure` (first failure wins).
    private func cast<Reader: TextFieldReading>(_ reader: Reader, rows n: Int, column col: PreparedColumn, failure: inout RowFailures) -> Column {
        // NULLs are marked through a pointer, with the last slot saying whether any was: a
        // lazily made array captured by the loops' functions was boxed, and each write paid a
        // dynamic exclusivity check.
        let nulls = UnsafeMutableBufferPointer<Bool>.allocate(capacity: n + 1)
        nulls.initialize(repeating: true)
        defer { nulls.deallocate() }
        func markNull(_ r: Int) {
            nulls[r] = false
            nulls[n] = false
        }
        var validity: [Bool]? { nulls[n] ? nil : Array(nulls[0..<n]) }
        func fail(_ r: Int, _ b: UnsafeBufferPointer<UInt8>, _ what: String) {
            if !failure.has(r) {
                let shown = String(decoding: b.prefix(60), as: UTF8.self)
                failure.set(r, "column '\(col.name)': cannot read '\(shown)' as \(what)")
            }
        }
        let type = col.spec.type
        let isString = type == .string
        do {
            @inline(__always) func field(_ r: Int) -> UnsafeBufferPointer<UInt8>? {
                guard let raw = reader.field(r) else { return nil }
                let b = isString ? raw : SchemaTransform.trimmed(raw)
                return isNullToken(b) ? nil : b
            }
            @inline(__always) func null(_ r: Int) {
                markNull(r)
                if !col.spec.nullable && !failure.has(r) { failure.set(r, "column '\(col.name)' is required but empty") }
            }
            switch type {
            case .string:
                // The bytes copied once into a buffer of the column's size, the offsets written
                // beside them (no append's capacity and uniqueness checks per value).
                let capacity = reader.totalBytes
                var offsets = [Int32](repeating: 0, count: n + 1)
                let bytes = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, written in
                    written = 0
                    offsets.withUnsafeMutableBufferPointer { offsets in
                        for r in 0..<n {
                            if let b = field(r) {
                                if b.count > 0 { ShortCopy.copy(buffer.baseAddress! + written, b.baseAddress!, b.count) }
                                written += b.count
                            } else {
                                null(r)
                            }
                            offsets[r + 1] = Int32(truncatingIfNeeded: written)
                        }
                    }
                }
                var out = StringColumn()
                out.bytes = bytes
                out.offsets = offsets
                return Column(.string(out), validity: validity)
            // The loops write through the arrays' buffers: a subscript write would check the
            // array's uniqueness for every value (the closures above keep the compiler from
            // hoisting that check).
            case .int64:
                var out = [Int64](repeating: 0, count: n)
                out.withUnsafeMutableBufferPointer { out in
                    for r in 0..<n {
                        guard let b = field(r) else { null(r); continue }
                        if let v = numbers.parseInt(b) { out[r] = v } else { fail(r, b, "int64") }
                    }
                }
                return Column(.int64(out), validity: validity)
            case .int32:
                var out = [Int32](repeating: 0, count: n)
                out.withUnsafeMutableBufferPointer { out in
                    for r in 0..<n {
                        guard let b = field(r) else { null(r); continue }
                        if let v = numbers.parseInt(b), let narrow = Int32(exactly: v) { out[r] = narrow } else { fail(r, b, "int32") }
                    }
                }
                return Column(.int32(out), validity: validity)
            case .float64:
                var out = [Double](repeating: 0, count: n)
                out.withUnsafeMutableBufferPointer { out in
                    for r in 0..<n {
                        guard let b = field(r) else { null(r); continue }
                        if let v = numbers.parseDouble(b) { out[r] = v } else { fail(r, b, "float64") }
                    }
                }
                return Column(.float64(out), validity: validity)
            case let .decimal(p, s):
                var out = [Int128](repeating: 0, count: n)
                out.withUnsafeMutableBufferPointer { out in
                    for r in 0..<n {
                        guard let b = field(r) else { null(r); continue }
                        switch numbers.parseDecimal(b, precision: p, scale: s) {
                        case let .success(v): out[r] = v
                        case .failure(.precision): fail(r, b, "\(type) (too many digits)")
                        case .failure(.syntax): fail(r, b, type.description)
                        }
                    }
                }
                return Column(.decimal(out), validity: validity)
            case .bool:
                var out = [Bool](repeating: false, count: n)
                for r in 0..<n {
                    guard let b = field(r) else { null(r); continue }
                    if let v = numbers.parseBool(b) { out[r] = v } else { fail(r, b, "bool") }
                }
                return Column(.bool(out), validity: validity)
            case .date:
                var out = [Int32](repeating: 0, count: n)
                let format = col.format!
                var hours = TimeFormat.HourCache()
                for r in 0..<n {
                    guard let b = field(r) else { null(r); continue }
                    if let p = format.parse(b, cache: &hours) { out[r] = Int32(CivilDate.day(ofMicros: p.micros)) }
                    else { fail(r, b, "date (\(format.description))") }
                }
                return Column(.date(out), validity: validity)
            case .timestamp:
                var out = [Int64](repeating: 0, count: n)
                let format = col.format!
                var zone = ZoneConverter(zone: col.zone)
                var hours = TimeFormat.HourCache()
                out.withUnsafeMutableBufferPointer { out in
                    for r in 0..<n {
                        guard let b = field(r) else { null(r); continue }
                        guard let p = format.parse(b, cache: &hours) else { fail(r, b, "timestamp (\(format.description))"); continue }
                        if let off = p.offsetSeconds { out[r] = p.micros - Int64(off) * 1_000_000 } else { out[r] = zone.toUTC(localMicros: p.micros) }
                    }
                }
                return Column(.timestamp(out), validity: validity)
            }
        }
    }
}

/// Why rows failed their casts (the first reason per row). Sparse: failures are rare, and an
/// optional string per row cost every batch an array to fill and to destroy value by value.
struct RowFailures {
    private var reasons: [Int: String] = [:]

    var isEmpty: Bool { reasons.isEmpty }

    func has(_ row: Int) -> Bool { reasons[row] != nil }

    mutating func set(_ row: Int, _ reason: String) { reasons[row] = reason }

    var inRowOrder: [(row: Int, reason: String)] { reasons.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
}

/// Where a cast reads its text: a string column, or a decoder's fields in place.
protocol TextFieldReading {
    /// Row `r`'s bytes, or nil when the input already marks it NULL.
    func field(_ r: Int) -> UnsafeBufferPointer<UInt8>?
    var totalBytes: Int { get }
}

struct StringColumnReader: TextFieldReading {
    let all: UnsafeBufferPointer<UInt8>
    let offsets: [Int32]
    let validity: [Bool]?

    @inline(__always)
    func field(_ r: Int) -> UnsafeBufferPointer<UInt8>? {
        if let v = validity, !v[r] { return nil }
        return UnsafeBufferPointer(rebasing: all[Int(offsets[r])..<Int(offsets[r + 1])])
    }

    var totalBytes: Int { all.count }
}

struct TextFieldReader: TextFieldReading {
    let fields: TextFields
    let column: Int

    @inline(__always)
    func field(_ r: Int) -> UnsafeBufferPointer<UInt8>? { fields.field(r, column) }

    var totalBytes: Int { fields.totalLength(column) }
}

/// The `null_values` of a schema, checked without touching the list for most fields: a field
/// longer or shorter than every token is no token.
struct NullTokens: Sendable {
    let matchesEmpty: Bool
    let tokens: [[UInt8]]
    let minLength: Int
    let maxLength: Int

    init(_ values: [String]) {
        matchesEmpty = values.contains("")
        tokens = values.filter { !$0.isEmpty }.map { Array($0.utf8) }
        minLength = tokens.map(\.count).min() ?? 1
        maxLength = tokens.map(\.count).max() ?? 0
    }

    @inline(__always)
    func matches(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        if b.isEmpty { return matchesEmpty }
        if b.count < minLength || b.count > maxLength { return false }
        for t in tokens where t.count == b.count {
            if t.withUnsafeBufferPointer({ memcmp($0.baseAddress!, b.baseAddress!, b.count) == 0 }) { return true }
        }
        return false
    }
}
