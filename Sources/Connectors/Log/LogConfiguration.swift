import ConnectorKit

/// `type = "log"` (first `[[transform]]`): one record per line, split by a regular expression with
/// named groups, or as `key=value` pairs.
public struct LogConfiguration: PluginConfiguration {
    public enum Mode: String, ConfigEnum { case regex, kv }

    public var mode: Mode = .regex
    /// For `mode = "regex"`: each named group `(?<name>…)` becomes a column, in order. A line that
    /// does not match goes to the dead-letter output.
    public var pattern: String?
    /// For `mode = "kv"`: the keys to keep, in column order. Missing keys are empty (null after `schema`).
    public var fields: [String]?
    /// For `mode = "kv"`: between a key and its value.
    public var kvSeparator: String = "="
    public var encoding: TextEncoding = .utf8
    public var skipLines: Int = 0
    public var maxRecordBytes: Int = 1 << 20
    /// Blank lines are skipped rather than dead-lettered.
    public var skipBlank: Bool = true

    enum CodingKeys: String, CodingKey {
        case mode, pattern, fields, encoding
        case kvSeparator = "kv_separator"
        case skipLines = "skip_lines"
        case maxRecordBytes = "max_record_bytes"
        case skipBlank = "skip_blank"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mode = try c.decodeIfPresent(Mode.self, forKey: .mode) ?? (try c.decodeIfPresent([String].self, forKey: .fields) != nil && !c.contains(.pattern) ? .kv : .regex)
        pattern = try c.decodeIfPresent(String.self, forKey: .pattern)
        fields = try c.decodeIfPresent([String].self, forKey: .fields)
        kvSeparator = try c.decodeIfPresent(String.self, forKey: .kvSeparator) ?? kvSeparator
        if let e = try c.decodeIfPresent(String.self, forKey: .encoding) {
            guard let enc = TextEncoding(name: e) else {
                throw ConfigIssue(key: "encoding", message: "expected one of \(TextEncoding.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), found \"\(e)\"")
            }
            encoding = enc
        }
        skipLines = try c.decodeIfPresent(Int.self, forKey: .skipLines) ?? skipLines
        maxRecordBytes = try c.decodeIfPresent(Int.self, forKey: .maxRecordBytes) ?? maxRecordBytes
        skipBlank = try c.decodeIfPresent(Bool.self, forKey: .skipBlank) ?? skipBlank
    }

    public func validate() throws {
        switch mode {
        case .regex:
            guard let pattern, !pattern.isEmpty else { throw ConfigIssue(key: "pattern", message: "is required for mode = \"regex\"") }
            do { _ = try Regex(pattern) } catch {
                throw ConfigIssue(key: "pattern", message: "is not a valid regular expression: \(error)")
            }
            if LogConfiguration.groupNames(in: pattern).isEmpty {
                throw ConfigIssue(key: "pattern", message: "has no named group; write (?<name>…) for each column")
            }
        case .kv:
            guard let fields, !fields.isEmpty else { throw ConfigIssue(key: "fields", message: "is required for mode = \"kv\" (the keys to keep)") }
            if kvSeparator.isEmpty { throw ConfigIssue(key: "kv_separator", message: "must not be empty") }
        }
        if maxRecordBytes < 1024 { throw ConfigIssue(key: "max_record_bytes", message: "must be at least 1024") }
        if maxRecordBytes > 64 << 20 { throw ConfigIssue(key: "max_record_bytes", message: "must be at most 67108864 (64 MiB)") }
    }

    /// Named groups in order of their opening parenthesis: `(?<name>` and `(?P<name>`.
    static func groupNames(in pattern: String) -> [String] {
        var names: [String] = []
        let chars = Array(pattern)
        var i = 0
        while i < chars.count {
            if chars[i] == "\\" { i += 2; continue }
            if chars[i] == "(", i + 2 < chars.count, chars[i + 1] == "?" {
                var j = i + 2
                if j < chars.count && chars[j] == "P" { j += 1 }
                if j < chars.count && chars[j] == "<", j + 1 < chars.count, chars[j + 1] != "=" && chars[j + 1] != "!" {
                    if let close = chars[(j + 1)...].firstIndex(of: ">") {
                        names.append(String(chars[(j + 1)..<close]))
                        i = close
                    }
                }
            }
            i += 1
        }
        return names
    }

    public static let sample = #"""
        type = "log"
        pattern = '^(?<ts>\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}) +(?<level>[A-Z]+) +(?<message>.*)$'
        encoding = "windows-1252"
        """#
}

/// The `log` decoder plugin.
public struct LogDecoder: RecordDecoder {
    public let configuration: LogConfiguration

    public init(_ configuration: LogConfiguration) { self.configuration = configuration }

    public func makeSession(file: String, state: String?) throws -> any DecoderSession {
        let scanner = try LineScanner(config: configuration, state: DecoderState.decode(state))
        return TextRecordSession(scanner: scanner, encoding: configuration.encoding)
    }
}
