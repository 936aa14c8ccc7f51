import ConnectorKit
import Foundation

/// `type = "schema"`: casts decoded text to declared types, renames, derives and filters columns.
public struct SchemaConfiguration: PluginConfiguration {
    public struct ColumnSpec: Decodable, Sendable {
        public var type: DataType
        /// Layout for `date` and `timestamp` (see `TimeFormat`); default `iso8601`.
        public var format: String?
        /// Input column name when it differs from this column's name (a rename); or several
        /// (`from = ["Data", "Hora"]`), joined with a space before the cast (XP logs put the date
        /// and the time in two columns).
        public var from: [String]?
        /// A required column: an empty value sends the record to the dead-letter output.
        public var nullable: Bool = true
        /// Time zone of this column's local times; default the transform's `timezone`.
        public var timezone: String?

        enum CodingKeys: String, CodingKey { case type, format, from, nullable, timezone }

        public init(type: DataType) { self.type = type }

        public init(from decoder: any Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                type = try ColumnSpec.parseType(text, decoder.codingPath)
                return
            }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            type = try ColumnSpec.parseType(try c.decode(String.self, forKey: .type), c.codingPath + [CodingKeys.type])
            format = try c.decodeIfPresent(String.self, forKey: .format)
            if let one = try? c.decodeIfPresent(String.self, forKey: .from) {
                from = [one]
            } else if let several = try c.decodeIfPresent([String].self, forKey: .from) {
                guard !several.isEmpty else {
                    throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.from], debugDescription: "names no input column"))
                }
                from = several
            }
            nullable = try c.decodeIfPresent(Bool.self, forKey: .nullable) ?? true
            timezone = try c.decodeIfPresent(String.self, forKey: .timezone)
        }

        static func parseType(_ text: String, _ path: [any CodingKey]) throws -> DataType {
            guard let t = DataType(parsing: text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: path,
                    debugDescription: "expected a type (\(DataType.spelledNames.joined(separator: ", "))) or a table { type = …, format = … }, found \"\(text)\""))
            }
            return t
        }
    }

    /// A derived column: `"file"`, `"file_name"`, `"line"`, `"ingest_time"`, `"host"` (the host
    /// of a pipeline with `hosts`), or `"path:{name}/*.csv"` (a capture from the file's path).
    public enum DeriveSpec: Sendable, Equatable {
        case file, fileName, line, ingestTime, host
        case pathCapture(PathPattern, capture: String)
    }

    public var columns: [(name: String, spec: ColumnSpec)] = []
    public var timezone: String = "UTC"
    public var decimalSeparator: String = "."
    public var thousandsSeparator: String?
    /// Field values that mean NULL (compared after trimming for non-string columns).
    public var nullValues: [String] = [""]
    public var derive: [(name: String, spec: DeriveSpec)] = []
    /// Conditions every kept record meets: `"status != 'IDLE'"`, `"temp >= 10.5"`, `"ts is not null"`.
    public var filter: [String] = []
    /// Pass input columns that are not declared through unchanged (as strings).
    public var keepOtherColumns: Bool = false
    /// With `keep_other_columns`, input columns to leave out.
    public var drop: [String] = []

    enum CodingKeys: String, CodingKey {
        case columns, timezone, derive, filter, drop
        case decimalSeparator = "decimal_separator"
        case thousandsSeparator = "thousands_separator"
        case nullValues = "null_values"
        case keepOtherColumns = "keep_other_columns"
    }

    struct NameKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if c.contains(.columns) {
            let cols = try c.nestedContainer(keyedBy: NameKey.self, forKey: .columns)
            for key in cols.allKeys { columns.append((key.stringValue, try cols.decode(ColumnSpec.self, forKey: key))) }
        }
        timezone = try c.decodeIfPresent(String.self, forKey: .timezone) ?? timezone
        decimalSeparator = try c.decodeIfPresent(String.self, forKey: .decimalSeparator) ?? decimalSeparator
        thousandsSeparator = try c.decodeIfPresent(String.self, forKey: .thousandsSeparator)
        nullValues = try c.decodeIfPresent([String].self, forKey: .nullValues) ?? nullValues
        if c.contains(.derive) {
            let d = try c.nestedContainer(keyedBy: NameKey.self, forKey: .derive)
            for key in d.allKeys {
                let text = try d.decode(String.self, forKey: key)
                guard let spec = SchemaConfiguration.parseDerive(text, name: key.stringValue) else {
                    throw DecodingError.dataCorrupted(.init(codingPath: d.codingPath + [key],
                        debugDescription: "expected \"file\", \"file_name\", \"line\", \"ingest_time\", \"host\" or \"path:<pattern with {\(key.stringValue)}>\", found \"\(text)\""))
                }
                derive.append((key.stringValue, spec))
            }
        }
        if let one = try? c.decodeIfPresent(String.self, forKey: .filter) { filter = [one] }
        else { filter = try c.decodeIfPresent([String].self, forKey: .filter) ?? [] }
        keepOtherColumns = try c.decodeIfPresent(Bool.self, forKey: .keepOtherColumns) ?? false
        drop = try c.decodeIfPresent([String].self, forKey: .drop) ?? []
    }

    static func parseDerive(_ text: String, name: String) -> DeriveSpec? {
        switch text {
        case "file", "source_file": return .file
        case "file_name": return .fileName
        case "line": return .line
        case "ingest_time", "ingested_at": return .ingestTime
        case "host": return .host
        default:
            guard text.hasPrefix("path:") else { return nil }
            guard let p = PathPattern(String(text.dropFirst(5))), !p.captures.isEmpty else { return nil }
            return .pathCapture(p, capture: p.captures.contains(name) ? name : p.captures[0])
        }
    }

    public func validate() throws {
        if columns.isEmpty && !keepOtherColumns && derive.isEmpty {
            throw ConfigIssue(key: "columns", message: "declares no column; add [transform.columns] or keep_other_columns = true")
        }
        guard TimeZone(identifier: timezone) != nil else {
            throw ConfigIssue(key: "timezone", message: "unknown time zone \"\(timezone)\"; use an IANA name such as \"America/Sao_Paulo\" or \"UTC\"")
        }
        guard decimalSeparator == "." || decimalSeparator == "," else {
            throw ConfigIssue(key: "decimal_separator", message: "expected \".\" or \",\", found \"\(decimalSeparator)\"")
        }
        if let t = thousandsSeparator, t.utf8.count != 1 || t == decimalSeparator {
            throw ConfigIssue(key: "thousands_separator", message: "expected one character different from decimal_separator")
        }
        var seen = Set<String>()
        for (name, spec) in columns {
            if !seen.insert(name).inserted { throw ConfigIssue(key: "columns", name, message: "is declared twice") }
            if let f = spec.format {
                guard spec.type == .date || spec.type == .timestamp else {
                    throw ConfigIssue(key: "columns", name, "format", message: "only applies to date and timestamp columns")
                }
                do { _ = try TimeFormat(f) } catch { throw ConfigIssue(key: "columns", name, "format", message: "\"\(f)\" \(error.message)") }
            }
            if let tz = spec.timezone, TimeZone(identifier: tz) == nil {
                throw ConfigIssue(key: "columns", name, "timezone", message: "unknown time zone \"\(tz)\"")
            }
        }
        for (name, _) in derive where !seen.insert(name).inserted {
            throw ConfigIssue(key: "derive", name, message: "is also a declared column")
        }
        for (i, f) in filter.enumerated() {
            do { _ = try FilterCondition(parsing: f) } catch {
                throw ConfigIssue(key: "filter", message: "condition \(i + 1) \"\(f)\": \(error.message)")
            }
        }
    }

    public static let sample = """
        type = "schema"
        timezone = "America/Sao_Paulo"
        decimal_separator = ","
        null_values = ["", "NULL", "---"]
        filter = "status != 'OFF'"
        [transform.columns]
        ts = { type = "timestamp", format = "dd/MM/yyyy HH:mm:ss[.SSS]", from = ["Data", "Hora"] }
        temperature = "float64"
        pressure = "decimal(8,2)"
        status = "string"
        [transform.derive]
        machine = "path:{machine}/*.txt"
        source_file = "file"
        loaded_at = "ingest_time"
        """
}
