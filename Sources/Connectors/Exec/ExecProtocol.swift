import ConnectorKit
import Foundation

/// The exec plugins' protocol: one JSON object per line, `type` saying what it is. README.md in
/// this folder is its reference; this file is its only implementation on Sluice's side.
enum ExecProtocol {
    static let version = 1

    /// What a plugin sends. Unknown keys are ignored (a newer plugin may say more).
    struct Message: Decodable {
        var type: String
        var protocolVersion: Int?
        /// hello of a source: the columns of its records.
        var schema: [FieldSpec]?
        /// record: one record, by column name.
        var data: [String: JSONValue]?
        /// checkpoint: the cursor that covers every record sent before it.
        var cursor: String?
        /// hello of a sink: the checkpoint it committed last (text Sluice gave it), or null.
        var checkpoint: String?
        /// flushed: records the target refused since the last commit.
        var rejected: [Rejection]?
        /// error: what went wrong, and whether trying again may help.
        var message: String?
        var retry: Bool?

        enum CodingKeys: String, CodingKey {
            case type, schema, data, cursor, checkpoint, rejected, message, retry
            case protocolVersion = "protocol"
        }
    }

    struct FieldSpec: Codable, Equatable {
        var name: String
        var type: String
        var nullable: Bool?
    }

    struct Rejection: Decodable {
        /// 0-based, among the records sent since the last commit.
        var index: Int
        var reason: String
    }

    /// A JSON scalar as written. Numbers keep their text, so decimals stay exact.
    enum JSONValue: Decodable, Equatable {
        case null
        case bool(Bool)
        case number(String)
        case string(String)
        case nested

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null; return }
            if let b = try? c.decode(Bool.self) { self = .bool(b); return }
            if let i = try? c.decode(Int64.self) { self = .number(String(i)); return }
            if let s = try? c.decode(String.self) { self = .string(s); return }
            if let d = try? c.decode(Decimal.self) { self = .number(d.description); return }
            if let d = try? c.decode(Double.self) { self = .number(String(d)); return }
            self = .nested
        }
    }

    static func decode(_ line: [UInt8]) throws -> Message {
        try JSONDecoder().decode(Message.self, from: Data(line))
    }

    /// A message Sluice sends, as one line.
    static func line(_ object: [String: Any]) -> [UInt8] {
        // Keys sorted: the same message is always the same bytes (tests and logs compare them).
        (try? [UInt8](JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))) ?? []
    }

    /// The schema a source's hello declares.
    static func schema(_ specs: [FieldSpec]) throws(ExecSchemaError) -> Schema {
        var seen: Set<String> = []
        var fields: [Field] = []
        for spec in specs {
            guard !spec.name.isEmpty, seen.insert(spec.name).inserted else { throw ExecSchemaError(message: "column '\(spec.name)' is empty or given twice") }
            guard let type = DataType(parsing: spec.type) else {
                throw ExecSchemaError(message: "column '\(spec.name)' has type '\(spec.type)'; known: \(DataType.spelledNames.joined(separator: ", "))")
            }
            fields.append(Field(spec.name, type, nullable: spec.nullable ?? true))
        }
        guard !fields.isEmpty else { throw ExecSchemaError(message: "the schema has no column") }
        return Schema(fields)
    }

    static func specs(_ schema: Schema) -> [[String: Any]] {
        schema.fields.map { ["name": $0.name, "type": $0.type.description, "nullable": $0.nullable] }
    }
}

struct ExecSchemaError: Error { var message: String }

/// Records of a declared schema, built column by column from JSON values; a record whose value
/// does not fit its column is refused with the reason.
struct RecordAssembler {
    let schema: Schema
    private var columns: [[Value]]
    private(set) var lines: [Int64] = []
    private(set) var raw: [[UInt8]] = []

    init(schema: Schema) {
        self.schema = schema
        columns = Array(repeating: [], count: schema.count)
    }

    var count: Int { lines.count }

    /// Adds a record, or returns why it cannot be one (nothing is added then).
    mutating func append(_ data: [String: ExecProtocol.JSONValue], line: Int64, raw bytes: [UInt8]) -> String? {
        if let unknown = data.keys.first(where: { schema.index(of: $0) == nil }) {
            return "column '\(unknown)' is not in the schema the plugin declared"
        }
        var row: [Value] = []
        row.reserveCapacity(schema.count)
        for field in schema.fields {
            let json = data[field.name] ?? .null
            switch Self.value(json, as: field.type) {
            case let .success(v):
                if v == .null && !field.nullable { return "column '\(field.name)' is null but declared not nullable" }
                row.append(v)
            case let .failure(reason):
                return "column '\(field.name)': \(reason.message)"
            }
        }
        for (i, v) in row.enumerated() { columns[i].append(v) }
        lines.append(line)
        raw.append(bytes)
        return nil
    }

    struct Reason: Error { var message: String }

    static func value(_ json: ExecProtocol.JSONValue, as type: DataType) -> Result<Value, Reason> {
        switch (json, type) {
        case (.null, _): return .success(.null)
        case let (.bool(b), .bool): return .success(.bool(b))
        case let (.number(t), .int32):
            guard let v = Int32(t) else { return .failure(Reason(message: "\(t) is not a 32-bit integer")) }
            return .success(.int(Int64(v)))
        case let (.number(t), .int64):
            guard let v = Int64(t) else { return .failure(Reason(message: "\(t) is not a 64-bit integer")) }
            return .success(.int(v))
        case let (.number(t), .float64):
            guard let v = Double(t) else { return .failure(Reason(message: "\(t) is not a number")) }
            return .success(.double(v))
        case let (.number(t), .decimal(p, s)), let (.string(t), .decimal(p, s)):
            guard let v = ExactDecimal.parse(t, precision: p, scale: s) else { return .failure(Reason(message: "\(t) does not fit decimal(\(p),\(s))")) }
            return .success(.decimal(v, scale: s))
        case let (.string(t), .string): return .success(.string(t))
        case let (.string(t), .date):
            guard let d = ISOTime.date(t) else { return .failure(Reason(message: "\"\(t)\" is not a date (YYYY-MM-DD)")) }
            return .success(.date(d))
        case let (.string(t), .timestamp):
            guard let m = ISOTime.timestamp(t) else { return .failure(Reason(message: "\"\(t)\" is not a timestamp (YYYY-MM-DDTHH:MM:SS[.ffffff][Z|±HH:MM])")) }
            return .success(.timestamp(m))
        case (.nested, _): return .failure(Reason(message: "an array or object, not \(type)"))
        default: return .failure(Reason(message: "\(Self.describe(json)), not \(type)"))
        }
    }

    static func describe(_ json: ExecProtocol.JSONValue) -> String {
        switch json {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .nested: "an array or object"
        }
    }

    /// The batch of the records added so far, and a fresh start.
    mutating func take(stream: String) -> RecordBatch {
        let built = schema.fields.enumerated().map { i, f in Self.column(columns[i], type: f.type) }
        let batch = RecordBatch(schema: schema, columns: built,
                                origins: RecordOrigins(file: stream, lines: lines, byteOffsets: lines.map { _ in 0 },
                                                       raw: RawRecords(StringColumn(raw.map { String(decoding: $0, as: UTF8.self) }))))
        columns = Array(repeating: [], count: schema.count)
        lines = []
        raw = []
        return batch
    }

    static func column(_ values: [Value], type: DataType) -> Column {
        let validity = values.contains(.null) ? values.map { $0 != .null } : nil
        let storage: ColumnValues = switch type {
        case .bool: .bool(values.map { if case let .bool(b) = $0 { b } else { false } })
        case .int32: .int32(values.map { if case let .int(i) = $0 { Int32(truncatingIfNeeded: i) } else { 0 } })
        case .int64: .int64(values.map { if case let .int(i) = $0 { i } else { 0 } })
        case .float64: .float64(values.map { if case let .double(d) = $0 { d } else { 0 } })
        case .decimal: .decimal(values.map { if case let .decimal(v, _) = $0 { v } else { 0 } })
        case .string: .string(StringColumn(values.map { if case let .string(s) = $0 { s } else { "" } }))
        case .date: .date(values.map { if case let .date(d) = $0 { d } else { 0 } })
        case .timestamp: .timestamp(values.map { if case let .timestamp(t) = $0 { t } else { 0 } })
        }
        return Column(storage, validity: validity)
    }
}

/// Decimal text (`-12.345`, `1e3` is refused) to an unscaled integer, exactly.
enum ExactDecimal {
    static func parse(_ text: String, precision: Int, scale: Int) -> Int128? {
        var t = Substring(text.trimmingCharacters(in: .whitespaces))
        var negative = false
        if t.first == "-" || t.first == "+" { negative = t.first == "-"; t = t.dropFirst() }
        let parts = t.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !t.isEmpty else { return nil }
        let whole = parts[0], fraction = parts.count == 2 ? parts[1] : ""
        guard !(whole.isEmpty && fraction.isEmpty), whole.allSatisfy(\.isASCII), (whole + fraction).allSatisfy({ $0.isNumber && $0.isASCII }) else { return nil }
        // Extra fraction digits are accepted only when they are zeros: nothing is rounded away.
        guard fraction.dropFirst(scale).allSatisfy({ $0 == "0" }) else { return nil }
        let kept = String(fraction.prefix(scale)).padding(toLength: scale, withPad: "0", startingAt: 0)
        let digits = String(whole.drop { $0 == "0" }) + kept
        guard digits.count <= 38, let magnitude = Int128(digits.isEmpty ? "0" : digits) else { return nil }
        guard String(whole.drop { $0 == "0" }).count <= precision - scale else { return nil }
        return negative ? -magnitude : magnitude
    }
}

/// ISO 8601 dates and timestamps as the protocol writes them.
enum ISOTime {
    /// `YYYY-MM-DD` → days since 1970-01-01.
    static func date(_ text: String) -> Int32? {
        let b = Array(text.utf8)
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              let y = number(b, 0, 4), let m = number(b, 5, 2), let d = number(b, 8, 2),
              (1...12).contains(m), (1...CivilDate.daysInMonth(year: y, month: m)).contains(d) else { return nil }
        return Int32(CivilDate.days(year: y, month: m, day: d))
    }

    /// `YYYY-MM-DDTHH:MM:SS[.f…][Z|±HH:MM]` (a space for `T` too; no zone means UTC) → µs since the epoch.
    static func timestamp(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count >= 19, let days = date(String(decoding: b[0..<10], as: UTF8.self)),
              b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "), b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
              let h = number(b, 11, 2), let mi = number(b, 14, 2), let s = number(b, 17, 2), h < 24, mi < 60, s < 60 else { return nil }
        var i = 19
        var micros: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < b.count, (48...57).contains(b[i]) {
                if digits < 6 { micros = micros * 10 + Int64(b[i] - 48) } else if b[i] != 48 { return nil }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 6) { micros *= 10 }
        }
        var offset = 0
        if i < b.count {
            if b[i] == UInt8(ascii: "Z") && i + 1 == b.count {
                i += 1
            } else if (b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-")) && b.count == i + 6 && b[i + 3] == UInt8(ascii: ":"),
                      let oh = number(b, i + 1, 2), let om = number(b, i + 4, 2), oh < 24, om < 60 {
                offset = (oh * 60 + om) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
                i += 6
            } else {
                return nil
            }
        }
        let seconds = Int64(days) * 86_400 + Int64(h * 3600 + mi * 60 + s) - Int64(offset * 60)
        return seconds * 1_000_000 + micros
    }

    private static func number(_ b: [UInt8], _ at: Int, _ length: Int) -> Int? {
        var v = 0
        for i in at..<(at + length) {
            guard (48...57).contains(b[i]) else { return nil }
            v = v * 10 + Int(b[i] - 48)
        }
        return v
    }
}
