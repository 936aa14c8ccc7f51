/// A parsed configuration value with where it was written. Format-neutral: the TOML loader
/// builds it, plugin configurations decode from it.
public struct ConfigNode: Sendable {
    public indirect enum Value: Sendable {
        case string(String)
        case integer(Int)
        case float(Double)
        case bool(Bool)
        /// Dates and times, kept as written.
        case datetime(String)
        case array([ConfigNode])
        /// Keys in the order they were written.
        case table([(key: String, node: ConfigNode)])
    }

    public var value: Value
    /// 1-based line in the file where known.
    public var line: Int?
    /// Key path from the file's root, e.g. `["transform", "1", "columns", "ts"]`.
    public var path: [String]

    public init(_ value: Value, line: Int?, path: [String]) {
        self.value = value
        self.line = line
        self.path = path
    }

    public var typeName: String {
        switch value {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a float"
        case .bool: "a boolean"
        case .datetime: "a date-time"
        case .array: "an array"
        case .table: "a table"
        }
    }

    /// A table's entry, or an array's item by its 0-based index written as text (as in `path`).
    public subscript(key: String) -> ConfigNode? {
        switch value {
        case let .table(entries): return entries.first { $0.key == key }?.node
        case let .array(items): return Int(key).flatMap { items.indices.contains($0) ? items[$0] : nil }
        default: return nil
        }
    }

    public var keys: [String] {
        guard case let .table(entries) = value else { return [] }
        return entries.map(\.key)
    }

    public var stringValue: String? {
        if case let .string(s) = value { return s }
        return nil
    }

    /// The path as written in a pipeline file: `transform[1].columns.ts`.
    public static func render(_ path: [String]) -> String {
        var out = ""
        for part in path {
            if Int(part) != nil { out += "[\(part)]" } else { out += out.isEmpty ? part : ".\(part)" }
        }
        return out
    }
}

/// A mistake in a pipeline file, naming file, line (where known) and key, and saying what was expected.
public struct ConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var keyPath: String
    public var message: String

    public init(file: String, line: Int?, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return keyPath.isEmpty ? "\(location): \(message)" : "\(location): \(keyPath): \(message)"
    }
}

/// A problem a configuration finds in itself in `validate()`; `key` is relative to the plugin's table.
public struct ConfigIssue: Error, Sendable {
    public var key: [String]
    public var message: String

    public init(key: String..., message: String) {
        self.key = key
        self.message = message
    }

    public init(key: [String], message: String) {
        self.key = key
        self.message = message
    }
}
